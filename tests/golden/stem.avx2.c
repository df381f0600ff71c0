/* k000_0: 0 + 1 + 2
 *   Conv2d + BatchNorm2d + ReLU
 *   in0  1x3x16x16
 *   out  1x16x8x8
 *   0.056 MFLOP; NCHW -> NCHW, tile 8 px x 1 block of 8, 1 tile variant, one thread
 */
void k000_0(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 2x1x3x3x3x8 packed */
    const float *restrict bias = params + 432;   /* 16 (+0 zero lanes) */
    /* per output row: the kernel rows whose input row lies inside the image */
    static const int kh_lo[8] = {
        1, 0, 0, 0, 0, 0, 0, 0
    };
    static const int kh_hi[8] = {
        3, 3, 3, 3, 3, 3, 3, 3
    };
    for (int oh = 0; oh < 8; ++oh) {
        for (int og = 0; og < 2; ++og) {
            const float *restrict wg = weight + og * 216;
            const smelt_vf b0 = *(const smelt_vf *)(bias + og * 8);
            /* pixels 0..7: 1 tile of 8, kernel column 0 only for tile pixels 1,2,3,4,5,6,7 */
            {
                smelt_vf a0_0 = b0;
                smelt_vf a1_0 = b0;
                smelt_vf a2_0 = b0;
                smelt_vf a3_0 = b0;
                smelt_vf a4_0 = b0;
                smelt_vf a5_0 = b0;
                smelt_vf a6_0 = b0;
                smelt_vf a7_0 = b0;
                for (int kh = kh_lo[oh]; kh < kh_hi[oh]; ++kh) {
                    const float *restrict xr = in0 + oh * 32 + kh * 16 - 16;
                    const float *restrict wk = wg + kh * 72;
#pragma GCC unroll 4
                    for (int i = 0; i < 3; ++i) {
                        const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 8);
                        const float x0_1 = xr[i * 256 + 1];
                        a1_0 += x0_1 * w0_0;
                        const float x0_2 = xr[i * 256 + 3];
                        a2_0 += x0_2 * w0_0;
                        const float x0_3 = xr[i * 256 + 5];
                        a3_0 += x0_3 * w0_0;
                        const float x0_4 = xr[i * 256 + 7];
                        a4_0 += x0_4 * w0_0;
                        const float x0_5 = xr[i * 256 + 9];
                        a5_0 += x0_5 * w0_0;
                        const float x0_6 = xr[i * 256 + 11];
                        a6_0 += x0_6 * w0_0;
                        const float x0_7 = xr[i * 256 + 13];
                        a7_0 += x0_7 * w0_0;
                    }
#pragma GCC unroll 4
                    for (int i = 0; i < 3; ++i) {
                        const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 8 + 24);
                        const float x1_0 = xr[i * 256];
                        a0_0 += x1_0 * w1_0;
                        const float x1_1 = xr[i * 256 + 2];
                        a1_0 += x1_1 * w1_0;
                        const float x1_2 = xr[i * 256 + 4];
                        a2_0 += x1_2 * w1_0;
                        const float x1_3 = xr[i * 256 + 6];
                        a3_0 += x1_3 * w1_0;
                        const float x1_4 = xr[i * 256 + 8];
                        a4_0 += x1_4 * w1_0;
                        const float x1_5 = xr[i * 256 + 10];
                        a5_0 += x1_5 * w1_0;
                        const float x1_6 = xr[i * 256 + 12];
                        a6_0 += x1_6 * w1_0;
                        const float x1_7 = xr[i * 256 + 14];
                        a7_0 += x1_7 * w1_0;
                    }
#pragma GCC unroll 4
                    for (int i = 0; i < 3; ++i) {
                        const smelt_vf w2_0 = *(const smelt_vf *)(wk + i * 8 + 48);
                        const float x2_0 = xr[i * 256 + 1];
                        a0_0 += x2_0 * w2_0;
                        const float x2_1 = xr[i * 256 + 3];
                        a1_0 += x2_1 * w2_0;
                        const float x2_2 = xr[i * 256 + 5];
                        a2_0 += x2_2 * w2_0;
                        const float x2_3 = xr[i * 256 + 7];
                        a3_0 += x2_3 * w2_0;
                        const float x2_4 = xr[i * 256 + 9];
                        a4_0 += x2_4 * w2_0;
                        const float x2_5 = xr[i * 256 + 11];
                        a5_0 += x2_5 * w2_0;
                        const float x2_6 = xr[i * 256 + 13];
                        a6_0 += x2_6 * w2_0;
                        const float x2_7 = xr[i * 256 + 15];
                        a7_0 += x2_7 * w2_0;
                    }
                }
                {
                    float tile[1][8][8] __attribute__((aligned(64)));
                    *(smelt_vf *)tile[0][0] = a0_0;
                    *(smelt_vf *)tile[0][1] = a1_0;
                    *(smelt_vf *)tile[0][2] = a2_0;
                    *(smelt_vf *)tile[0][3] = a3_0;
                    *(smelt_vf *)tile[0][4] = a4_0;
                    *(smelt_vf *)tile[0][5] = a5_0;
                    *(smelt_vf *)tile[0][6] = a6_0;
                    *(smelt_vf *)tile[0][7] = a7_0;
                    for (int lane = 0; lane < 8; ++lane) {
                        for (int j = 0; j < 8; ++j) {
                            float v = tile[0][j][lane];
                            v = smelt_relu(v);
                            out[og * 512 + lane * 64 + oh * 8 + j] = v;
                        }
                    }
                }
            }
        }
    }
}

