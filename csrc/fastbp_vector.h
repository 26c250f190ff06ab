/*
 * The vectorisable element-wise kernels: activations and their derivatives
 * and the finiteness check.  fastbp_kernels.c includes this file once for
 * each floating type and each instruction set it builds for, with:
 *   REAL, UINT   the element type and the unsigned integer of its width
 *   VNAME(f)     the function name with its type and instruction-set suffix
 *   FBP_TARGET   the function attribute that selects the instruction set
 *   FBP_VBYTES   the width in bytes of its vector registers
 *   MANT_BITS, EXP_BIAS, EXP_MIN   the format's mantissa bits, exponent bias and
 *                the most negative argument whose exponential is still normal
 *   LN2_HI, LN2_LO, EXP_POLY1(r)   Cody-Waite split of ln 2, and P1 with
 *                1 + r P1(r) the Taylor polynomial of e^r on |r| <= ln2/2,
 *                accurate to the format
 *
 * Their inner loops have no branches the compiler cannot turn into selects and
 * no library calls, so that they vectorise.
 */

/* e^x for x <= 0 (larger x is not needed by the activations below), as
   scale * (1 + r * P1(r)).  x is split as n ln2 + r with n an integer and
   |r| <= ln2/2; 1 + r P1(r) is the Taylor polynomial of e^r and scale = 2^n is
   built directly in the exponent bits.  Rounding x log2(e) to n uses the
   1.5 * 2^MANT_BITS shifter: after the addition the low mantissa bits of t
   hold n, and shifting them into the exponent field gives 2^n without a
   float-to-integer conversion.  Returns n (as a REAL). */
static FBP_INLINE FBP_TARGET REAL VNAME(exp_parts)(REAL x, REAL *r_out, REAL *p1_out, REAL *scale_out)
{
    const REAL shifter = (REAL)1.5 * (REAL)((UINT)1 << MANT_BITS);
    x = x < (REAL)EXP_MIN ? (REAL)EXP_MIN : x;
    REAL t = x * (REAL)1.4426950408889634 + shifter;
    UINT bits;
    memcpy(&bits, &t, sizeof bits);
    REAL n = t - shifter;
    REAL r = (x - n * (REAL)LN2_HI) - n * (REAL)LN2_LO;
    UINT scale_bits = (bits << MANT_BITS) + ((UINT)EXP_BIAS << MANT_BITS);
    memcpy(scale_out, &scale_bits, sizeof *scale_out);
    *r_out = r;
    *p1_out = EXP_POLY1(r);
    return n;
}

static FBP_INLINE FBP_TARGET REAL VNAME(exp_nonpos)(REAL x)
{
    REAL r, p1, scale;
    VNAME(exp_parts)(x, &r, &p1, &scale);
    return ((REAL)1 + r * p1) * scale;
}

/* e^x - 1 for x <= 0, without cancellation near 0: there n = 0 and the
   answer is r P1(r) itself. */
static FBP_INLINE FBP_TARGET REAL VNAME(expm1_nonpos)(REAL x)
{
    REAL r, p1, scale;
    REAL n = VNAME(exp_parts)(x, &r, &p1, &scale);
    REAL small = r * p1;
    REAL large = ((REAL)1 + small) * scale - (REAL)1;
    return n == 0 ? small : large;
}

/* sigmoid(z) = 1 / (1 + e^-z), evaluated through e = e^-|z| <= 1 so that
   nothing overflows: s = 1 / (1 + e) for z >= 0, and e s for z < 0. */
static FBP_INLINE FBP_TARGET REAL VNAME(sigmoid)(REAL z)
{
    REAL e = VNAME(exp_nonpos)(-(z < 0 ? -z : z));
    REAL s = (REAL)1 / ((REAL)1 + e);
    return z >= 0 ? s : e * s;
}

/* tanh(z) = sign(z) (1 - e) / (1 + e) with e = e^-2|z|, written with
   m = e - 1 as -m / (2 + m) so that small |z| keeps full relative accuracy. */
static FBP_INLINE FBP_TARGET REAL VNAME(tanh)(REAL z)
{
    REAL m = VNAME(expm1_nonpos)((REAL)-2 * (z < 0 ? -z : z));
    REAL t = -m / ((REAL)2 + m);
    return z < 0 ? -t : t;
}

static FBP_TARGET void VNAME(softmax_row)(REAL *z, ptrdiff_t cols)
{
    REAL m = z[0];
    for (ptrdiff_t j = 1; j < cols; j++) {
        if (z[j] > m) m = z[j];
    }
    REAL s = 0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        z[j] = VNAME(exp_nonpos)(z[j] - m);
        s += z[j];
    }
    REAL inv = (REAL)1 / s;
    for (ptrdiff_t j = 0; j < cols; j++) z[j] *= inv;
}

