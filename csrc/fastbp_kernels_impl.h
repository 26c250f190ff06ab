/*
 * The remaining element-wise kernels and the public entry points, included by
 * fastbp_kernels.c once for each floating type with:
 *   REAL        the element type
 *   NAME(f)     the function name with its type suffix
 *   VNAME_BASE(f), VNAME_AVX2(f), VNAME_AVX512(f)   the builds of fastbp_vector.h
 *   LOG, EXP    the natural logarithm and exponential of that type (losses, exp output;
 *               EXP is defined before the vector builds too)
 *   SQRT        the square root of that type (Adam)
 *   TINY        the smallest positive normal value (the floor of the safe log)
 */

/* The vector kernels, through the build for the instruction set chosen by
   fbp_init() -- except for rows narrower than FBP_WIDE_MIN, where the wide
   builds' loop set-up costs more than it saves (a 2-2-2 network trained one
   sample at a time runs about 1.6x faster on the baseline build). */
#ifndef FBP_WIDE_MIN
#define FBP_WIDE_MIN 16
#endif

static inline int NAME(isa_for)(ptrdiff_t width)
{
    return width < FBP_WIDE_MIN ? FBP_ISA_BASE : fbp_isa;
}

void NAME(fbp_bias_act)(REAL *z, const REAL *b, ptrdiff_t rows, ptrdiff_t cols, int act)
{
    switch (NAME(isa_for)(act == FBP_SOFTMAX ? cols : rows * cols)) {
    case FBP_ISA_AVX512: VNAME_AVX512(bias_act)(z, b, rows, cols, act); break;
    case FBP_ISA_AVX2: VNAME_AVX2(bias_act)(z, b, rows, cols, act); break;
    default: VNAME_BASE(bias_act)(z, b, rows, cols, act); break;
    }
    if (act == FBP_EXP) {
        /* The vector builds add the bias and leave exp alone (it is only ever an
           output layer's, where a library call per value costs little). */
        for (ptrdiff_t i = 0; i < rows * cols; i++) z[i] = EXP(z[i]);
    }
}

void NAME(fbp_mul_deriv)(REAL *delta, const REAL *a, ptrdiff_t n, int act)
{
    if (act == FBP_EXP) {
        for (ptrdiff_t i = 0; i < n; i++) delta[i] *= a[i];
        return;
    }
    switch (NAME(isa_for)(n)) {
    case FBP_ISA_AVX512: VNAME_AVX512(mul_deriv)(delta, a, n, act); break;
    case FBP_ISA_AVX2: VNAME_AVX2(mul_deriv)(delta, a, n, act); break;
    default: VNAME_BASE(mul_deriv)(delta, a, n, act); break;
    }
}

void NAME(fbp_small_gemm)(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                          REAL alpha, const REAL *a, ptrdiff_t lda, const REAL *b,
                          ptrdiff_t ldb, REAL beta, REAL *c, ptrdiff_t ldc)
{
    switch (NAME(isa_for)(trans_b ? k : n)) {
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

/* The narrow products exist in the builds with vector types (GCC, Clang);
   fbp_vbytes is 0 without them, and the engine then never calls these. */
void NAME(fbp_narrow_nn)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, REAL alpha, const REAL *a,
                         ptrdiff_t lda, const int64_t *rows, const REAL *b, ptrdiff_t ldb,
                         REAL beta, REAL *c, ptrdiff_t ldc, const int64_t *next_rows,
                         ptrdiff_t n_next)
{
#if defined(__GNUC__) || defined(__clang__)
    switch (fbp_isa) {
    case FBP_ISA_AVX512:
        VNAME_AVX512(narrow_nn)(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc, next_rows,
                                n_next);
        break;
    case FBP_ISA_AVX2:
        VNAME_AVX2(narrow_nn)(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc, next_rows,
                              n_next);
        break;
    default:
        VNAME_BASE(narrow_nn)(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc, next_rows,
                              n_next);
        break;
    }
#else
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)rows; (void)b;
    (void)ldb; (void)beta; (void)c; (void)ldc; (void)next_rows; (void)n_next;
#endif
}

