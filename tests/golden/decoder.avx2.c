/* k000_input_to_NCHW8c: input.to_NCHW8c
 *   Reorder
 *   in0  1x16x3x3
 *   out  1x16x3x3 (NCHW8c: 1x2x3x3x8)
 *   0.000 MFLOP; NCHW -> NCHW8c, threads over (n, channel block)
 */
void k000_input_to_NCHW8c(const float *restrict in0, float *restrict out)
{
    for (int cb = 0; cb < 2; ++cb) {
        for (int p = 0; p < 9; ++p) {
            for (int lane = 0; lane < 8; ++lane) {
                const float x = in0[cb * 72 + lane * 9 + p];
                out[cb * 72 + p * 8 + lane] = x;
            }
        }
    }
}

/* k001_0: 0 + 1
 *   ConvTranspose2d + Tanh
 *   in0  1x16x3x3 (NCHW8c: 1x2x3x3x8)
 *   out  1x8x6x6 (NCHW8c: 1x1x6x6x8)
 *   0.037 MFLOP; NCHW8c -> NCHW8c, 4 output phases, tile 3 px x 1 blocks of 8, threads over (n,
 *   row, block group)
 */
void k001_0(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 1x2x4x4x8x1x8, taps by phase */
    const float *restrict bias = params + 2048;   /* 8 */
    /* per output row: the input row and phase-major kernel row of its first tap */
    static const int ih0[6] = {
        0, 1, 1, 2, 2, 3
    };
    static const int kp0[6] = {
        2, 0, 2, 0, 2, 0
    };
    /* per output row: the range of its taps whose input row lies inside the image */
    static const int m_lo[6] = {
        0, 0, 0, 0, 0, 1
    };
    static const int m_hi[6] = {
        1, 2, 2, 2, 2, 2
    };
    /* output rows in work order, phase by phase */
    static const int rows[6] = {
        1, 3, 5, 0, 2, 4
    };
    for (int gr = 0; gr < 6; ++gr) {
        const smelt_vf b0 = *(const smelt_vf *)bias;
        const int oh = rows[gr];
        const float *restrict xrow = in0 + ih0[oh] * 24;
        const float *restrict wrow = weight + kp0[oh] * 256;
        /* output columns 1..5 step 2: 1 tile of 3, kernel column 0 only for tile pixels 0,1 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            for (int icb = 0; icb < 2; ++icb) {
                for (int m = m_lo[oh]; m < m_hi[oh]; ++m) {
                    const float *restrict xr = xrow + icb * 72 - m * 24;
                    const float *restrict wk = wrow + icb * 1024 + m * 256;
#pragma GCC unroll 4
                    for (int i = 0; i < 8; ++i) {
                        const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 8);
                        const float x0_0 = xr[i + 8];
                        a0_0 += x0_0 * w0_0;
                        const float x0_1 = xr[i + 16];
                        a1_0 += x0_1 * w0_0;
                        const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 8 + 64);
                        const float x1_0 = xr[i];
                        a0_0 += x1_0 * w1_0;
                        const float x1_1 = xr[i + 8];
                        a1_0 += x1_1 * w1_0;
                        const float x1_2 = xr[i + 16];
                        a2_0 += x1_2 * w1_0;
                    }
                }
            }
            {
                float tile[1][3][8] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                for (int j = 0; j < 3; ++j) {
                    for (int lane = 0; lane < 8; ++lane) {
                        float v = tile[0][j][lane];
                        v = smelt_tanh(v);
                        out[oh * 48 + j * 16 + lane + 8] = v;
                    }
                }
            }
        }
        /* output columns 0..4 step 2: 1 tile of 3, kernel column 3 only for tile pixels 1,2 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            for (int icb = 0; icb < 2; ++icb) {
                for (int m = m_lo[oh]; m < m_hi[oh]; ++m) {
                    const float *restrict xr = xrow + icb * 72 - m * 24;
                    const float *restrict wk = wrow + icb * 1024 + m * 256;
#pragma GCC unroll 4
                    for (int i = 0; i < 8; ++i) {
                        const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 8 + 128);
                        const float x0_0 = xr[i];
                        a0_0 += x0_0 * w0_0;
                        const float x0_1 = xr[i + 8];
                        a1_0 += x0_1 * w0_0;
                        const float x0_2 = xr[i + 16];
                        a2_0 += x0_2 * w0_0;
                        const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 8 + 192);
                        const float x1_1 = xr[i];
                        a1_0 += x1_1 * w1_0;
                        const float x1_2 = xr[i + 8];
                        a2_0 += x1_2 * w1_0;
                    }
                }
            }
            {
                float tile[1][3][8] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                for (int j = 0; j < 3; ++j) {
                    for (int lane = 0; lane < 8; ++lane) {
                        float v = tile[0][j][lane];
                        v = smelt_tanh(v);
                        out[oh * 48 + j * 16 + lane] = v;
                    }
                }
            }
        }
    }
}

/* k002_2: 2
 *   Upsample
 *   in0  1x8x6x6 (NCHW8c: 1x1x6x6x8)
 *   out  1x8x12x12 (NCHW8c: 1x1x12x12x8)
 *   0.000 MFLOP; NCHW8c, nearest, one vector copy per pixel from index tables; threads over (n,
 *   channel block, output row)
 */
void k002_2(const float *restrict in0, float *restrict out)
{
    /* source row / column of every output row / column */
    static const int rows[12] = {
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5
    };
    static const int cols[12] = {
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5
    };

    for (int oh = 0; oh < 12; ++oh) {
        const float *restrict x = in0 + rows[oh] * 48;
        for (int ow = 0; ow < 12; ++ow) {
            const smelt_vf y = *(const smelt_vfu *)(x + cols[ow] * 8);
            *(smelt_vfu *)(out + oh * 96 + ow * 8) = y;
        }
    }
}

/* k003_3: 3 + 4
 *   Conv2d + Sigmoid
 *   in0  1x8x12x12 (NCHW8c: 1x1x12x12x8)
 *   out  1x3x12x12
 *   0.063 MFLOP; NCHW8c -> NCHW, tile 12 px x 1 block of 8, 1 tile variant, one thread
 */
void k003_3(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params + 2064;   /* 1x1x3x3x8x8 packed */
    const float *restrict bias = params + 2640;   /* 3 (+5 zero lanes) */
    /* per output row: the kernel rows whose input row lies inside the image */
    static const int kh_lo[12] = {
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    };
    static const int kh_hi[12] = {
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2
    };
    for (int oh = 0; oh < 12; ++oh) {
        const smelt_vf b0 = *(const smelt_vf *)bias;
        /* pixels 0..11: 1 tile of 12, kernel column 0 only for tile pixels
         * 1,2,3,4,5,6,7,8,9,10,11, kernel column 2 only for tile pixels
         * 0,1,2,3,4,5,6,7,8,9,10 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            smelt_vf a3_0 = b0;
            smelt_vf a4_0 = b0;
            smelt_vf a5_0 = b0;
            smelt_vf a6_0 = b0;
            smelt_vf a7_0 = b0;
            smelt_vf a8_0 = b0;
            smelt_vf a9_0 = b0;
            smelt_vf a10_0 = b0;
            smelt_vf a11_0 = b0;
            for (int kh = kh_lo[oh]; kh < kh_hi[oh]; ++kh) {
                const float *restrict xr = in0 + oh * 96 + kh * 96 - 96;
                const float *restrict wk = weight + kh * 192;
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 8);
                    const float x0_1 = xr[i];
                    a1_0 += x0_1 * w0_0;
                    const float x0_2 = xr[i + 8];
                    a2_0 += x0_2 * w0_0;
                    const float x0_3 = xr[i + 16];
                    a3_0 += x0_3 * w0_0;
                    const float x0_4 = xr[i + 24];
                    a4_0 += x0_4 * w0_0;
                    const float x0_5 = xr[i + 32];
                    a5_0 += x0_5 * w0_0;
                    const float x0_6 = xr[i + 40];
                    a6_0 += x0_6 * w0_0;
                    const float x0_7 = xr[i + 48];
                    a7_0 += x0_7 * w0_0;
                    const float x0_8 = xr[i + 56];
                    a8_0 += x0_8 * w0_0;
                    const float x0_9 = xr[i + 64];
                    a9_0 += x0_9 * w0_0;
                    const float x0_10 = xr[i + 72];
                    a10_0 += x0_10 * w0_0;
                    const float x0_11 = xr[i + 80];
                    a11_0 += x0_11 * w0_0;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 8 + 64);
                    const float x1_0 = xr[i];
                    a0_0 += x1_0 * w1_0;
                    const float x1_1 = xr[i + 8];
                    a1_0 += x1_1 * w1_0;
                    const float x1_2 = xr[i + 16];
                    a2_0 += x1_2 * w1_0;
                    const float x1_3 = xr[i + 24];
                    a3_0 += x1_3 * w1_0;
                    const float x1_4 = xr[i + 32];
                    a4_0 += x1_4 * w1_0;
                    const float x1_5 = xr[i + 40];
                    a5_0 += x1_5 * w1_0;
                    const float x1_6 = xr[i + 48];
                    a6_0 += x1_6 * w1_0;
                    const float x1_7 = xr[i + 56];
                    a7_0 += x1_7 * w1_0;
                    const float x1_8 = xr[i + 64];
                    a8_0 += x1_8 * w1_0;
                    const float x1_9 = xr[i + 72];
                    a9_0 += x1_9 * w1_0;
                    const float x1_10 = xr[i + 80];
                    a10_0 += x1_10 * w1_0;
                    const float x1_11 = xr[i + 88];
                    a11_0 += x1_11 * w1_0;
                }
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w2_0 = *(const smelt_vf *)(wk + i * 8 + 128);
                    const float x2_0 = xr[i + 8];
                    a0_0 += x2_0 * w2_0;
                    const float x2_1 = xr[i + 16];
                    a1_0 += x2_1 * w2_0;
                    const float x2_2 = xr[i + 24];
                    a2_0 += x2_2 * w2_0;
                    const float x2_3 = xr[i + 32];
                    a3_0 += x2_3 * w2_0;
                    const float x2_4 = xr[i + 40];
                    a4_0 += x2_4 * w2_0;
                    const float x2_5 = xr[i + 48];
                    a5_0 += x2_5 * w2_0;
                    const float x2_6 = xr[i + 56];
                    a6_0 += x2_6 * w2_0;
                    const float x2_7 = xr[i + 64];
                    a7_0 += x2_7 * w2_0;
                    const float x2_8 = xr[i + 72];
                    a8_0 += x2_8 * w2_0;
                    const float x2_9 = xr[i + 80];
                    a9_0 += x2_9 * w2_0;
                    const float x2_10 = xr[i + 88];
                    a10_0 += x2_10 * w2_0;
                }
            }
            {
                float tile[1][12][8] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                *(smelt_vf *)tile[0][3] = a3_0;
                *(smelt_vf *)tile[0][4] = a4_0;
                *(smelt_vf *)tile[0][5] = a5_0;
                *(smelt_vf *)tile[0][6] = a6_0;
                *(smelt_vf *)tile[0][7] = a7_0;
                *(smelt_vf *)tile[0][8] = a8_0;
                *(smelt_vf *)tile[0][9] = a9_0;
                *(smelt_vf *)tile[0][10] = a10_0;
                *(smelt_vf *)tile[0][11] = a11_0;
                for (int lane = 0; lane < 8; ++lane) {
                    if (lane >= 3)
                        break;
                    for (int j = 0; j < 12; ++j) {
                        out[lane * 144 + oh * 12 + j] = tile[0][j][lane];
                    }
                }
            }
        }
        for (int i = 0; i < 3; ++i) {
            for (int col = 0; col < 12; ++col) {
                float v = out[i * 144 + oh * 12 + col];
                v = smelt_sigmoid(v);
                out[i * 144 + oh * 12 + col] = v;
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

/* smelt_forward: runs the 4 kernels in order.
 * Arena: 1584 floats (6.2 KiB) of
 * intermediates, owned by the caller.
 */
void smelt_forward(const float *restrict in0, float *restrict out0, const float *restrict params,
                   float *restrict arena, int nthreads)
{
#ifdef __linux__
    smelt_pin_workers(nthreads);
#endif
    k000_input_to_NCHW8c(in0, arena);
    k001_0(arena, arena + 144, params);
    k002_2(arena + 144, arena + 432);
    k003_3(arena + 432, out0, params);
}