static FBP_INLINE FBP_TARGET void VNAME(act_flat)(REAL *z, ptrdiff_t n, int act)
{
    switch (act) {
    case FBP_SIGMOID:
        for (ptrdiff_t i = 0; i < n; i++) z[i] = VNAME(sigmoid)(z[i]);
        break;
    case FBP_TANH:
        for (ptrdiff_t i = 0; i < n; i++) z[i] = VNAME(tanh)(z[i]);
        break;
    /* Written so that NaN passes through: an overflow upstream must reach the
       output, where fastbp detects it, instead of being turned into 0. */
    case FBP_RELU:
        for (ptrdiff_t i = 0; i < n; i++) z[i] = z[i] < 0 ? 0 : z[i];
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++) z[i] = z[i] < 0 ? (REAL)FBP_LEAKY_SLOPE * z[i] : z[i];
        break;
    default: /* FBP_IDENTITY */
        break;
    }
}

/* Rows are taken about FBP_ACT_CHUNK values at a time: the bias is added to
   them and the activation applied over them in one loop, so that narrow rows
   (a 10-unit layer) still fill the vectors and wide ones stay in cache. */
#define FBP_ACT_CHUNK 1024

static FBP_TARGET void VNAME(bias_act)(REAL *z, const REAL *b, ptrdiff_t rows, ptrdiff_t cols, int act)
{
    ptrdiff_t step = cols >= FBP_ACT_CHUNK ? 1 : FBP_ACT_CHUNK / cols;
    for (ptrdiff_t i0 = 0; i0 < rows; i0 += step) {
        ptrdiff_t nr = rows - i0 < step ? rows - i0 : step;
        REAL *block = z + i0 * cols;
        if (b != NULL) {
            for (ptrdiff_t i = 0; i < nr; i++) {
                REAL *r = block + i * cols;
                for (ptrdiff_t j = 0; j < cols; j++) r[j] += b[j];
            }
        }
        if (act == FBP_SOFTMAX) {
            for (ptrdiff_t i = 0; i < nr; i++) VNAME(softmax_row)(block + i * cols, cols);
        } else {
            VNAME(act_flat)(block, nr * cols, act);
        }
    }
}
#undef FBP_ACT_CHUNK

/* s times the derivative of an activation, from its output a (see the top of
   fastbp_kernels.h); NaN in s passes through.  Identity and softmax (only
   ever an output layer's) leave s as it is. */
static FBP_INLINE FBP_TARGET REAL VNAME(times_deriv)(REAL s, REAL a, int act)
{
    switch (act) {
    case FBP_SIGMOID: return s * (a * ((REAL)1 - a));
    case FBP_TANH: return s * ((REAL)1 - a * a);
    case FBP_RELU: return a > 0 ? s : 0;
    case FBP_LEAKY_RELU: return a > 0 ? s : (REAL)FBP_LEAKY_SLOPE * s;
    default: return s;
    }
}

static FBP_TARGET void VNAME(mul_deriv)(REAL *delta, const REAL *a, ptrdiff_t n, int act)
{
    /* One loop per activation, each with its code a constant, so that it vectorises. */
    switch (act) {
    case FBP_SIGMOID:
        for (ptrdiff_t i = 0; i < n; i++) {
            delta[i] = VNAME(times_deriv)(delta[i], a[i], FBP_SIGMOID);
        }
        break;
    case FBP_TANH:
        for (ptrdiff_t i = 0; i < n; i++) {
            delta[i] = VNAME(times_deriv)(delta[i], a[i], FBP_TANH);
        }
        break;
    case FBP_RELU:
        for (ptrdiff_t i = 0; i < n; i++) {
            delta[i] = VNAME(times_deriv)(delta[i], a[i], FBP_RELU);
        }
        break;
    case FBP_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++) {
            delta[i] = VNAME(times_deriv)(delta[i], a[i], FBP_LEAKY_RELU);
        }
        break;
    default: /* identity; softmax only ever appears at the output */
        break;
    }
}

static FBP_TARGET int VNAME(all_finite)(const REAL *x, ptrdiff_t n)
{
    /* A value is NaN or infinite exactly when its exponent bits are all ones.
       Blocks keep the loop vectorisable and still stop early. */
    const UINT exp_mask = (((UINT)1 << (sizeof(UINT) * 8 - 1 - MANT_BITS)) - 1) << MANT_BITS;
    for (ptrdiff_t start = 0; start < n; start += 1024) {
        ptrdiff_t stop = n - start < 1024 ? n : start + 1024;
        UINT bad = 0;
        for (ptrdiff_t i = start; i < stop; i++) {
            UINT bits;
            memcpy(&bits, x + i, sizeof bits);
            bad |= (UINT)((bits & exp_mask) == exp_mask);
        }
        if (bad) return 0;
    }
    return 1;
}

