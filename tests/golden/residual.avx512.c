/* k000_conv1: conv1 + bn1 + relu
 *   Conv2d + BatchNorm2d + ReLU
 *   in0  1x8x6x6
 *   out  1x8x6x6 (NCHW16c: 1x1x6x6x16)
 *   0.042 MFLOP; NCHW -> NCHW16c, tile 6 px x 1 block of 16, 1 tile variant, one thread
 */
void k000_conv1(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 1x1x3x3x8x16 packed */
    const float *restrict bias = params + 1152;   /* 8 (+8 zero lanes) */
    /* per output row: the kernel rows whose input row lies inside the image */
    static const int kh_lo[6] = {
        1, 0, 0, 0, 0, 0
    };
    static const int kh_hi[6] = {
        3, 3, 3, 3, 3, 2
    };
    for (int oh = 0; oh < 6; ++oh) {
        const smelt_vf b0 = *(const smelt_vf *)bias;
        /* pixels 0..5: 1 tile of 6, kernel column 0 only for tile pixels 1,2,3,4,5, kernel
         * column 2 only for tile pixels 0,1,2,3,4 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            smelt_vf a3_0 = b0;
            smelt_vf a4_0 = b0;
            smelt_vf a5_0 = b0;
            for (int kh = kh_lo[oh]; kh < kh_hi[oh]; ++kh) {
                const float *restrict xr = in0 + oh * 6 + kh * 6 - 6;
                const float *restrict wk = weight + kh * 384;
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 16);
                    const float x0_1 = xr[i * 36];
                    a1_0 += x0_1 * w0_0;
                    const float x0_2 = xr[i * 36 + 1];
                    a2_0 += x0_2 * w0_0;
                    const float x0_3 = xr[i * 36 + 2];
                    a3_0 += x0_3 * w0_0;
                    const float x0_4 = xr[i * 36 + 3];
                    a4_0 += x0_4 * w0_0;
                    const float x0_5 = xr[i * 36 + 4];
                    a5_0 += x0_5 * w0_0;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 16 + 128);
                    const float x1_0 = xr[i * 36];
                    a0_0 += x1_0 * w1_0;
                    const float x1_1 = xr[i * 36 + 1];
                    a1_0 += x1_1 * w1_0;
                    const float x1_2 = xr[i * 36 + 2];
                    a2_0 += x1_2 * w1_0;
                    const float x1_3 = xr[i * 36 + 3];
                    a3_0 += x1_3 * w1_0;
                    const float x1_4 = xr[i * 36 + 4];
                    a4_0 += x1_4 * w1_0;
                    const float x1_5 = xr[i * 36 + 5];
                    a5_0 += x1_5 * w1_0;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w2_0 = *(const smelt_vf *)(wk + i * 16 + 256);
                    const float x2_0 = xr[i * 36 + 1];
                    a0_0 += x2_0 * w2_0;
                    const float x2_1 = xr[i * 36 + 2];
                    a1_0 += x2_1 * w2_0;
                    const float x2_2 = xr[i * 36 + 3];
                    a2_0 += x2_2 * w2_0;
                    const float x2_3 = xr[i * 36 + 4];
                    a3_0 += x2_3 * w2_0;
                    const float x2_4 = xr[i * 36 + 5];
                    a4_0 += x2_4 * w2_0;
                }
            }
            {
                float tile[1][6][16] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                *(smelt_vf *)tile[0][3] = a3_0;
                *(smelt_vf *)tile[0][4] = a4_0;
                *(smelt_vf *)tile[0][5] = a5_0;
                for (int j = 0; j < 6; ++j) {
                    for (int lane = 0; lane < 16; ++lane) {
                        float v = tile[0][j][lane];
                        v = smelt_relu(v);
                        v = lane < 8 ? v : 0.0f;    /* padded lanes stay zero */
                        out[oh * 96 + j * 16 + lane] = v;
                    }
                }
            }
        }
    }
}

