/* k000_0: 0
 *   Conv2d
 *   in0  2x8x5x5
 *   out  2x16x5x5 (NCHW16c: 2x1x5x5x16)
 *   0.013 MFLOP; NCHW -> NCHW16c, tile 5 px x 1 block of 16, 1 tile variant, one thread
 */
void k000_0(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 1x1x1x1x8x16 packed */
    const float *restrict bias = params + 128;   /* 16 (+0 zero lanes) */
    for (int n = 0; n < 2; ++n) {
        for (int oh = 0; oh < 5; ++oh) {
            const smelt_vf b0 = *(const smelt_vf *)bias;
            /* pixels 0..4: 1 tile of 5 */
            {
                smelt_vf a0_0 = b0;
                smelt_vf a1_0 = b0;
                smelt_vf a2_0 = b0;
                smelt_vf a3_0 = b0;
                smelt_vf a4_0 = b0;
                const float *restrict xb = in0 + n * 200;
                const float *restrict xr = xb + oh * 5;
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(weight + i * 16);
                    const float x0_0 = xr[i * 25];
                    a0_0 += x0_0 * w0_0;
                    const float x0_1 = xr[i * 25 + 1];
                    a1_0 += x0_1 * w0_0;
                    const float x0_2 = xr[i * 25 + 2];
                    a2_0 += x0_2 * w0_0;
                    const float x0_3 = xr[i * 25 + 3];
                    a3_0 += x0_3 * w0_0;
                    const float x0_4 = xr[i * 25 + 4];
                    a4_0 += x0_4 * w0_0;
                }
                *(smelt_vfu *)(out + n * 400 + oh * 80) = a0_0;
                *(smelt_vfu *)(out + n * 400 + oh * 80 + 16) = a1_0;
                *(smelt_vfu *)(out + n * 400 + oh * 80 + 32) = a2_0;
                *(smelt_vfu *)(out + n * 400 + oh * 80 + 48) = a3_0;
                *(smelt_vfu *)(out + n * 400 + oh * 80 + 64) = a4_0;
            }
        }
    }
}

/* k001_1: 1
 *   AdaptiveAvgPool2d
 *   in0  2x16x5x5 (NCHW16c: 2x1x5x5x16)
 *   out  2x16x1x1 (NCHW16c: 2x1x1x1x16)
 *   0.001 MFLOP; NCHW16c, global vector sum, 4 accumulators over 16 channels per tap, window
 *   tables; threads over (n, channel block)
 */
void k001_1(const float *restrict in0, float *restrict out)
{
    const smelt_vf zero = {0};
    for (int n = 0; n < 2; ++n) {
        const float *restrict x = in0 + n * 400;
        smelt_vf s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        int p = 0;
        for (; p + 4 <= 25; p += 4) {
            s0 += *(const smelt_vfu *)(x + p * 16);
            s1 += *(const smelt_vfu *)(x + p * 16 + 16);
            s2 += *(const smelt_vfu *)(x + p * 16 + 32);
            s3 += *(const smelt_vfu *)(x + p * 16 + 48);
        }
        for (; p < 25; ++p)
            s0 += *(const smelt_vfu *)(x + p * 16);
        const smelt_vf mean = ((s0 + s1) + (s2 + s3)) / 25.0f;
        *(smelt_vfu *)(out + n * 16) = mean;
    }
}

/* k002_3: 3
 *   Linear
 *   in0  2x16 (NCHW16c: 2x16)
 *   out  2x10
 *   0.001 MFLOP; reads NCHW16c flattened (16 inputs); GEMV tile 2 rows x 4 vectors of 16, weight
 *   panels [group][k][features], threads over (row block, panel)
 */
void k002_3(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params + 144;   /* 1 panel of 16 x 64 (last 16) */
    const float *restrict bias = params + 400;   /* 10 (+6 zero lanes) */
    /* 2 rows x 1 vector (10 features) */
    const float *restrict x0 = in0;
    const float *restrict x1 = in0 + 16;
    float stage[2][16];
    smelt_vf a0_0 = *(const smelt_vf *)bias;
    smelt_vf a1_0 = *(const smelt_vf *)bias;
    for (int kk = 0; kk < 16; ++kk) {
        const smelt_vf w0_0 = *(const smelt_vf *)(weight + kk * 16);
        {
            const float xv = x0[kk];
            a0_0 += xv * w0_0;
        }
        {
            const float xv = x1[kk];
            a1_0 += xv * w0_0;
        }
    }
    *(smelt_vfu *)&stage[0][0] = a0_0;
    *(smelt_vfu *)&stage[1][0] = a1_0;
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 10; ++j) {
            out[i * 10 + j] = stage[i][j];
        }
    }
}

/* k003_4: 4
 *   Softmax
 *   in0  2x10
 *   out  2x10
 *   0.000 MFLOP; vectorised exp, view (2, 10, 1); contiguous rows, threads over rows
 */
void k003_4(const float *restrict in0, float *restrict out)
{
    for (int o = 0; o < 2; ++o) {
        float mx = in0[o * 10];
        for (int d = 1; d < 10; ++d) {
            mx = smelt_max_nan(mx, in0[o * 10 + d]);
        }
        /* exp(x - max) waits in the output until the sum is known */
        for (int d = 0; d < 10; ++d) {
            out[o * 10 + d] = smelt_expf(in0[o * 10 + d] - mx);
        }
        float sum = 0.0f;
        for (int d = 0; d < 10; ++d) {
            sum += out[o * 10 + d];
        }
        const float inv = 1.0f / sum;
        for (int d = 0; d < 10; ++d) {
            out[o * 10 + d] = out[o * 10 + d] * inv;
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
 * Arena: 832 floats (3.2 KiB) of
 * intermediates, owned by the caller.
 */
void smelt_forward(const float *restrict in0, float *restrict out0, const float *restrict params,
                   float *restrict arena, int nthreads)
{
#ifdef __linux__
    smelt_pin_workers(nthreads);
#endif
    k000_0(in0, arena, params);
    k001_1(arena, arena + 800);
    k002_3(arena + 800, arena, params);
    k003_4(arena, out0);
}
