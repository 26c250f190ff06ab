/*
 * Body of the element-wise kernels, written once and included by
 * fastbp_kernels.c for each floating type with:
 *   REAL      the element type
 *   NAME(f)   the function name with its type suffix
 *   EXP, LOG, TANH   the math functions of that type
 *   TINY      the smallest positive normal value (the floor of the safe log)
 */

static inline REAL NAME(sigmoid)(REAL z)
{
    /* Branch on the sign so exp never sees a large positive argument. */
    if (z >= 0) {
        return (REAL)1 / ((REAL)1 + EXP(-z));
    }
    REAL e = EXP(z);
    return e / ((REAL)1 + e);
}

static inline REAL NAME(safe_log)(REAL x)
{
    return LOG(x > TINY ? x : TINY);
}

static void NAME(softmax_row)(REAL *z, ptrdiff_t cols)
{
    REAL m = z[0];
    for (ptrdiff_t j = 1; j < cols; j++) {
        if (z[j] > m) m = z[j];
    }
    REAL s = 0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        z[j] = EXP(z[j] - m);
        s += z[j];
    }
    REAL inv = (REAL)1 / s;
    for (ptrdiff_t j = 0; j < cols; j++) z[j] *= inv;
}

void NAME(fbp_bias_act)(REAL *z, const REAL *b, ptrdiff_t rows, ptrdiff_t cols, int act)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        REAL *r = z + i * cols;
        if (b != NULL) {
            for (ptrdiff_t j = 0; j < cols; j++) r[j] += b[j];
        }
        switch (act) {
        case FBP_SIGMOID:
            for (ptrdiff_t j = 0; j < cols; j++) r[j] = NAME(sigmoid)(r[j]);
            break;
        case FBP_TANH:
            for (ptrdiff_t j = 0; j < cols; j++) r[j] = TANH(r[j]);
            break;
        case FBP_RELU:
            for (ptrdiff_t j = 0; j < cols; j++) r[j] = r[j] > 0 ? r[j] : 0;
            break;
        case FBP_LEAKY_RELU:
            for (ptrdiff_t j = 0; j < cols; j++) {
                r[j] = r[j] > 0 ? r[j] : (REAL)FBP_LEAKY_SLOPE * r[j];
            }
            break;
        case FBP_SOFTMAX:
            NAME(softmax_row)(r, cols);
            break;
        default: /* FBP_IDENTITY */
            break;
        }
    }
}

void NAME(fbp_mul_deriv)(REAL *delta, const REAL *a, ptrdiff_t n, int act)
{
    switch (act) {
    case FBP_SIGMOID:
        for (ptrdiff_t i = 0; i < n; i++) delta[i] *= a[i] * ((REAL)1 - a[i]);
        break;
    case FBP_TANH:
        for (ptrdiff_t i = 0; i < n; i++) delta[i] *= (REAL)1 - a[i] * a[i];
        break;
    case FBP_RELU:
        for (ptrdiff_t i = 0; i < n; i++) delta[i] = a[i] > 0 ? delta[i] : 0;
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++) {
            delta[i] = a[i] > 0 ? delta[i] : (REAL)FBP_LEAKY_SLOPE * delta[i];
        }
        break;
    default: /* identity; softmax only ever appears at the output */
        break;
    }
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