/* C (m x n) = alpha op(A) op(B) + beta C, row-major, for products where a
   BLAS call costs more than the arithmetic: tiny ones (a 2x2 layer), rank one
   (an online weight update) and a single row times a wide-enough matrix (one
   sample through a layer).  beta == 0 never reads C.

   Without a transposed B, row i of C is the sum over p of A(i,p) B(p,:).  With
   GCC or Clang it is accumulated FBP_VBYTES-wide vectors at a time, two and
   then one, in registers across the whole sum; the last columns use a plain
   loop.  With a transposed B each entry is a dot product of two contiguous
   rows. */
#if defined(__GNUC__) || defined(__clang__)
#define FBP_LANES ((ptrdiff_t)(FBP_VBYTES / sizeof(REAL)))
typedef REAL VNAME(vec) __attribute__((vector_size(FBP_VBYTES)));

/* Columns j0 .. j0 + width of row i, with width = lanes (nvec = 1) or 2 lanes.
   Even and odd p go to separate accumulators, so that consecutive FMAs do
   not wait for each other. */
static FBP_INLINE FBP_TARGET void VNAME(row_block)(const REAL *ai, ptrdiff_t astep,
                                                  const REAL *b, ptrdiff_t ldb, ptrdiff_t k,
                                                  int nvec, REAL *acc)
{
    VNAME(vec) s0 = {0}, s1 = {0}, t0 = {0}, t1 = {0}, b0, b1, c0, c1;
    ptrdiff_t p = 0;
    if (nvec == 2) {
        for (; p + 1 < k; p += 2) {
            REAL ap = ai[p * astep], aq = ai[(p + 1) * astep];
            memcpy(&b0, b + p * ldb, sizeof b0);
            memcpy(&b1, b + p * ldb + FBP_LANES, sizeof b1);
            memcpy(&c0, b + (p + 1) * ldb, sizeof c0);
            memcpy(&c1, b + (p + 1) * ldb + FBP_LANES, sizeof c1);
            s0 += ap * b0;
            s1 += ap * b1;
            t0 += aq * c0;
            t1 += aq * c1;
        }
        if (p < k) {
            memcpy(&b0, b + p * ldb, sizeof b0);
            memcpy(&b1, b + p * ldb + FBP_LANES, sizeof b1);
            s0 += ai[p * astep] * b0;
            s1 += ai[p * astep] * b1;
        }
    } else {
        for (; p + 1 < k; p += 2) {
            memcpy(&b0, b + p * ldb, sizeof b0);
            memcpy(&c0, b + (p + 1) * ldb, sizeof c0);
            s0 += ai[p * astep] * b0;
            t0 += ai[(p + 1) * astep] * c0;
        }
        if (p < k) {
            memcpy(&b0, b + p * ldb, sizeof b0);
            s0 += ai[p * astep] * b0;
        }
    }
    s0 += t0;
    s1 += t1;
    memcpy(acc, &s0, sizeof s0);
    memcpy(acc + FBP_LANES, &s1, sizeof s1);
}
#endif

static FBP_INLINE FBP_TARGET void VNAME(store_row)(REAL *c, const REAL *acc, ptrdiff_t n,
                                                  REAL alpha, REAL beta)
{
    if (beta == 0) {
        for (ptrdiff_t j = 0; j < n; j++) c[j] = alpha * acc[j];
    } else {
        for (ptrdiff_t j = 0; j < n; j++) c[j] = alpha * acc[j] + beta * c[j];
    }
}