/* k001_conv2: conv2 + bn2 + add + relu
 *   Conv2d + BatchNorm2d + Add + ReLU
 *   in0  1x8x6x6 (NCHW16c: 1x1x6x6x16)
 *   in1  1x8x6x6
 *   out  1x8x6x6
 *   0.042 MFLOP; NCHW16c -> NCHW, tile 6 px x 1 block of 16, 1 tile variant, one thread
 */
void k001_conv2(const float *restrict in0, const float *restrict in1, float *restrict out,
                const float *restrict params)
{
    const float *restrict weight = params + 1168;   /* 1x1x3x3x16x16 packed */
    const float *restrict bias = params + 3472;   /* 8 (+8 zero lanes) */
    /* per output row: the kernel rows whose input row lies inside the image */
    static const int kh_lo[6] = {
        1, 0, 0, 0, 0, 0
    };
    static const int kh_hi[6] = {
        3, 3, 3, 3, 3, 2
    };
    for (int oh = 0; oh < 6; ++oh) {
        const smelt_vf b0 = *(const smelt_vf *)bias;
        /* pixels 0..5: 1 tile of 6, kernel column 0 only for tile pixels 1,2,3,4,5, kernel
         * column 2 only for tile pixels 0,1,2,3,4 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            smelt_vf a3_0 = b0;
            smelt_vf a4_0 = b0;
            smelt_vf a5_0 = b0;
            for (int kh = kh_lo[oh]; kh < kh_hi[oh]; ++kh) {
                const float *restrict xr = in0 + oh * 96 + kh * 96 - 96;
                const float *restrict wk = weight + kh * 768;
#pragma GCC unroll 4
                for (int i = 0; i < 16; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 16);
                    const float x0_1 = xr[i];
                    a1_0 += x0_1 * w0_0;
                    const float x0_2 = xr[i + 16];
                    a2_0 += x0_2 * w0_0;
                    const float x0_3 = xr[i + 32];
                    a3_0 += x0_3 * w0_0;
                    const float x0_4 = xr[i + 48];
                    a4_0 += x0_4 * w0_0;
                    const float x0_5 = xr[i + 64];
                    a5_0 += x0_5 * w0_0;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 16; ++i) {
                    const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 16 + 256);
                    const float x1_0 = xr[i];
                    a0_0 += x1_0 * w1_0;
                    const float x1_1 = xr[i + 16];
                    a1_0 += x1_1 * w1_0;
                    const float x1_2 = xr[i + 32];
                    a2_0 += x1_2 * w1_0;
                    const float x1_3 = xr[i + 48];
                    a3_0 += x1_3 * w1_0;
                    const float x1_4 = xr[i + 64];
                    a4_0 += x1_4 * w1_0;
                    const float x1_5 = xr[i + 80];
                    a5_0 += x1_5 * w1_0;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 16; ++i) {
                    const smelt_vf w2_0 = *(const smelt_vf *)(wk + i * 16 + 512);
                    const float x2_0 = xr[i + 16];
                    a0_0 += x2_0 * w2_0;
                    const float x2_1 = xr[i + 32];
                    a1_0 += x2_1 * w2_0;
                    const float x2_2 = xr[i + 48];
                    a2_0 += x2_2 * w2_0;
                    const float x2_3 = xr[i + 64];
                    a3_0 += x2_3 * w2_0;
                    const float x2_4 = xr[i + 80];
                    a4_0 += x2_4 * w2_0;
                }
            }
            {
                float tile[1][6][16] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                *(smelt_vf *)tile[0][3] = a3_0;
                *(smelt_vf *)tile[0][4] = a4_0;
                *(smelt_vf *)tile[0][5] = a5_0;
                for (int lane = 0; lane < 16; ++lane) {
                    if (lane >= 8)
                        break;
                    for (int j = 0; j < 6; ++j) {
                        float v = tile[0][j][lane];
                        v = v + in1[lane * 36 + oh * 6 + j];
                        v = smelt_relu(v);
                        out[lane * 36 + oh * 6 + j] = v;
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
 * Arena: 576 floats (2.2 KiB) of
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