void NAME(fbp_narrow_nt)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, REAL alpha, const REAL *a,
                         ptrdiff_t lda, const REAL *b, ptrdiff_t ldb, REAL beta, REAL *c,
                         ptrdiff_t ldc)
{
#if defined(__GNUC__) || defined(__clang__)
    switch (fbp_isa) {
    case FBP_ISA_AVX512: VNAME_AVX512(narrow_nt)(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
    case FBP_ISA_AVX2: VNAME_AVX2(narrow_nt)(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
    default: VNAME_BASE(narrow_nt)(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
    }
#else
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb; (void)beta;
    (void)c; (void)ldc;
#endif
}

void NAME(fbp_narrow_tn)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, REAL alpha, const REAL *a,
                         ptrdiff_t lda, const int64_t *rows, const REAL *b, ptrdiff_t ldb,
                         REAL beta, REAL *c, ptrdiff_t ldc)
{
#if defined(__GNUC__) || defined(__clang__)
    switch (fbp_isa) {
    case FBP_ISA_AVX512:
        VNAME_AVX512(narrow_tn)(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc);
        break;
    case FBP_ISA_AVX2:
        VNAME_AVX2(narrow_tn)(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc);
        break;
    default:
        VNAME_BASE(narrow_tn)(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc);
        break;
    }
#else
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)rows; (void)b;
    (void)ldb; (void)beta; (void)c; (void)ldc;
#endif
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
    /* NaN passes through, so that a NaN output is never scored as a finite loss. */
    return LOG(x < TINY ? TINY : x);
}

double NAME(fbp_output_delta)(const REAL *o, const REAL *t, REAL *delta,
                              ptrdiff_t rows, ptrdiff_t cols, int act, int loss)
{
    double total = 0.0;
    ptrdiff_t n = rows * cols;
    if (loss == FBP_CROSS_ENTROPY || loss == FBP_POISSON) {
        /* With a sigmoid or softmax output for cross-entropy, and an exp output
           for the Poisson deviance, the chain rule collapses to o - t. */
        if (loss == FBP_POISSON) {
            for (ptrdiff_t i = 0; i < n; i++) {
                double ti = (double)t[i];
                double tlogt = ti > 0 ? ti * ((double)LOG(t[i]) - (double)NAME(safe_log)(o[i]))
                                      : 0.0;
                total += tlogt - ti + (double)o[i];
            }
        } else if (act == FBP_SOFTMAX) {
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
    /* Squared error, Huber and absolute error: dE/dz = dE/do f'(z), with dE/do
       = e, e clipped to the Huber threshold, or the sign of e (0 at e = 0). */
    const REAL h = (REAL)FBP_HUBER_DELTA;
    for (ptrdiff_t i = 0; i < n; i++) {
        double e = (double)o[i] - (double)t[i];
        double a = fabs(e);
        if (loss == FBP_ABSOLUTE_ERROR) {
            total += a;
        } else if (loss == FBP_HUBER && a > FBP_HUBER_DELTA) {
            total += FBP_HUBER_DELTA * (a - 0.5 * FBP_HUBER_DELTA);
        } else {
            total += 0.5 * e * e;
        }
    }
    if (delta != NULL) {
        if (loss == FBP_ABSOLUTE_ERROR) {
            for (ptrdiff_t i = 0; i < n; i++) {
                REAL e = o[i] - t[i];
                delta[i] = e > 0 ? (REAL)1 : (e < 0 ? (REAL)-1 : e);
            }
        } else if (loss == FBP_HUBER) {
            for (ptrdiff_t i = 0; i < n; i++) {
                REAL e = o[i] - t[i];
                delta[i] = e > h ? h : (e < -h ? -h : e);
            }
        } else {
            for (ptrdiff_t i = 0; i < n; i++) delta[i] = o[i] - t[i];
        }
        NAME(fbp_mul_deriv)(delta, o, n, act);
    }
    return total;
}

double NAME(fbp_weighted_output_delta)(const REAL *o, const REAL *t, REAL *delta,
                                       ptrdiff_t rows, ptrdiff_t cols, int act, int loss,
                                       const REAL *sw)
{
    double total = 0.0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        ptrdiff_t k = r * cols;
        total += (double)sw[r] * NAME(fbp_output_delta)(o + k, t + k, delta + k, 1, cols,
                                                        act, loss);
        for (ptrdiff_t j = 0; j < cols; j++) delta[k + j] *= sw[r];
    }
    return total;
}

double NAME(fbp_online)(int n_layers, const ptrdiff_t *sizes, const ptrdiff_t *w_off,
                        const ptrdiff_t *b_off, const ptrdiff_t *unit_off, const int *act,
                        int loss, REAL *params, const REAL *x, const int64_t *rows,
                        const REAL *y, ptrdiff_t count, REAL lr, int with_biases, int check,
                        REAL *acts, REAL *deltas, ptrdiff_t *done)
{
    ptrdiff_t widest = 0;
    for (int l = 0; l <= n_layers; l++) widest = sizes[l] > widest ? sizes[l] : widest;
#define FBP_ONLINE(build) build(online)(n_layers, sizes, w_off, b_off, unit_off, act, loss, \
                                         params, x, rows, y, count, lr, with_biases, check, \
                                         acts, deltas, done)
    switch (NAME(isa_for)(widest)) {
    case FBP_ISA_AVX512: return FBP_ONLINE(VNAME_AVX512);
    case FBP_ISA_AVX2: return FBP_ONLINE(VNAME_AVX2);
    default: return FBP_ONLINE(VNAME_BASE);
    }
#undef FBP_ONLINE
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

/* -- optimisers over the flat parameter buffer -------------------------------
   g is the gradient of the batch's mean loss, laid out like p. */

double NAME(fbp_add_l2)(REAL *g, const REAL *w, ptrdiff_t n, REAL c)
{
    double sq = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        g[i] += c * w[i];
        sq += (double)w[i] * (double)w[i];
    }
    return sq;
}

void NAME(fbp_sgd)(REAL *p, const REAL *g, ptrdiff_t n, REAL lr)
{
    for (ptrdiff_t i = 0; i < n; i++) p[i] -= lr * g[i];
}

void NAME(fbp_momentum)(REAL *p, const REAL *g, REAL *v, ptrdiff_t n, REAL lr, REAL mu,
                        int nesterov)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        /* v <- mu v - lr g;  p <- p + v, or p + mu v - lr g (Nesterov) */
        v[i] = mu * v[i] - lr * g[i];
        p[i] += nesterov ? mu * v[i] - lr * g[i] : v[i];
    }
}