static FBP_TARGET void VNAME(small_gemm)(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n,
                                         ptrdiff_t k, REAL alpha, const REAL *a, ptrdiff_t lda,
                                         const REAL *b, ptrdiff_t ldb, REAL beta, REAL *c,
                                         ptrdiff_t ldc)
{
    /* A(i, p) = ai[p * astep] */
    ptrdiff_t astep = trans_a ? lda : 1;
    REAL acc[128 / sizeof(REAL)];
    for (ptrdiff_t i = 0; i < m; i++) {
        const REAL *ai = trans_a ? a + i : a + i * lda;
        REAL *ci = c + i * ldc;
        if (trans_b) {
            for (ptrdiff_t j = 0; j < n; j++) {
                const REAL *bj = b + j * ldb;
                REAL s = 0;
                for (ptrdiff_t p = 0; p < k; p++) s += ai[p * astep] * bj[p];
                acc[0] = s;
                VNAME(store_row)(ci + j, acc, 1, alpha, beta);
            }
            continue;
        }
        ptrdiff_t j0 = 0;
#ifdef FBP_LANES
        for (; j0 + 2 * FBP_LANES <= n; j0 += 2 * FBP_LANES) {
            VNAME(row_block)(ai, astep, b + j0, ldb, k, 2, acc);
            VNAME(store_row)(ci + j0, acc, 2 * FBP_LANES, alpha, beta);
        }
        for (; j0 + FBP_LANES <= n; j0 += FBP_LANES) {
            VNAME(row_block)(ai, astep, b + j0, ldb, k, 1, acc);
            VNAME(store_row)(ci + j0, acc, FBP_LANES, alpha, beta);
        }
#endif
        ptrdiff_t rest = n - j0;
        if (rest > 0) {
            for (ptrdiff_t jj = 0; jj < rest; jj++) acc[jj] = 0;
            for (ptrdiff_t p = 0; p < k; p++) {
                REAL ap = ai[p * astep];
                const REAL *bp = b + p * ldb + j0;
                for (ptrdiff_t jj = 0; jj < rest; jj++) acc[jj] += ap * bp[jj];
            }
            VNAME(store_row)(ci + j0, acc, rest, alpha, beta);
        }
    }
}

/* -- narrow products -------------------------------------------------------
   Products whose C is one to four vectors wide (8 to 32 doubles with AVX-512)
   but long in the other directions, like a 784 -> 16 layer over a batch.  BLAS
   spends much of such a product packing A; these loops instead keep a block of
   C in FBP_NARROW_ACC vector registers across the whole sum and read A where
   it lies.  Row i of A is a + rows[i] * lda, or a + i * lda when rows is NULL,
   so that a shuffled batch is read straight out of the data set instead of
   being gathered first.  Columns past the last full vector are summed one at a
   time.  beta == 0 never reads C. */
#ifdef FBP_LANES
#if FBP_VBYTES >= 64
#define FBP_NARROW_ACC 16
#else
#define FBP_NARROW_ACC 8
#endif
/* Rows of A whose sums the transposed product accumulates before it adds
   them to C, so that they stay in cache while every block of C reads them. */
#define FBP_NARROW_CHUNK 128

static FBP_INLINE FBP_TARGET const REAL *VNAME(row_of)(const REAL *a, ptrdiff_t lda,
                                                      const int64_t *rows, ptrdiff_t i)
{
    return a + (rows != NULL ? (ptrdiff_t)rows[i] : i) * lda;
}

static FBP_INLINE FBP_TARGET void VNAME(store_vec)(REAL *c, VNAME(vec) acc, REAL alpha, REAL beta)
{
    VNAME(vec) out = alpha * acc, old;
    if (beta != 0) {
        memcpy(&old, c, sizeof old);
        out += beta * old;
    }
    memcpy(c, &out, sizeof out);
}

/* Rows ar[0..nr) of A (k long) times the first nv vectors of B's columns,
   stored to the rows cr[0..nr) of C.  While it reads a cache line of each row
   of A it asks for the same line of the rows pf[0..nr) (NULL: none): the next
   batch's rows, which then arrive while this one computes. */
static FBP_INLINE FBP_TARGET void VNAME(nn_block)(const int nv, const int nr,
                                                 const REAL *const *ar, const REAL *b,
                                                 ptrdiff_t ldb, ptrdiff_t k, REAL *const *cr,
                                                 REAL alpha, REAL beta, const REAL *const *pf)
{
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(REAL);
    VNAME(vec) acc[16], bv[4];
    for (int q = 0; q < nv * nr; q++) acc[q] = (VNAME(vec)){0};
    for (ptrdiff_t p0 = 0; p0 < k; p0 += line) {
        if (pf != NULL) {
            for (int t = 0; t < nr; t++) __builtin_prefetch(pf[t] + p0, 0, 2);
        }
        ptrdiff_t p1 = k - p0 < line ? k : p0 + line;
        for (ptrdiff_t p = p0; p < p1; p++) {
            for (int v = 0; v < nv; v++) memcpy(&bv[v], b + p * ldb + v * FBP_LANES, sizeof bv[v]);
            for (int t = 0; t < nr; t++) {
                REAL x = ar[t][p];
                for (int v = 0; v < nv; v++) acc[t * nv + v] += x * bv[v];
            }
        }
    }
    for (int t = 0; t < nr; t++) {
        for (int v = 0; v < nv; v++) VNAME(store_vec)(cr[t] + v * FBP_LANES, acc[t * nv + v], alpha, beta);
    }
}

