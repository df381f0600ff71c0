/* k000_input_to_NCHW16c: input.to_NCHW16c
 *   Reorder
 *   in0  1x16x3x3
 *   out  1x16x3x3 (NCHW16c: 1x1x3x3x16)
 *   0.000 MFLOP; NCHW -> NCHW16c, threads over (n, channel block)
 */
void k000_input_to_NCHW16c(const float *restrict in0, float *restrict out)
{
    for (int p = 0; p < 9; ++p) {
        for (int lane = 0; lane < 16; ++lane) {
            const float x = in0[lane * 9 + p];
            out[p * 16 + lane] = x;
        }
    }
}

/* k001_0: 0 + 1
 *   ConvTranspose2d + Tanh
 *   in0  1x16x3x3 (NCHW16c: 1x1x3x3x16)
 *   out  1x8x6x6 (NCHW16c: 1x1x6x6x16)
 *   0.037 MFLOP; NCHW16c -> NCHW16c, 4 output phases, tile 3 px x 1 blocks of 16, threads over (n,
 *   row, block group)
 */
void k001_0(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params;   /* 1x1x4x4x16x1x16, taps by phase */
    const float *restrict bias = params + 4096;   /* 8 (+8 zero lanes) */
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
        const float *restrict xrow = in0 + ih0[oh] * 48;
        const float *restrict wrow = weight + kp0[oh] * 1024;
        /* output columns 1..5 step 2: 1 tile of 3, kernel column 0 only for tile pixels 0,1 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            for (int m = m_lo[oh]; m < m_hi[oh]; ++m) {
                const float *restrict xr = xrow - m * 48;
                const float *restrict wk = wrow + m * 1024;
#pragma GCC unroll 4
                for (int i = 0; i < 16; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 16);
                    const float x0_0 = xr[i + 16];
                    a0_0 += x0_0 * w0_0;
                    const float x0_1 = xr[i + 32];
                    a1_0 += x0_1 * w0_0;
                    const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 16 + 256);
                    const float x1_0 = xr[i];
                    a0_0 += x1_0 * w1_0;
                    const float x1_1 = xr[i + 16];
                    a1_0 += x1_1 * w1_0;
                    const float x1_2 = xr[i + 32];
                    a2_0 += x1_2 * w1_0;
                }
            }
            {
                float tile[1][3][16] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                for (int j = 0; j < 3; ++j) {
                    for (int lane = 0; lane < 16; ++lane) {
                        float v = tile[0][j][lane];
                        v = smelt_tanh(v);
                        v = lane < 8 ? v : 0.0f;    /* padded lanes stay zero */
                        out[oh * 96 + j * 32 + lane + 16] = v;
                    }
                }
            }
        }
        /* output columns 0..4 step 2: 1 tile of 3, kernel column 3 only for tile pixels 1,2 */
        {
            smelt_vf a0_0 = b0;
            smelt_vf a1_0 = b0;
            smelt_vf a2_0 = b0;
            for (int m = m_lo[oh]; m < m_hi[oh]; ++m) {
                const float *restrict xr = xrow - m * 48;
                const float *restrict wk = wrow + m * 1024;
#pragma GCC unroll 4
                for (int i = 0; i < 16; ++i) {
                    const smelt_vf w0_0 = *(const smelt_vf *)(wk + i * 16 + 512);
                    const float x0_0 = xr[i];
                    a0_0 += x0_0 * w0_0;
                    const float x0_1 = xr[i + 16];
                    a1_0 += x0_1 * w0_0;
                    const float x0_2 = xr[i + 32];
                    a2_0 += x0_2 * w0_0;
                    const smelt_vf w1_0 = *(const smelt_vf *)(wk + i * 16 + 768);
                    const float x1_1 = xr[i];
                    a1_0 += x1_1 * w1_0;
                    const float x1_2 = xr[i + 16];
                    a2_0 += x1_2 * w1_0;
                }
            }
            {
                float tile[1][3][16] __attribute__((aligned(64)));
                *(smelt_vf *)tile[0][0] = a0_0;
                *(smelt_vf *)tile[0][1] = a1_0;
                *(smelt_vf *)tile[0][2] = a2_0;
                for (int j = 0; j < 3; ++j) {
                    for (int lane = 0; lane < 16; ++lane) {
                        float v = tile[0][j][lane];
                        v = smelt_tanh(v);
                        v = lane < 8 ? v : 0.0f;    /* padded lanes stay zero */
                        out[oh * 96 + j * 32 + lane] = v;
                    }
                }
            }
        }
    }
}