void NAME(fbp_adam)(REAL *p, const REAL *g, REAL *m, REAL *v, ptrdiff_t n, REAL lr_t,
                    REAL beta_1, REAL beta_2, REAL eps)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        /* m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - lr_t m / (sqrt v + eps) */
        m[i] = beta_1 * m[i] + ((REAL)1 - beta_1) * g[i];
        v[i] = beta_2 * v[i] + ((REAL)1 - beta_2) * g[i] * g[i];
        p[i] -= lr_t * m[i] / (SQRT(v[i]) + eps);
    }
}

void NAME(fbp_irprop_minus)(REAL *p, const REAL *g, REAL *step, REAL *g_prev, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        REAL gi = g[i];
        REAL s = gi * g_prev[i];
        if (s > 0) {
            REAL up = step[i] * (REAL)FBP_RPROP_INCREASE;
            step[i] = up < (REAL)FBP_RPROP_STEP_MAX ? up : (REAL)FBP_RPROP_STEP_MAX;
        } else if (s < 0) {
            REAL down = step[i] * (REAL)FBP_RPROP_DECREASE;
            step[i] = down > (REAL)FBP_RPROP_STEP_MIN ? down : (REAL)FBP_RPROP_STEP_MIN;
            gi = 0; /* iRprop-: forget a gradient whose sign flipped, skip this step */
        }
        if (gi > 0) {
            p[i] -= step[i];
        } else if (gi < 0) {
            p[i] += step[i];
        }
        g_prev[i] = gi;
    }
}
