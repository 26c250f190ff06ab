# One row-major GEMM over scipy.linalg.cython_blas, for float and double.
#
# BLAS is column-major: a row-major matrix M is, to it, the matrix M^T.  So the
# row-major product C = op(A) op(B) is computed as the column-major product
# C^T = op(B)^T op(A)^T: swap the operands and keep each one's transpose flag.
#
# Products where a BLAS call costs more than the arithmetic -- tiny ones (a 2x2
# layer), rank one (an online weight update), one row times a matrix (one
# sample through a layer) -- take the direct loops of csrc/ instead; one row
# times a transposed matrix is a GEMV.  Products whose C is one to four vectors
# wide (a 784 -> 16 layer, its weight gradient, a delta through a small W^T)
# take csrc/'s narrow kernels, which can also read the rows of A through an
# index (a shuffled batch, in place).  All paths have the same semantics, and
# beta == 0 never reads C.
from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv


cdef extern from "fastbp_kernels.h" nogil:
    void fbp_small_gemm_d(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                          double alpha, const double *a, Py_ssize_t lda, const double *b,
                          Py_ssize_t ldb, double beta, double *c, Py_ssize_t ldc)
    void fbp_small_gemm_s(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                          float alpha, const float *a, Py_ssize_t lda, const float *b,
                          Py_ssize_t ldb, float beta, float *c, Py_ssize_t ldc)
    int fbp_vbytes
    enum:
        FBP_NARROW_NT_MAX
    void fbp_narrow_nt_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha, const double *a,
                         Py_ssize_t lda, const double *b, Py_ssize_t ldb, double beta, double *c,
                         Py_ssize_t ldc)
    void fbp_narrow_nt_s(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha, const float *a,
                         Py_ssize_t lda, const float *b, Py_ssize_t ldb, float beta, float *c,
                         Py_ssize_t ldc)
    void fbp_narrow_nn_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha, const double *a,
                         Py_ssize_t lda, const int64_t *rows, const double *b, Py_ssize_t ldb,
                         double beta, double *c, Py_ssize_t ldc, const int64_t *next_rows,
                         Py_ssize_t n_next)
    void fbp_narrow_nn_s(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha, const float *a,
                         Py_ssize_t lda, const int64_t *rows, const float *b, Py_ssize_t ldb,
                         float beta, float *c, Py_ssize_t ldc, const int64_t *next_rows,
                         Py_ssize_t n_next)
    void fbp_narrow_tn_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha, const double *a,
                         Py_ssize_t lda, const int64_t *rows, const double *b, Py_ssize_t ldb,
                         double beta, double *c, Py_ssize_t ldc)
    void fbp_narrow_tn_s(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha, const float *a,
                         Py_ssize_t lda, const int64_t *rows, const float *b, Py_ssize_t ldb,
                         float beta, float *c, Py_ssize_t ldc)

# m * n * k at or below which the direct loops are used whatever the shape.
cdef enum:
    SMALL_GEMM = 512


cdef inline bint takes_direct_path(bint trans_b, int m, int n, int k) noexcept nogil:
    return k == 1 or (m == 1 and not trans_b) or <long>m * n * k <= SMALL_GEMM


# m * n * k above which even a narrow product goes to BLAS: the narrow loops
# run on one thread, and from about this size BLAS gains from more (a
# 256 x 1024 -> 10 layer is 2.6e6; a batch of 32 through 784 -> 16 is 4e5).
cdef enum:
    NARROW_WORK_MAX = 1 << 21


cdef inline bint takes_narrow(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                              size_t itemsize) noexcept nogil:
    """Whether C (m x n) = op(A) op(B) with inner size k suits the narrow kernels:
    C one to four vectors wide, and not too much work for one thread."""
    cdef Py_ssize_t lanes = fbp_vbytes // itemsize
    # m * k values of A exist in memory, so the product cannot overflow.
    return (lanes > 0 and lanes <= n <= 4 * lanes and n % lanes == 0
            and m * n * k <= NARROW_WORK_MAX)


cdef inline void narrow_nn(int m, int n, int k, floating alpha, const floating *a, int lda,
                           const int64_t *rows, const floating *b, int ldb, floating beta,
                           floating *c, int ldc, const int64_t *next_rows,
                           Py_ssize_t n_next) noexcept nogil:
    """C = alpha A B + beta C, row i of A at a + rows[i] * lda (rows NULL: i * lda)."""
    if floating is double:
        fbp_narrow_nn_d(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc, next_rows, n_next)
    else:
        fbp_narrow_nn_s(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc, next_rows, n_next)


cdef inline void narrow_tn(int m, int n, int k, floating alpha, const floating *a, int lda,
                           const int64_t *rows, const floating *b, int ldb, floating beta,
                           floating *c, int ldc) noexcept nogil:
    """C = alpha A^T B + beta C, row i of A (k x m) at a + rows[i] * lda (rows NULL: i * lda)."""
    if floating is double:
        fbp_narrow_tn_d(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc)
    else:
        fbp_narrow_tn_s(m, n, k, alpha, a, lda, rows, b, ldb, beta, c, ldc)


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating *a, int lda,
                      const floating *b, int ldb, floating beta,
                      floating *c, int ldc) noexcept nogil:
    """C (m x n) = alpha * op(A) @ op(B) + beta * C, all row-major; op(A) is m x k."""
    if takes_direct_path(trans_b, m, n, k):
        if floating is double:
            fbp_small_gemm_d(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        else:
            fbp_small_gemm_s(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    if takes_narrow(m, n, k, sizeof(floating)):
        if not trans_b:
            if trans_a:
                narrow_tn(m, n, k, alpha, a, lda, NULL, b, ldb, beta, c, ldc)
            else:
                narrow_nn(m, n, k, alpha, a, lda, NULL, b, ldb, beta, c, ldc, NULL, 0)
            return
        # delta(l) . W(l)^T with a small W(l): its transpose fits on the stack.
        if not trans_a and <long>n * k <= FBP_NARROW_NT_MAX:
            if floating is double:
                fbp_narrow_nt_d(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            else:
                fbp_narrow_nt_s(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    # A single row of A: c = op(B)^T a, one matrix-vector product.  BLAS sees
    # row-major B as the column-major matrix B^T -- n x k, or k x n when B is
    # given transposed -- and takes the same transpose flag as in the GEMM.
    cdef int rows_b = k if trans_b else n, cols_b = n if trans_b else k
    cdef int inc_a = lda if trans_a else 1, one = 1
    if m == 1:
        if floating is double:
            dgemv(&ta, &rows_b, &cols_b, &alpha, <double *>b, &ldb, <double *>a, &inc_a,
                  &beta, c, &one)
        else:
            sgemv(&ta, &rows_b, &cols_b, &alpha, <float *>b, &ldb, <float *>a, &inc_a,
                  &beta, c, &one)
        return
    if floating is double:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *>b, &ldb, <double *>a, &lda,
              &beta, c, &ldc)
    else:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *>b, &ldb, <float *>a, &lda,
              &beta, c, &ldc)