/* k001_3: 3
 *   MaxPool2d
 *   in0  1x16x8x8
 *   out  1x16x4x4
 *   0.002 MFLOP; reference max pooling, NCHW, NaN-propagating max over clipped window tables;
 *   threads over (plane, output row)
 */
void k001_3(const float *restrict in0, float *restrict out)
{
    /* per output row / column: first input row / column of the window inside the input,
     * and how many taps lie inside it */
    static const int row_first[4] = {
        0, 1, 3, 5
    };
    static const int row_count[4] = {
        2, 3, 3, 3
    };
    static const int col_first[4] = {
        0, 1, 3, 5
    };
    static const int col_count[4] = {
        2, 3, 3, 3
    };

    for (int p = 0; p < 16; ++p) {
        for (int oh = 0; oh < 4; ++oh) {
            const float *restrict x = in0 + p * 64 + row_first[oh] * 8;
            for (int ow = 0; ow < 4; ++ow) {
                const float *restrict xw = x + col_first[ow];
                float best = -INFINITY;
                for (int i = 0; i < row_count[oh]; ++i)
                    for (int j = 0; j < col_count[ow]; ++j)
                        best = smelt_max_nan(best, xw[i * 8 + j]);
                out[p * 16 + oh * 4 + ow] = best;
            }
        }
    }
}

#include <omp.h>
#include <stdlib.h>
#ifdef __linux__
#include <sched.h>
/* Pin each OpenMP worker thread (never the caller's) to its own CPU, once. Left alone,
 * libgomp's sleeping workers are woken on the caller's CPU and two threads share one core.
 * Skipped when the user chose a binding (OMP_PROC_BIND / OMP_PLACES) or SMELT_PIN=0. */
static void smelt_pin_workers(int nthreads)
{
    static __thread int pinned;
    static int enabled = -1;
    if (enabled < 0) {
        const char *pin = getenv("SMELT_PIN");
        enabled = !getenv("OMP_PROC_BIND") && !getenv("OMP_PLACES") && !(pin && pin[0] == '0');
    }
    if (!enabled || nthreads < 2)
        return;
#pragma omp parallel num_threads(nthreads)
    {
        const int t = omp_get_thread_num();
        cpu_set_t allowed, one;
        if (t > 0 && !pinned && sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
            const int wanted = t % CPU_COUNT(&allowed);
            for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
                if (CPU_ISSET(cpu, &allowed) && seen++ == wanted) {
                    CPU_ZERO(&one);
                    CPU_SET(cpu, &one);
                    sched_setaffinity(0, sizeof one, &one);
                    break;
                }
            }
            pinned = 1;
        }
    }
}
#endif

/* smelt_forward: runs the 2 kernels in order.
 * Arena: 1024 floats (4.0 KiB) of
 * intermediates, owned by the caller.
 */
void smelt_forward(const float *restrict in0, float *restrict out0, const float *restrict params,
                   float *restrict arena, int nthreads)
{
#ifdef __linux__
    smelt_pin_workers(nthreads);
#endif
    k000_0(in0, arena, params);
    k001_3(arena, out0);
}
