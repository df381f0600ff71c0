/* k000_conv1: conv1 + bn1 + relu
 *   Conv2d + BatchNorm2d + ReLU
 *   in0  1x8x6x6
 *   out  1x8x6x6 (NCHW4c: 1x2x6x6x4)
 *   0.042 MFLOP; NCHW -> NCHW4c, tile 6 px x 2 blocks of 4, 1 tile variant, one thread
 */
void k000_conv1(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 2x1x3x3x8x4 packed */
    const float *restrict bias = params + 576;   /* 8 (+0 zero lanes) */
    /* per output row: the kernel rows whose input row lies inside the image */
    static const int kh_lo[6] = {
        1, 0, 0, 0, 0, 0
    };
    static const int kh_hi[6] = {
        3, 3, 3, 3, 3, 2
    };
    for (int oh = 0; oh < 6; ++oh) {
        const smelt_vf b0 = *(const smelt_vf *)bias;
        const smelt_vf b1 = *(const smelt_vf *)(bias + 4);
        /* pixels 0..5: 1 tile of 6, kernel column 0 only for tile pixels 1,2,3,4,5, kernel
         * column 2 only for tile pixels 0,1,2,3,4 */
        {
            smelt_vf a0_0 = b0, a0_1 = b1;
            smelt_vf a1_0 = b0, a1_1 = b1;
            smelt_vf a2_0 = b0, a2_1 = b1;
            smelt_vf a3_0 = b0, a3_1 = b1;
            smelt_vf a4_0 = b0, a4_1 = b1;
            smelt_vf a5_0 = b0, a5_1 = b1;
            for (int kh = kh_lo[oh]; kh < kh_hi[oh]; ++kh) {
                const float *restrict xr = in0 + oh * 6 + kh * 6 - 6;
                const float *restrict wk = weight + kh * 96;
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 4);
                    const smelt_vf w0_1 = *(const smelt_vf *)(wk + i * 4 + 288);
                    const float x0_1 = xr[i * 36];
                    a1_0 += x0_1 * w0_0;
                    a1_1 += x0_1 * w0_1;
                    const float x0_2 = xr[i * 36 + 1];
                    a2_0 += x0_2 * w0_0;
                    a2_1 += x0_2 * w0_1;
                    const float x0_3 = xr[i * 36 + 2];
                    a3_0 += x0_3 * w0_0;
                    a3_1 += x0_3 * w0_1;
                    const float x0_4 = xr[i * 36 + 3];
                    a4_0 += x0_4 * w0_0;
                    a4_1 += x0_4 * w0_1;
                    const float x0_5 = xr[i * 36 + 4];
                    a5_0 += x0_5 * w0_0;
                    a5_1 += x0_5 * w0_1;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 4 + 32);
                    const smelt_vf w1_1 = *(const smelt_vf *)(wk + i * 4 + 320);
                    const float x1_0 = xr[i * 36];
                    a0_0 += x1_0 * w1_0;
                    a0_1 += x1_0 * w1_1;
                    const float x1_1 = xr[i * 36 + 1];
                    a1_0 += x1_1 * w1_0;
                    a1_1 += x1_1 * w1_1;
                    const float x1_2 = xr[i * 36 + 2];
                    a2_0 += x1_2 * w1_0;
                    a2_1 += x1_2 * w1_1;
                    const float x1_3 = xr[i * 36 + 3];
                    a3_0 += x1_3 * w1_0;
                    a3_1 += x1_3 * w1_1;
                    const float x1_4 = xr[i * 36 + 4];
                    a4_0 += x1_4 * w1_0;
                    a4_1 += x1_4 * w1_1;
                    const float x1_5 = xr[i * 36 + 5];
                    a5_0 += x1_5 * w1_0;
                    a5_1 += x1_5 * w1_1;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w2_0 = *(const smelt_vf *)(wk + i * 4 + 64);
                    const smelt_vf w2_1 = *(const smelt_vf *)(wk + i * 4 + 352);
                    const float x2_0 = xr[i * 36 + 1];
                    a0_0 += x2_0 * w2_0;
                    a0_1 += x2_0 * w2_1;
                    const float x2_1 = xr[i * 36 + 2];
                    a1_0 += x2_1 * w2_0;
                    a1_1 += x2_1 * w2_1;
                    const float x2_2 = xr[i * 36 + 3];
                    a2_0 += x2_2 * w2_0;
                    a2_1 += x2_2 * w2_1;
                    const float x2_3 = xr[i * 36 + 4];
                    a3_0 += x2_3 * w2_0;
                    a3_1 += x2_3 * w2_1;
                    const float x2_4 = xr[i * 36 + 5];
                    a4_0 += x2_4 * w2_0;
                    a4_1 += x2_4 * w2_1;
                }
            }
            {
                float tile[2][6][4] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[1][0] = a0_1;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[1][1] = a1_1;
                *(smelt_vf *)tile[0][2] = a2_0;
                *(smelt_vf *)tile[1][2] = a2_1;
                *(smelt_vf *)tile[0][3] = a3_0;
                *(smelt_vf *)tile[1][3] = a3_1;
                *(smelt_vf *)tile[0][4] = a4_0;
                *(smelt_vf *)tile[1][4] = a4_1;
                *(smelt_vf *)tile[0][5] = a5_0;
                *(smelt_vf *)tile[1][5] = a5_1;
                for (int o = 0; o < 2; ++o) {
                    for (int j = 0; j < 6; ++j) {
                        for (int lane = 0; lane < 4; ++lane) {
                            float v = tile[o][j][lane];
                            v = smelt_relu(v);
                            out[o * 144 + oh * 24 + j * 4 + lane] = v;
                        }
                    }
                }
            }
        }
    }
}

