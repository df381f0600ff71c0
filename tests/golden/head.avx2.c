/* k000_0: 0
 *   Conv2d
 *   in0  2x8x5x5
 *   out  2x16x5x5 (NCHW8c: 2x2x5x5x8)
 *   0.013 MFLOP; NCHW -> NCHW8c, tile 5 px x 2 blocks of 8, 1 tile variant, one thread
 */
void k000_0(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 2x1x1x1x8x8 packed */
    const float *restrict bias = params + 128;   /* 16 (+0 zero lanes) */
    for (int n = 0; n < 2; ++n) {
        for (int oh = 0; oh < 5; ++oh) {
            const smelt_vf b0 = *(const smelt_vf *)bias;
            const smelt_vf b1 = *(const smelt_vf *)(bias + 8);
            /* pixels 0..4: 1 tile of 5 */
            {
                smelt_vf a0_0 = b0, a0_1 = b1;
                smelt_vf a1_0 = b0, a1_1 = b1;
                smelt_vf a2_0 = b0, a2_1 = b1;
                smelt_vf a3_0 = b0, a3_1 = b1;
                smelt_vf a4_0 = b0, a4_1 = b1;
                const float *restrict xb = in0 + n * 200;
                const float *restrict xr = xb + oh * 5;
#pragma GCC unroll 4
                for (int i = 0; i < 8; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(weight + i * 8);
                    const smelt_vf w0_1 = *(const smelt_vf *)(weight + i * 8 + 64);
                    const float x0_0 = xr[i * 25];
                    a0_0 += x0_0 * w0_0;
                    a0_1 += x0_0 * w0_1;
                    const float x0_1 = xr[i * 25 + 1];
                    a1_0 += x0_1 * w0_0;
                    a1_1 += x0_1 * w0_1;
                    const float x0_2 = xr[i * 25 + 2];
                    a2_0 += x0_2 * w0_0;
                    a2_1 += x0_2 * w0_1;
                    const float x0_3 = xr[i * 25 + 3];
                    a3_0 += x0_3 * w0_0;
                    a3_1 += x0_3 * w0_1;
                    const float x0_4 = xr[i * 25 + 4];
                    a4_0 += x0_4 * w0_0;
                    a4_1 += x0_4 * w0_1;
                }
                *(smelt_vfu *)(out + n * 400 + oh * 40) = a0_0;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 200) = a0_1;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 8) = a1_0;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 208) = a1_1;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 16) = a2_0;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 216) = a2_1;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 24) = a3_0;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 224) = a3_1;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 32) = a4_0;
                *(smelt_vfu *)(out + n * 400 + oh * 40 + 232) = a4_1;
            }
        }
    }
}

/* k001_1: 1
 *   AdaptiveAvgPool2d
 *   in0  2x16x5x5 (NCHW8c: 2x2x5x5x8)
 *   out  2x16x1x1 (NCHW8c: 2x2x1x1x8)
 *   0.001 MFLOP; NCHW8c, global vector sum, 4 accumulators over 8 channels per tap, window tables;
 *   threads over (n, channel block)
 */
void k001_1(const float *restrict in0, float *restrict out)
{
    const smelt_vf zero = {0};
    for (int n = 0; n < 2; ++n) {
        for (int cb = 0; cb < 2; ++cb) {
            const float *restrict x = in0 + n * 400 + cb * 200;
            smelt_vf s0 = zero, s1 = zero, s2 = zero, s3 = zero;
            int p = 0;
            for (; p + 4 <= 25; p += 4) {
                s0 += *(const smelt_vfu *)(x + p * 8);
                s1 += *(const smelt_vfu *)(x + p * 8 + 8);
                s2 += *(const smelt_vfu *)(x + p * 8 + 16);
                s3 += *(const smelt_vfu *)(x + p * 8 + 24);
            }
            for (; p < 25; ++p)
                s0 += *(const smelt_vfu *)(x + p * 8);
            const smelt_vf mean = ((s0 + s1) + (s2 + s3)) / 25.0f;
            *(smelt_vfu *)(out + n * 16 + cb * 8) = mean;
        }
    }
}

/* k002_3: 3
 *   Linear
 *   in0  2x16 (NCHW8c: 2x16)
 *   out  2x10
 *   0.001 MFLOP; reads NCHW8c flattened (16 inputs); GEMV tile 2 rows x 4 vectors of 8, weight
 *   panels [group][k][features], threads over (row block, panel)
 */
void k002_3(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params + 144;   /* 1 panel of 16 x 32 (last 16) */
    const float *restrict bias = params + 400;   /* 10 (+6 zero lanes) */
    /* 2 rows x 2 vectors (10 features) */
    const float *restrict x0 = in0;
    const float *restrict x1 = in0 + 16;
    float stage[2][16];
    smelt_vf a0_0 = *(const smelt_vf *)bias;
    smelt_vf a0_1 = *(const smelt_vf *)(bias + 8);
    smelt_vf a1_0 = *(const smelt_vf *)bias;
    smelt_vf a1_1 = *(const smelt_vf *)(bias + 8);
    for (int kk = 0; kk < 16; ++kk) {
        const smelt_vf w0_0 = *(const smelt_vf *)(weight + kk * 16);
        const smelt_vf w1_0 = *(const smelt_vf *)(weight + kk * 16 + 8);
        {
            const float xv = x0[kk];
            a0_0 += xv * w0_0;
            a0_1 += xv * w1_0;
        }
        {
            const float xv = x1[kk];
            a1_0 += xv * w0_0;
            a1_1 += xv * w1_0;
        }
    }
    *(smelt_vfu *)&stage[0][0] = a0_0;
    *(smelt_vfu *)&stage[0][8] = a0_1;
    *(smelt_vfu *)&stage[1][0] = a1_0;
    *(smelt_vfu *)&stage[1][8] = a1_1;
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
    typedef int32_t lanes_i __attribute__((vector_size(32)));
    for (int o = 0; o < 2; ++o) {
        smelt_vf m = (smelt_vf){0.0f} + in0[o * 10];
        const smelt_vf xv = *(const smelt_vfu *)(in0 + o * 10);
        const lanes_i take = (xv > m) | (xv != xv);    /* NaN wins */
        m = (smelt_vf)((take & (lanes_i)xv) | (~take & (lanes_i)m));
        float mx = m[0];
        for (int j = 1; j < 8; ++j) {
            mx = smelt_max_nan(mx, m[j]);
        }
        for (int d = 8; d < 10; ++d) {
            mx = smelt_max_nan(mx, in0[o * 10 + d]);
        }
        /* exp(x - max) waits in the output until the sum is known */
        for (int d = 0; d < 10; ++d) {
            out[o * 10 + d] = smelt_expf(in0[o * 10 + d] - mx);
        }
        smelt_vf s = {0.0f};
        s += *(const smelt_vfu *)(out + o * 10);
        float sum = 0.0f;
        for (int j = 0; j < 8; ++j) {
            sum += s[j];
        }
        for (int d = 8; d < 10; ++d) {
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