/* Output rows p0 .. p0 + nr of the transposed product over the rows ar[0..k)
   of A and B's rows b[0..k) (each ldb apart): sum over i of A(i, p) B(i, :). */
static FBP_INLINE FBP_TARGET void VNAME(tn_block)(const int nv, const int nr,
                                                 const REAL *const *ar, ptrdiff_t p0,
                                                 const REAL *b, ptrdiff_t ldb, ptrdiff_t k,
                                                 REAL *c, ptrdiff_t ldc, REAL alpha, REAL beta)
{
    VNAME(vec) acc[16], bv[4];
    for (int q = 0; q < nv * nr; q++) acc[q] = (VNAME(vec)){0};
    for (ptrdiff_t i = 0; i < k; i++) {
        const REAL *x = ar[i] + p0;
        /* Row i's part of the next block of C, into L1 before it is needed. */
        __builtin_prefetch(x + nr, 0, 3);
        for (int v = 0; v < nv; v++) memcpy(&bv[v], b + i * ldb + v * FBP_LANES, sizeof bv[v]);
        for (int t = 0; t < nr; t++) {
            for (int v = 0; v < nv; v++) acc[t * nv + v] += x[t] * bv[v];
        }
    }
    for (int t = 0; t < nr; t++) {
        for (int v = 0; v < nv; v++) {
            VNAME(store_vec)(c + (p0 + t) * ldc + v * FBP_LANES, acc[t * nv + v], alpha, beta);
        }
    }
}

/* Full vectors of C's columns that the register blocks take, at most four.
   Columns past them -- all of them when C is narrower than one vector --
   take the scalar tail, so any n gives the right result (a change of
   instruction set between choosing these kernels and calling them, say, only
   costs speed). */
static FBP_INLINE FBP_TARGET int VNAME(narrow_vectors)(ptrdiff_t n)
{
    ptrdiff_t nv = n / FBP_LANES;
    return nv > 4 ? 4 : (int)nv;
}

/* The block size for the next `left` rows: a full register block, else 4, 2
   or 1 rows, each a loop the compiler unrolls completely. */
static FBP_INLINE FBP_TARGET int VNAME(narrow_rows)(int full, ptrdiff_t left)
{
    if (left >= full) return full;
    return left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

/* Calls BLOCK(nv, nr, ...) with nv and nr as constants. */
#define FBP_NARROW_CALL(BLOCK, nv, nr, ...) do {                                   \
    const int full_ = FBP_NARROW_ACC / (nv);                                       \
    switch ((nv) * 100 + (nr == full_ ? 99 : nr)) {                                 \
    case 199: BLOCK(1, FBP_NARROW_ACC, __VA_ARGS__); break;                        \
    case 299: BLOCK(2, FBP_NARROW_ACC / 2, __VA_ARGS__); break;                    \
    case 399: BLOCK(3, FBP_NARROW_ACC / 3, __VA_ARGS__); break;                    \
    case 499: BLOCK(4, FBP_NARROW_ACC / 4, __VA_ARGS__); break;                    \
    case 104: BLOCK(1, 4, __VA_ARGS__); break;                                     \
    case 204: BLOCK(2, 4, __VA_ARGS__); break;                                     \
    case 304: BLOCK(3, 4, __VA_ARGS__); break;                                     \
    case 102: BLOCK(1, 2, __VA_ARGS__); break;                                     \
    case 202: BLOCK(2, 2, __VA_ARGS__); break;                                     \
    case 302: BLOCK(3, 2, __VA_ARGS__); break;                                     \
    case 402: BLOCK(4, 2, __VA_ARGS__); break;                                     \
    case 101: BLOCK(1, 1, __VA_ARGS__); break;                                     \
    case 201: BLOCK(2, 1, __VA_ARGS__); break;                                     \
    case 301: BLOCK(3, 1, __VA_ARGS__); break;                                     \
    default: BLOCK(4, 1, __VA_ARGS__); break;                                      \
    }                                                                              \
} while (0)

/* C (m x n) = alpha A B + beta C with A m x k (rows picked by `rows`), B k x n,
   fast for LANES <= n <= 4 LANES.  The rows next_rows[0..n_next) of `next` (NULL: none)
   are prefetched. */