/* k001_conv2: conv2 + bn2 + add + relu
 *   Conv2d + BatchNorm2d + Add + ReLU
 *   in0  1x8x6x6 (NCHW4c: 1x2x6x6x4)
 *   in1  1x8x6x6
 *   out  1x8x6x6
 *   0.042 MFLOP; NCHW4c -> NCHW, tile 6 px x 2 blocks of 4, 1 tile variant, one thread
 */
void k001_conv2(const float *restrict in0, const float *restrict in1, float *restrict out,
                const float *restrict params)
{
    const float *restrict weight = params + 592;   /* 2x2x3x3x4x4 packed */
    const float *restrict bias = params + 1168;   /* 8 (+0 zero lanes) */
    /* per output row: the kernel rows whose input row lies inside the image */
    static const int kh_lo[6] = {
        1, 0, 0, 0, 0, 0
    };
    static const int kh_hi[6] = {
        3, 3, 3, 3, 3, 2
    };
    for (int oh = 0; oh < 6; ++oh) {
        const smelt_vf b0 = *(const smelt_vf *)bias;
        const smelt_vf b1 = *(const smelt_vf *)(bias + 4);
        /* pixels 0..5: 1 tile of 6, kernel column 0 only for tile pixels 1,2,3,4,5, kernel
         * column 2 only for tile pixels 0,1,2,3,4 */
        {
            smelt_vf a0_0 = b0, a0_1 = b1;
            smelt_vf a1_0 = b0, a1_1 = b1;
            smelt_vf a2_0 = b0, a2_1 = b1;
            smelt_vf a3_0 = b0, a3_1 = b1;
            smelt_vf a4_0 = b0, a4_1 = b1;
            smelt_vf a5_0 = b0, a5_1 = b1;
            for (int icb = 0; icb < 2; ++icb) {
                const float *restrict xb = in0 + icb * 144;
                const float *restrict wb = weight + icb * 144;
                for (int kh = kh_lo[oh]; kh < kh_hi[oh]; ++kh) {
                    const float *restrict xr = xb + oh * 24 + kh * 24 - 24;
                    const float *restrict wk = wb + kh * 48;
#pragma GCC unroll 4
                    for (int i = 0; i < 4; ++i) {
                        const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 4);
                        const smelt_vf w0_1 = *(const smelt_vf *)(wk + i * 4 + 288);
                        const float x0_1 = xr[i];
                        a1_0 += x0_1 * w0_0;
                        a1_1 += x0_1 * w0_1;
                        const float x0_2 = xr[i + 4];
                        a2_0 += x0_2 * w0_0;
                        a2_1 += x0_2 * w0_1;
                        const float x0_3 = xr[i + 8];
                        a3_0 += x0_3 * w0_0;
                        a3_1 += x0_3 * w0_1;
                        const float x0_4 = xr[i + 12];
                        a4_0 += x0_4 * w0_0;
                        a4_1 += x0_4 * w0_1;
                        const float x0_5 = xr[i + 16];
                        a5_0 += x0_5 * w0_0;
                        a5_1 += x0_5 * w0_1;
                    }
#pragma GCC unroll 4
                    for (int i = 0; i < 4; ++i) {
                        const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 4 + 16);
                        const smelt_vf w1_1 = *(const smelt_vf *)(wk + i * 4 + 304);
                        const float x1_0 = xr[i];
                        a0_0 += x1_0 * w1_0;
                        a0_1 += x1_0 * w1_1;
                        const float x1_1 = xr[i + 4];
                        a1_0 += x1_1 * w1_0;
                        a1_1 += x1_1 * w1_1;
                        const float x1_2 = xr[i + 8];
                        a2_0 += x1_2 * w1_0;
                        a2_1 += x1_2 * w1_1;
                        const float x1_3 = xr[i + 12];
                        a3_0 += x1_3 * w1_0;
                        a3_1 += x1_3 * w1_1;
                        const float x1_4 = xr[i + 16];
                        a4_0 += x1_4 * w1_0;
                        a4_1 += x1_4 * w1_1;
                        const float x1_5 = xr[i + 20];
                        a5_0 += x1_5 * w1_0;
                        a5_1 += x1_5 * w1_1;
                    }
#pragma GCC unroll 4
                    for (int i = 0; i < 4; ++i) {
                        const smelt_vf w2_0 = *(const smelt_vf *)(wk + i * 4 + 32);
                        const smelt_vf w2_1 = *(const smelt_vf *)(wk + i * 4 + 320);
                        const float x2_0 = xr[i + 4];
                        a0_0 += x2_0 * w2_0;
                        a0_1 += x2_0 * w2_1;
                        const float x2_1 = xr[i + 8];
                        a1_0 += x2_1 * w2_0;
                        a1_1 += x2_1 * w2_1;
                        const float x2_2 = xr[i + 12];
                        a2_0 += x2_2 * w2_0;
                        a2_1 += x2_2 * w2_1;
                        const float x2_3 = xr[i + 16];
                        a3_0 += x2_3 * w2_0;
                        a3_1 += x2_3 * w2_1;
                        const float x2_4 = xr[i + 20];
                        a4_0 += x2_4 * w2_0;
                        a4_1 += x2_4 * w2_1;
                    }
                }
            }
            {
                float tile[2][6][4] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[1][0] = a0_1;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[1][1] = a1_1;
                *(smelt_vf *)tile[0][2] = a2_0;
                *(smelt_vf *)tile[1][2] = a2_1;
                *(smelt_vf *)tile[0][3] = a3_0;
                *(smelt_vf *)tile[1][3] = a3_1;
                *(smelt_vf *)tile[0][4] = a4_0;
                *(smelt_vf *)tile[1][4] = a4_1;
                *(smelt_vf *)tile[0][5] = a5_0;
                *(smelt_vf *)tile[1][5] = a5_1;
                for (int o = 0; o < 2; ++o) {
                    for (int lane = 0; lane < 4; ++lane) {
                        for (int j = 0; j < 6; ++j) {
                            float v = tile[o][j][lane];
                            v = v + in1[o * 144 + lane * 36 + oh * 6 + j];
                            v = smelt_relu(v);
                            out[o * 144 + lane * 36 + oh * 6 + j] = v;
                        }
                    }
                }
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
 * Arena: 288 floats (1.1 KiB) of
 * intermediates, owned by the caller.
 */
void smelt_forward(const float *restrict in0, float *restrict out0, const float *restrict params,
                   float *restrict arena, int nthreads)
{
#ifdef __linux__
    smelt_pin_workers(nthreads);
#endif
    k000_conv1(in0, arena, params);
    k001_conv2(arena, in0, out0, params);
}