/* k002_2: 2
 *   Upsample
 *   in0  1x8x6x6 (NCHW16c: 1x1x6x6x16)
 *   out  1x8x12x12 (NCHW16c: 1x1x12x12x16)
 *   0.000 MFLOP; NCHW16c, nearest, one vector copy per pixel from index tables; threads over (n,
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
        const float *restrict x = in0 + rows[oh] * 96;
        for (int ow = 0; ow < 12; ++ow) {
            const smelt_vf y = *(const smelt_vfu *)(x + cols[ow] * 16);
            *(smelt_vfu *)(out + oh * 192 + ow * 16) = y;
        }
    }
}

/* k003_3: 3 + 4
 *   Conv2d + Sigmoid
 *   in0  1x8x12x12 (NCHW16c: 1x1x12x12x16)
 *   out  1x3x12x12
 *   0.063 MFLOP; NCHW16c -> NCHW, convolution as its flipped transpose, dot products over input
 *   channel blocks, tile 6 px x 3 channels, threads over (n, row)
 */
void k003_3(const float *restrict in0, float *restrict out, const float *restrict params)
{
    const float *restrict weight = params + 4112;   /* 3x3x3x16: [oc][tap][input channels] */
    const float *restrict bias = params + 4544;   /* 3 */
    const smelt_vf zero = { 0 };
    /* the lane sums' shuffles as lane lists (defined for this kernel only): the low and high
     * halves of each group of lanes at level l */
#define PAIR_LO0 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define PAIR_HI0 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define PAIR_LO1 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27
#define PAIR_HI1 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31
#define PAIR_LO2 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29
#define PAIR_HI2 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31
#define FOLD_LO3 0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0
#define FOLD_HI3 1, 3, 5, 7, 9, 11, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0
    /* per output row: the range of its taps whose input row lies inside the image */
    static const int m_lo[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
    };
    static const int m_hi[12] = {
        2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3
    };
    for (int oh = 0; oh < 12; ++oh) {
        const float *restrict xrow = in0 + oh * 192 + 192;
        /* output columns 0..5: 1 tile of 6, kernel column 2 only for tile pixels 1,2,3,4,5 */
        {
            smelt_vf a0_0 = zero, a0_1 = zero, a0_2 = zero;
            smelt_vf a1_0 = zero, a1_1 = zero, a1_2 = zero;
            smelt_vf a2_0 = zero, a2_1 = zero, a2_2 = zero;
            smelt_vf a3_0 = zero, a3_1 = zero, a3_2 = zero;
            smelt_vf a4_0 = zero, a4_1 = zero, a4_2 = zero;
            smelt_vf a5_0 = zero, a5_1 = zero, a5_2 = zero;
            for (int m = m_lo[oh]; m < m_hi[oh]; ++m) {
                const float *restrict xb = xrow - m * 192;
                const float *restrict wb = weight + m * 48;
                const smelt_vf w0_0 = *(const smelt_vf *)(wb);
                const smelt_vf w0_1 = *(const smelt_vf *)(wb + 144);
                const smelt_vf w0_2 = *(const smelt_vf *)(wb + 288);
                const smelt_vf x0_0 = *(const smelt_vfu *)(xb + 16);
                a0_0 += x0_0 * w0_0;
                a0_1 += x0_0 * w0_1;
                a0_2 += x0_0 * w0_2;
                const smelt_vf x0_1 = *(const smelt_vfu *)(xb + 32);
                a1_0 += x0_1 * w0_0;
                a1_1 += x0_1 * w0_1;
                a1_2 += x0_1 * w0_2;
                const smelt_vf x0_2 = *(const smelt_vfu *)(xb + 48);
                a2_0 += x0_2 * w0_0;
                a2_1 += x0_2 * w0_1;
                a2_2 += x0_2 * w0_2;
                const smelt_vf x0_3 = *(const smelt_vfu *)(xb + 64);
                a3_0 += x0_3 * w0_0;
                a3_1 += x0_3 * w0_1;
                a3_2 += x0_3 * w0_2;
                const smelt_vf x0_4 = *(const smelt_vfu *)(xb + 80);
                a4_0 += x0_4 * w0_0;
                a4_1 += x0_4 * w0_1;
                a4_2 += x0_4 * w0_2;
                const smelt_vf x0_5 = *(const smelt_vfu *)(xb + 96);
                a5_0 += x0_5 * w0_0;
                a5_1 += x0_5 * w0_1;
                a5_2 += x0_5 * w0_2;
                const smelt_vf w1_0 = *(const smelt_vf *)(wb + 16);
                const smelt_vf w1_1 = *(const smelt_vf *)(wb + 160);
                const smelt_vf w1_2 = *(const smelt_vf *)(wb + 304);
                const smelt_vf x1_0 = *(const smelt_vfu *)(xb);
                a0_0 += x1_0 * w1_0;
                a0_1 += x1_0 * w1_1;
                a0_2 += x1_0 * w1_2;
                const smelt_vf x1_1 = *(const smelt_vfu *)(xb + 16);
                a1_0 += x1_1 * w1_0;
                a1_1 += x1_1 * w1_1;
                a1_2 += x1_1 * w1_2;
                const smelt_vf x1_2 = *(const smelt_vfu *)(xb + 32);
                a2_0 += x1_2 * w1_0;
                a2_1 += x1_2 * w1_1;
                a2_2 += x1_2 * w1_2;
                const smelt_vf x1_3 = *(const smelt_vfu *)(xb + 48);
                a3_0 += x1_3 * w1_0;
                a3_1 += x1_3 * w1_1;
                a3_2 += x1_3 * w1_2;
                const smelt_vf x1_4 = *(const smelt_vfu *)(xb + 64);
                a4_0 += x1_4 * w1_0;
                a4_1 += x1_4 * w1_1;
                a4_2 += x1_4 * w1_2;
                const smelt_vf x1_5 = *(const smelt_vfu *)(xb + 80);
                a5_0 += x1_5 * w1_0;
                a5_1 += x1_5 * w1_1;
                a5_2 += x1_5 * w1_2;
                const smelt_vf w2_0 = *(const smelt_vf *)(wb + 32);
                const smelt_vf w2_1 = *(const smelt_vf *)(wb + 176);
                const smelt_vf w2_2 = *(const smelt_vf *)(wb + 320);
                const smelt_vf x2_1 = *(const smelt_vfu *)(xb);
                a1_0 += x2_1 * w2_0;
                a1_1 += x2_1 * w2_1;
                a1_2 += x2_1 * w2_2;
                const smelt_vf x2_2 = *(const smelt_vfu *)(xb + 16);
                a2_0 += x2_2 * w2_0;
                a2_1 += x2_2 * w2_1;
                a2_2 += x2_2 * w2_2;
                const smelt_vf x2_3 = *(const smelt_vfu *)(xb + 32);
                a3_0 += x2_3 * w2_0;
                a3_1 += x2_3 * w2_1;
                a3_2 += x2_3 * w2_2;
                const smelt_vf x2_4 = *(const smelt_vfu *)(xb + 48);
                a4_0 += x2_4 * w2_0;
                a4_1 += x2_4 * w2_1;
                a4_2 += x2_4 * w2_2;
                const smelt_vf x2_5 = *(const smelt_vfu *)(xb + 64);
                a5_0 += x2_5 * w2_0;
                a5_1 += x2_5 * w2_1;
                a5_2 += x2_5 * w2_2;
            }
            smelt_vf r0_0 = __builtin_shufflevector(a0_0, a1_0, PAIR_LO0);
            r0_0 += __builtin_shufflevector(a0_0, a1_0, PAIR_HI0);
            smelt_vf r0_1 = __builtin_shufflevector(a2_0, a3_0, PAIR_LO0);
            r0_1 += __builtin_shufflevector(a2_0, a3_0, PAIR_HI0);
            smelt_vf r0_2 = __builtin_shufflevector(a4_0, a5_0, PAIR_LO0);
            r0_2 += __builtin_shufflevector(a4_0, a5_0, PAIR_HI0);
            smelt_vf r0_3 = __builtin_shufflevector(r0_0, r0_1, PAIR_LO1);
            r0_3 += __builtin_shufflevector(r0_0, r0_1, PAIR_HI1);
            smelt_vf r0_4 = __builtin_shufflevector(r0_2, zero, PAIR_LO1);
            r0_4 += __builtin_shufflevector(r0_2, zero, PAIR_HI1);
            smelt_vf r0_5 = __builtin_shufflevector(r0_3, r0_4, PAIR_LO2);
            r0_5 += __builtin_shufflevector(r0_3, r0_4, PAIR_HI2);
            smelt_vf s0 = __builtin_shufflevector(r0_5, r0_5, FOLD_LO3);
            s0 += __builtin_shufflevector(r0_5, r0_5, FOLD_HI3);
            smelt_vf r1_0 = __builtin_shufflevector(a0_1, a1_1, PAIR_LO0);
            r1_0 += __builtin_shufflevector(a0_1, a1_1, PAIR_HI0);
            smelt_vf r1_1 = __builtin_shufflevector(a2_1, a3_1, PAIR_LO0);
            r1_1 += __builtin_shufflevector(a2_1, a3_1, PAIR_HI0);
            smelt_vf r1_2 = __builtin_shufflevector(a4_1, a5_1, PAIR_LO0);
            r1_2 += __builtin_shufflevector(a4_1, a5_1, PAIR_HI0);
            smelt_vf r1_3 = __builtin_shufflevector(r1_0, r1_1, PAIR_LO1);
            r1_3 += __builtin_shufflevector(r1_0, r1_1, PAIR_HI1);
            smelt_vf r1_4 = __builtin_shufflevector(r1_2, zero, PAIR_LO1);
            r1_4 += __builtin_shufflevector(r1_2, zero, PAIR_HI1);
            smelt_vf r1_5 = __builtin_shufflevector(r1_3, r1_4, PAIR_LO2);
            r1_5 += __builtin_shufflevector(r1_3, r1_4, PAIR_HI2);
            smelt_vf s1 = __builtin_shufflevector(r1_5, r1_5, FOLD_LO3);
            s1 += __builtin_shufflevector(r1_5, r1_5, FOLD_HI3);
            smelt_vf r2_0 = __builtin_shufflevector(a0_2, a1_2, PAIR_LO0);
            r2_0 += __builtin_shufflevector(a0_2, a1_2, PAIR_HI0);
            smelt_vf r2_1 = __builtin_shufflevector(a2_2, a3_2, PAIR_LO0);
            r2_1 += __builtin_shufflevector(a2_2, a3_2, PAIR_HI0);
            smelt_vf r2_2 = __builtin_shufflevector(a4_2, a5_2, PAIR_LO0);
            r2_2 += __builtin_shufflevector(a4_2, a5_2, PAIR_HI0);
            smelt_vf r2_3 = __builtin_shufflevector(r2_0, r2_1, PAIR_LO1);
            r2_3 += __builtin_shufflevector(r2_0, r2_1, PAIR_HI1);
            smelt_vf r2_4 = __builtin_shufflevector(r2_2, zero, PAIR_LO1);
            r2_4 += __builtin_shufflevector(r2_2, zero, PAIR_HI1);
            smelt_vf r2_5 = __builtin_shufflevector(r2_3, r2_4, PAIR_LO2);
            r2_5 += __builtin_shufflevector(r2_3, r2_4, PAIR_HI2);
            smelt_vf s2 = __builtin_shufflevector(r2_5, r2_5, FOLD_LO3);
            s2 += __builtin_shufflevector(r2_5, r2_5, FOLD_HI3);
            float sums[3][16];    /* sums[o][j]: channel o at tile pixel j */
            *(smelt_vfu *)sums[0] = s0;
            *(smelt_vfu *)sums[1] = s1;
            *(smelt_vfu *)sums[2] = s2;
            for (int o = 0; o < 3; ++o) {
                for (int j = 0; j < 6; ++j) {
                    out[o * 144 + oh * 12 + j] = sums[o][j] + bias[o];
                }
            }
        }
        /* output columns 6..11: 1 tile of 6, kernel column 0 only for tile pixels 0,1,2,3,4 */
        {
            smelt_vf a0_0 = zero, a0_1 = zero, a0_2 = zero;
            smelt_vf a1_0 = zero, a1_1 = zero, a1_2 = zero;
            smelt_vf a2_0 = zero, a2_1 = zero, a2_2 = zero;
            smelt_vf a3_0 = zero, a3_1 = zero, a3_2 = zero;
            smelt_vf a4_0 = zero, a4_1 = zero, a4_2 = zero;
            smelt_vf a5_0 = zero, a5_1 = zero, a5_2 = zero;
            for (int m = m_lo[oh]; m < m_hi[oh]; ++m) {
                const float *restrict xb = xrow - m * 192;
                const float *restrict wb = weight + m * 48;
                const smelt_vf w0_0 = *(const smelt_vf *)(wb);
                const smelt_vf w0_1 = *(const smelt_vf *)(wb + 144);
                const smelt_vf w0_2 = *(const smelt_vf *)(wb + 288);
                const smelt_vf x0_0 = *(const smelt_vfu *)(xb + 112);
                a0_0 += x0_0 * w0_0;
                a0_1 += x0_0 * w0_1;
                a0_2 += x0_0 * w0_2;
                const smelt_vf x0_1 = *(const smelt_vfu *)(xb + 128);
                a1_0 += x0_1 * w0_0;
                a1_1 += x0_1 * w0_1;
                a1_2 += x0_1 * w0_2;
                const smelt_vf x0_2 = *(const smelt_vfu *)(xb + 144);
                a2_0 += x0_2 * w0_0;
                a2_1 += x0_2 * w0_1;
                a2_2 += x0_2 * w0_2;
                const smelt_vf x0_3 = *(const smelt_vfu *)(xb + 160);
                a3_0 += x0_3 * w0_0;
                a3_1 += x0_3 * w0_1;
                a3_2 += x0_3 * w0_2;
                const smelt_vf x0_4 = *(const smelt_vfu *)(xb + 176);
                a4_0 += x0_4 * w0_0;
                a4_1 += x0_4 * w0_1;
                a4_2 += x0_4 * w0_2;
                const smelt_vf w1_0 = *(const smelt_vf *)(wb + 16);
                const smelt_vf w1_1 = *(const smelt_vf *)(wb + 160);
                const smelt_vf w1_2 = *(const smelt_vf *)(wb + 304);
                const smelt_vf x1_0 = *(const smelt_vfu *)(xb + 96);
                a0_0 += x1_0 * w1_0;
                a0_1 += x1_0 * w1_1;
                a0_2 += x1_0 * w1_2;
                const smelt_vf x1_1 = *(const smelt_vfu *)(xb + 112);
                a1_0 += x1_1 * w1_0;
                a1_1 += x1_1 * w1_1;
                a1_2 += x1_1 * w1_2;
                const smelt_vf x1_2 = *(const smelt_vfu *)(xb + 128);
                a2_0 += x1_2 * w1_0;
                a2_1 += x1_2 * w1_1;
                a2_2 += x1_2 * w1_2;
                const smelt_vf x1_3 = *(const smelt_vfu *)(xb + 144);
                a3_0 += x1_3 * w1_0;
                a3_1 += x1_3 * w1_1;
                a3_2 += x1_3 * w1_2;
                const smelt_vf x1_4 = *(const smelt_vfu *)(xb + 160);
                a4_0 += x1_4 * w1_0;
                a4_1 += x1_4 * w1_1;
                a4_2 += x1_4 * w1_2;
                const smelt_vf x1_5 = *(const smelt_vfu *)(xb + 176);
                a5_0 += x1_5 * w1_0;
                a5_1 += x1_5 * w1_1;
                a5_2 += x1_5 * w1_2;
                const smelt_vf w2_0 = *(const smelt_vf *)(wb + 32);
                const smelt_vf w2_1 = *(const smelt_vf *)(wb + 176);
                const smelt_vf w2_2 = *(const smelt_vf *)(wb + 320);
                const smelt_vf x2_0 = *(const smelt_vfu *)(xb + 80);
                a0_0 += x2_0 * w2_0;
                a0_1 += x2_0 * w2_1;
                a0_2 += x2_0 * w2_2;
                const smelt_vf x2_1 = *(const smelt_vfu *)(xb + 96);
                a1_0 += x2_1 * w2_0;
                a1_1 += x2_1 * w2_1;
                a1_2 += x2_1 * w2_2;
                const smelt_vf x2_2 = *(const smelt_vfu *)(xb + 112);
                a2_0 += x2_2 * w2_0;
                a2_1 += x2_2 * w2_1;
                a2_2 += x2_2 * w2_2;
                const smelt_vf x2_3 = *(const smelt_vfu *)(xb + 128);
                a3_0 += x2_3 * w2_0;
                a3_1 += x2_3 * w2_1;
                a3_2 += x2_3 * w2_2;
                const smelt_vf x2_4 = *(const smelt_vfu *)(xb + 144);
                a4_0 += x2_4 * w2_0;
                a4_1 += x2_4 * w2_1;
                a4_2 += x2_4 * w2_2;
                const smelt_vf x2_5 = *(const smelt_vfu *)(xb + 160);
                a5_0 += x2_5 * w2_0;
                a5_1 += x2_5 * w2_1;
                a5_2 += x2_5 * w2_2;
            }
            smelt_vf r0_0 = __builtin_shufflevector(a0_0, a1_0, PAIR_LO0);
            r0_0 += __builtin_shufflevector(a0_0, a1_0, PAIR_HI0);
            smelt_vf r0_1 = __builtin_shufflevector(a2_0, a3_0, PAIR_LO0);
            r0_1 += __builtin_shufflevector(a2_0, a3_0, PAIR_HI0);
            smelt_vf r0_2 = __builtin_shufflevector(a4_0, a5_0, PAIR_LO0);
            r0_2 += __builtin_shufflevector(a4_0, a5_0, PAIR_HI0);
            smelt_vf r0_3 = __builtin_shufflevector(r0_0, r0_1, PAIR_LO1);
            r0_3 += __builtin_shufflevector(r0_0, r0_1, PAIR_HI1);
            smelt_vf r0_4 = __builtin_shufflevector(r0_2, zero, PAIR_LO1);
            r0_4 += __builtin_shufflevector(r0_2, zero, PAIR_HI1);
            smelt_vf r0_5 = __builtin_shufflevector(r0_3, r0_4, PAIR_LO2);
            r0_5 += __builtin_shufflevector(r0_3, r0_4, PAIR_HI2);
            smelt_vf s0 = __builtin_shufflevector(r0_5, r0_5, FOLD_LO3);
            s0 += __builtin_shufflevector(r0_5, r0_5, FOLD_HI3);
            smelt_vf r1_0 = __builtin_shufflevector(a0_1, a1_1, PAIR_LO0);
            r1_0 += __builtin_shufflevector(a0_1, a1_1, PAIR_HI0);
            smelt_vf r1_1 = __builtin_shufflevector(a2_1, a3_1, PAIR_LO0);
            r1_1 += __builtin_shufflevector(a2_1, a3_1, PAIR_HI0);
            smelt_vf r1_2 = __builtin_shufflevector(a4_1, a5_1, PAIR_LO0);
            r1_2 += __builtin_shufflevector(a4_1, a5_1, PAIR_HI0);
            smelt_vf r1_3 = __builtin_shufflevector(r1_0, r1_1, PAIR_LO1);
            r1_3 += __builtin_shufflevector(r1_0, r1_1, PAIR_HI1);
            smelt_vf r1_4 = __builtin_shufflevector(r1_2, zero, PAIR_LO1);
            r1_4 += __builtin_shufflevector(r1_2, zero, PAIR_HI1);
            smelt_vf r1_5 = __builtin_shufflevector(r1_3, r1_4, PAIR_LO2);
            r1_5 += __builtin_shufflevector(r1_3, r1_4, PAIR_HI2);
            smelt_vf s1 = __builtin_shufflevector(r1_5, r1_5, FOLD_LO3);
            s1 += __builtin_shufflevector(r1_5, r1_5, FOLD_HI3);
            smelt_vf r2_0 = __builtin_shufflevector(a0_2, a1_2, PAIR_LO0);
            r2_0 += __builtin_shufflevector(a0_2, a1_2, PAIR_HI0);
            smelt_vf r2_1 = __builtin_shufflevector(a2_2, a3_2, PAIR_LO0);
            r2_1 += __builtin_shufflevector(a2_2, a3_2, PAIR_HI0);
            smelt_vf r2_2 = __builtin_shufflevector(a4_2, a5_2, PAIR_LO0);
            r2_2 += __builtin_shufflevector(a4_2, a5_2, PAIR_HI0);
            smelt_vf r2_3 = __builtin_shufflevector(r2_0, r2_1, PAIR_LO1);
            r2_3 += __builtin_shufflevector(r2_0, r2_1, PAIR_HI1);
            smelt_vf r2_4 = __builtin_shufflevector(r2_2, zero, PAIR_LO1);
            r2_4 += __builtin_shufflevector(r2_2, zero, PAIR_HI1);
            smelt_vf r2_5 = __builtin_shufflevector(r2_3, r2_4, PAIR_LO2);
            r2_5 += __builtin_shufflevector(r2_3, r2_4, PAIR_HI2);
            smelt_vf s2 = __builtin_shufflevector(r2_5, r2_5, FOLD_LO3);
            s2 += __builtin_shufflevector(r2_5, r2_5, FOLD_HI3);
            float sums[3][16];    /* sums[o][j]: channel o at tile pixel j */
            *(smelt_vfu *)sums[0] = s0;
            *(smelt_vfu *)sums[1] = s1;
            *(smelt_vfu *)sums[2] = s2;
            for (int o = 0; o < 3; ++o) {
                for (int j = 0; j < 6; ++j) {
                    out[o * 144 + oh * 12 + j + 6] = sums[o][j] + bias[o];
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
#undef PAIR_LO0
#undef PAIR_HI0
#undef PAIR_LO1
#undef PAIR_HI1
#undef PAIR_LO2
#undef PAIR_HI2
#undef FOLD_LO3
#undef FOLD_HI3
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
 * Arena: 3024 floats (11.8 KiB) of
 * intermediates, owned by the caller.
 */
void smelt_forward(const float *restrict in0, float *restrict out0, const float *restrict params,
                   float *restrict arena, int nthreads)
{
#ifdef __linux__
    smelt_pin_workers(nthreads);
#endif
    k000_input_to_NCHW16c(in0, arena);
    k001_0(arena, arena + 144, params);
    k002_2(arena + 144, arena + 720);
    k003_3(arena + 720, out0, params);
}