static FBP_TARGET void VNAME(narrow_nn)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, REAL alpha,
                                        const REAL *a, ptrdiff_t lda, const int64_t *rows,
                                        const REAL *b, ptrdiff_t ldb, REAL beta, REAL *c,
                                        ptrdiff_t ldc, const int64_t *next_rows,
                                        ptrdiff_t n_next)
{
    const int nv = VNAME(narrow_vectors)(n);
    const REAL *ar[FBP_NARROW_ACC], *pf[FBP_NARROW_ACC];
    REAL *cr[FBP_NARROW_ACC];
    for (ptrdiff_t i = 0; i < m && nv > 0;) {
        int nr = VNAME(narrow_rows)(FBP_NARROW_ACC / nv, m - i);
        for (int t = 0; t < nr; t++) {
            ar[t] = VNAME(row_of)(a, lda, rows, i + t);
            cr[t] = c + (i + t) * ldc;
            pf[t] = i + t < n_next ? VNAME(row_of)(a, lda, next_rows, i + t) : ar[t];
        }
#define FBP_NN(nv_, nr_, ...) VNAME(nn_block)(nv_, nr_, ar, b, ldb, k, cr, alpha, beta, \
                                                next_rows != NULL ? pf : NULL)
        FBP_NARROW_CALL(FBP_NN, nv, nr, 0);
#undef FBP_NN
        i += nr;
    }
    for (ptrdiff_t i = 0; i < m && nv * FBP_LANES < n; i++) {
        const REAL *ai = VNAME(row_of)(a, lda, rows, i);
        for (ptrdiff_t j = nv * FBP_LANES; j < n; j++) {
            REAL s = 0;
            for (ptrdiff_t p = 0; p < k; p++) s += ai[p] * b[p * ldb + j];
            c[i * ldc + j] = beta != 0 ? alpha * s + beta * c[i * ldc + j] : alpha * s;
        }
    }
}

/* C (m x n) = alpha A^T B + beta C with A k x m (rows picked by `rows`), B k x n,
   fast for LANES <= n <= 4 LANES: a weight gradient a(l-1)^T delta(l). */
static FBP_TARGET void VNAME(narrow_tn)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, REAL alpha,
                                        const REAL *a, ptrdiff_t lda, const int64_t *rows,
                                        const REAL *b, ptrdiff_t ldb, REAL beta, REAL *c,
                                        ptrdiff_t ldc)
{
    const int nv = VNAME(narrow_vectors)(n);
    const REAL *ar[FBP_NARROW_CHUNK];
    for (ptrdiff_t i0 = 0; i0 < k; i0 += FBP_NARROW_CHUNK) {
        ptrdiff_t kc = k - i0 < FBP_NARROW_CHUNK ? k - i0 : FBP_NARROW_CHUNK;
        REAL bc = i0 == 0 ? beta : (REAL)1;
        for (ptrdiff_t i = 0; i < kc; i++) ar[i] = VNAME(row_of)(a, lda, rows, i0 + i);
        const REAL *bi = b + i0 * ldb;
        for (ptrdiff_t p = 0; p < m && nv > 0;) {
            int nr = VNAME(narrow_rows)(FBP_NARROW_ACC / nv, m - p);
#define FBP_TN(nv_, nr_, ...) VNAME(tn_block)(nv_, nr_, ar, p, bi, ldb, kc, c, ldc, alpha, bc)
            FBP_NARROW_CALL(FBP_TN, nv, nr, 0);
#undef FBP_TN
            p += nr;
        }
        for (ptrdiff_t p = 0; p < m && nv * FBP_LANES < n; p++) {
            for (ptrdiff_t j = nv * FBP_LANES; j < n; j++) {
                REAL s = 0;
                for (ptrdiff_t i = 0; i < kc; i++) s += ar[i][p] * bi[i * ldb + j];
                REAL *cj = c + p * ldc + j;
                *cj = bc != 0 ? alpha * s + bc * *cj : alpha * s;
            }
        }
    }
}
/* C (m x n) = alpha A B^T + beta C with B n x k, n * k <= FBP_NARROW_NT_MAX:
   B^T is copied to the stack (a delta times a small weight matrix). */
static FBP_TARGET void VNAME(narrow_nt)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, REAL alpha,
                                        const REAL *a, ptrdiff_t lda, const REAL *b,
                                        ptrdiff_t ldb, REAL beta, REAL *c, ptrdiff_t ldc)
{
    REAL bt[FBP_NARROW_NT_MAX];
    for (ptrdiff_t j = 0; j < n; j++) {
        for (ptrdiff_t p = 0; p < k; p++) bt[p * n + j] = b[j * ldb + p];
    }
    VNAME(narrow_nn)(m, n, k, alpha, a, lda, NULL, bt, n, beta, c, ldc, NULL, 0);
}
#undef FBP_NARROW_CALL
#undef FBP_NARROW_ACC
#undef FBP_NARROW_CHUNK
#endif

