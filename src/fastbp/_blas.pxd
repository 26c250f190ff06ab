# One row-major GEMM over scipy.linalg.cython_blas, for float and double.
#
# BLAS is column-major: a row-major matrix M is, to it, the matrix M^T.  So the
# row-major product C = op(A) op(B) is computed as the column-major product
# C^T = op(B)^T op(A)^T: swap the operands and keep each one's transpose flag.
#
# Products too small to amortise a BLAS call (a 2x2 layer trained one sample at
# a time) take a plain loop instead; both paths have the same semantics, and
# beta == 0 never reads C.
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

# m * n * k at or below which the direct loop is used.
cdef enum:
    SMALL_GEMM = 512


cdef inline void small_gemm(bint trans_a, bint trans_b, int m, int n, int k,
                            floating alpha, const floating *a, int lda,
                            const floating *b, int ldb, floating beta,
                            floating *c, int ldc) noexcept nogil:
    cdef int i, j, p
    cdef floating s
    for i in range(m):
        for j in range(n):
            s = 0
            for p in range(k):
                s += ((a[p * lda + i] if trans_a else a[i * lda + p])
                      * (b[j * ldb + p] if trans_b else b[p * ldb + j]))
            if beta == 0:
                c[i * ldc + j] = alpha * s
            else:
                c[i * ldc + j] = alpha * s + beta * c[i * ldc + j]


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating *a, int lda,
                      const floating *b, int ldb, floating beta,
                      floating *c, int ldc) noexcept nogil:
    """C (m x n) = alpha * op(A) @ op(B) + beta * C, all row-major; op(A) is m x k."""
    if <long>m * n * k <= SMALL_GEMM:
        small_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if floating is double:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *>b, &ldb, <double *>a, &lda,
              &beta, c, &ldc)
    else:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *>b, &ldb, <float *>a, &lda,
              &beta, c, &ldc)
