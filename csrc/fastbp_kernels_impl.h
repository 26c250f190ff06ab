/*
 * The remaining element-wise kernels and the public entry points, included by
 * fastbp_kernels.c once for each floating type with:
 *   REAL        the element type
 *   NAME(f)     the function name with its type suffix
 *   VNAME_BASE(f), VNAME_AVX2(f), VNAME_AVX512(f)   the builds of fastbp_vector.h
 *   LOG         the natural logarithm of that type (cross-entropy only)
 *   TINY        the smallest positive normal value (the floor of the safe log)
 */

/* The vector kernels, through the build for the instruction set chosen by
   fbp_init(). */
void NAME(fbp_bias_act)(REAL *z, const REAL *b, ptrdiff_t rows, ptrdiff_t cols, int act)
{
    switch (fbp_isa) {
    case FBP_ISA_AVX512: VNAME_AVX512(bias_act)(z, b, rows, cols, act); break;
    case FBP_ISA_AVX2: VNAME_AVX2(bias_act)(z, b, rows, cols, act); break;
    default: VNAME_BASE(bias_act)(z, b, rows, cols, act); break;
    }
}

void NAME(fbp_mul_deriv)(REAL *delta, const REAL *a, ptrdiff_t n, int act)
{
    switch (fbp_isa) {
    case FBP_ISA_AVX512: VNAME_AVX512(mul_deriv)(delta, a, n, act); break;
    case FBP_ISA_AVX2: VNAME_AVX2(mul_deriv)(delta, a, n, act); break;
    default: VNAME_BASE(mul_deriv)(delta, a, n, act); break;
    }
}

void NAME(fbp_small_gemm)(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                          REAL alpha, const REAL *a, ptrdiff_t lda, const REAL *b,
                          ptrdiff_t ldb, REAL beta, REAL *c, ptrdiff_t ldc)
{
    switch (fbp_isa) {
    case FBP_ISA_AVX512:
        VNAME_AVX512(small_gemm)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case FBP_ISA_AVX2:
        VNAME_AVX2(small_gemm)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    default:
        VNAME_BASE(small_gemm)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    }
}

int NAME(fbp_all_finite)(const REAL *x, ptrdiff_t n)
{
    switch (fbp_isa) {
    case FBP_ISA_AVX512: return VNAME_AVX512(all_finite)(x, n);
    case FBP_ISA_AVX2: return VNAME_AVX2(all_finite)(x, n);
    default: return VNAME_BASE(all_finite)(x, n);
    }
}

static inline REAL NAME(safe_log)(REAL x)
{
    return LOG(x > TINY ? x : TINY);
}

double NAME(fbp_output_delta)(const REAL *o, const REAL *t, REAL *delta,
                              ptrdiff_t rows, ptrdiff_t cols, int act, int loss)
{
    double total = 0.0;
    ptrdiff_t n = rows * cols;
    if (loss == FBP_CROSS_ENTROPY) {
        /* With a sigmoid or softmax output the chain rule collapses to o - t. */
        if (act == FBP_SOFTMAX) {
            for (ptrdiff_t i = 0; i < n; i++) {
                total -= (double)t[i] * (double)NAME(safe_log)(o[i]);
            }
        } else {
            for (ptrdiff_t i = 0; i < n; i++) {
                total -= (double)t[i] * (double)NAME(safe_log)(o[i])
                         + (1.0 - (double)t[i]) * (double)NAME(safe_log)((REAL)1 - o[i]);
            }
        }
        if (delta != NULL) {
            for (ptrdiff_t i = 0; i < n; i++) delta[i] = o[i] - t[i];
        }
        return total;
    }
    /* Squared error E = 1/2 sum (t - o)^2, dE/dz = (o - t) f'(z). */
    for (ptrdiff_t i = 0; i < n; i++) {
        double e = (double)o[i] - (double)t[i];
        total += 0.5 * e * e;
    }
    if (delta != NULL) {
        for (ptrdiff_t i = 0; i < n; i++) delta[i] = o[i] - t[i];
        NAME(fbp_mul_deriv)(delta, o, n, act);
    }
    return total;
}

void NAME(fbp_colsum_axpby)(REAL *b, const REAL *d, ptrdiff_t rows, ptrdiff_t cols,
                            REAL alpha, REAL beta)
{
    if (beta == 0) {
        for (ptrdiff_t j = 0; j < cols; j++) b[j] = 0;
    } else if (beta != 1) {
        for (ptrdiff_t j = 0; j < cols; j++) b[j] *= beta;
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        const REAL *r = d + i * cols;
        for (ptrdiff_t j = 0; j < cols; j++) b[j] += alpha * r[j];
    }
}

void NAME(fbp_gather_rows)(REAL *dst, const REAL *src, const int64_t *idx,
                           ptrdiff_t count, ptrdiff_t cols)
{
    for (ptrdiff_t i = 0; i < count; i++) {
        memcpy(dst + i * cols, src + (ptrdiff_t)idx[i] * cols, (size_t)cols * sizeof(REAL));
    }
}