/* -- one sample at a time ----------------------------------------------------
   Online SGD (a batch of one) as one loop over the samples, each through the
   whole network without a call per layer: what a 2-2-2 network needs to be
   fast, and what lets a wide first layer (784 -> 16) be updated in one pass
   over its rows.  The arithmetic is the batch path's for one row, with the
   update W(l) += -lr a(l-1)^T delta(l) applied row by row right after that
   row of W(l) has given its part of delta(l-1) (so delta(l-1) still sees the
   W(l) before the update, as back-propagation requires). */

/* w += c d over n values; with dot set, returns w . d taken before the update. */
static FBP_INLINE FBP_TARGET REAL VNAME(axpy_dot)(REAL *w, const REAL *d, ptrdiff_t n, REAL c,
                                                 int dot)
{
    ptrdiff_t j = 0;
    REAL s = 0;
#ifdef FBP_LANES
    VNAME(vec) acc = {0}, wv, dv;
    for (; j + FBP_LANES <= n; j += FBP_LANES) {
        memcpy(&wv, w + j, sizeof wv);
        memcpy(&dv, d + j, sizeof dv);
        if (dot) acc += wv * dv;
        wv += c * dv;
        memcpy(w + j, &wv, sizeof wv);
    }
    if (dot) {
        for (int q = 0; q < (int)FBP_LANES; q++) s += acc[q];
    }
#endif
    for (; j < n; j++) {
        if (dot) s += w[j] * d[j];
        w[j] += c * d[j];
    }
    return s;
}

/* W (ni x no) += c xp d^T: a layer's update from one sample. */
static FBP_INLINE FBP_TARGET void VNAME(add_outer)(REAL *W, ptrdiff_t ni, ptrdiff_t no, REAL c,
                                                  const REAL *xp, const REAL *d)
{
    for (ptrdiff_t i = 0; i < ni; i++) VNAME(axpy_dot)(W + i * no, d, no, c * xp[i], 0);
}

/* The first layer of the next sample, fused with the update of the previous:
   W += c xp d^T, then z = x . W, in one pass over W's rows (ni x no): W is read
   and written once a sample instead of read twice.  Even and odd rows sum into
   separate accumulators, so that consecutive multiply-adds do not wait for
   each other. */
#ifdef FBP_LANES
static FBP_INLINE FBP_TARGET void VNAME(update_times_nv)(const int nv, REAL *W, ptrdiff_t ni,
                                                        const REAL *xp, REAL c, const REAL *d,
                                                        const REAL *x, REAL *z)
{
    const ptrdiff_t no = nv * FBP_LANES;
    VNAME(vec) dv[4], even[4], odd[4], wv;
    for (int v = 0; v < nv; v++) {
        memcpy(&dv[v], d + v * FBP_LANES, sizeof dv[v]);
        even[v] = odd[v] = (VNAME(vec)){0};
    }
    ptrdiff_t i = 0;
    for (; i + 1 < ni; i += 2) {
        REAL *w = W + i * no;
        REAL c0 = c * xp[i], c1 = c * xp[i + 1], x0 = x[i], x1 = x[i + 1];
        for (int v = 0; v < nv; v++) {
            memcpy(&wv, w + v * FBP_LANES, sizeof wv);
            wv += c0 * dv[v];
            memcpy(w + v * FBP_LANES, &wv, sizeof wv);
            even[v] += x0 * wv;
            memcpy(&wv, w + no + v * FBP_LANES, sizeof wv);
            wv += c1 * dv[v];
            memcpy(w + no + v * FBP_LANES, &wv, sizeof wv);
            odd[v] += x1 * wv;
        }
    }
    for (; i < ni; i++) {
        REAL *w = W + i * no;
        for (int v = 0; v < nv; v++) {
            memcpy(&wv, w + v * FBP_LANES, sizeof wv);
            wv += (c * xp[i]) * dv[v];
            memcpy(w + v * FBP_LANES, &wv, sizeof wv);
            even[v] += x[i] * wv;
        }
    }
    for (int v = 0; v < nv; v++) {
        even[v] += odd[v];
        memcpy(z + v * FBP_LANES, &even[v], sizeof even[v]);
    }
}
#endif

static FBP_INLINE FBP_TARGET void VNAME(update_times)(REAL *W, ptrdiff_t ni, ptrdiff_t no,
                                                     const REAL *xp, REAL c, const REAL *d,
                                                     const REAL *x, REAL *z)
{
#ifdef FBP_LANES
    if (no % FBP_LANES == 0 && no <= 4 * FBP_LANES) {
        switch (no / FBP_LANES) {
        case 1: VNAME(update_times_nv)(1, W, ni, xp, c, d, x, z); return;
        case 2: VNAME(update_times_nv)(2, W, ni, xp, c, d, x, z); return;
        case 3: VNAME(update_times_nv)(3, W, ni, xp, c, d, x, z); return;
        case 4: VNAME(update_times_nv)(4, W, ni, xp, c, d, x, z); return;
        }
    }
#endif
    VNAME(add_outer)(W, ni, no, c, xp, d);
    VNAME(small_gemm)(0, 0, 1, no, ni, (REAL)1, x, ni, W, no, (REAL)0, z, no);
}

static FBP_TARGET double VNAME(online)(int n_layers, const ptrdiff_t *sizes,
                                       const ptrdiff_t *w_off, const ptrdiff_t *b_off,
                                       const ptrdiff_t *unit_off, const int *act, int loss,
                                       REAL *params, const REAL *x0, const int64_t *rows,
                                       const REAL *y0, ptrdiff_t count, REAL lr,
                                       int with_biases, int check, REAL *acts, REAL *deltas,
                                       ptrdiff_t *done)
{
    const int L = n_layers, out_act = act[L - 1];
    const ptrdiff_t n_in0 = sizes[0], n_out = sizes[L];
    double total = 0.0, sample = 0.0;
    /* The first layer's update from the previous sample (its input, with its
       delta still in deltas) waits to be fused with the next forward pass. */
    const REAL *pending = NULL;
    ptrdiff_t r = 0;
    for (; r < count; r++) {
        ptrdiff_t row = rows != NULL ? (ptrdiff_t)rows[r] : r;
        const REAL *x = x0 + row * n_in0, *y = y0 + row * n_out;
        /* forward: a(l) = f(a(l-1) . W(l) + b(l)) */
        const REAL *a = x;
        for (int l = 0; l < L; l++) {
            ptrdiff_t ni = sizes[l], no = sizes[l + 1];
            REAL *z = acts + unit_off[l];
            if (l == 0 && pending != NULL) {
                VNAME(update_times)(params + w_off[0], ni, no, pending, -lr,
                                    deltas + unit_off[0], a, z);
                pending = NULL;
            } else {
                VNAME(small_gemm)(0, 0, 1, no, ni, (REAL)1, a, ni, params + w_off[l], no,
                                  (REAL)0, z, no);
            }
            if (l == 0 && check && !VNAME(all_finite)(z, no) && !VNAME(all_finite)(x, ni)) {
                sample = NAN;
                break;
            }
            const REAL *b = params + b_off[l];
            for (ptrdiff_t j = 0; j < no; j++) z[j] += b[j];
            if (act[l] == FBP_SOFTMAX) {
                VNAME(softmax_row)(z, no);
            } else if (act[l] == FBP_EXP) {
                for (ptrdiff_t j = 0; j < no; j++) z[j] = EXP(z[j]);
            } else {
                VNAME(act_flat)(z, no, act[l]);
            }
            a = z;
        }
        if (isnan(sample)) break;
        /* delta(L) and the sample's loss */
        REAL *d = deltas + unit_off[L - 1];
        const REAL *o = acts + unit_off[L - 1];
        sample = FBP_OUTPUT_DELTA(o, y, d, 1, n_out, out_act, loss);
        if (!isfinite(sample)) break;
        total += sample;
        /* backward, updating each layer as its deltas are used */
        for (int l = L - 1; l >= 0; l--) {
            ptrdiff_t ni = sizes[l], no = sizes[l + 1];
            REAL *W = params + w_off[l];
            const REAL *ap = l == 0 ? x : acts + unit_off[l - 1];
            REAL *dp = l == 0 ? NULL : deltas + unit_off[l - 1];
            if (l == 0) {
                pending = x;
            } else {
                for (ptrdiff_t i = 0; i < ni; i++) {
                    REAL s = VNAME(axpy_dot)(W + i * no, d, no, -lr * ap[i], 1);
                    dp[i] = VNAME(times_deriv)(s, ap[i], act[l - 1]);
                }
            }
            if (with_biases) VNAME(axpy_dot)(params + b_off[l], d, no, -lr, 0);
            d = dp;
        }
    }
    if (pending != NULL) {
        VNAME(add_outer)(params + w_off[0], n_in0, sizes[1], -lr, pending, deltas + unit_off[0]);
    }
    *done = r;
    return r < count ? total + sample : total;
}
#undef FBP_LANES
