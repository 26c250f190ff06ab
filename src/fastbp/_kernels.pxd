# Declarations of csrc/fastbp_kernels.h, with one fused wrapper per kernel so
# that the engine is written once for float and double.
from cython cimport floating
from libc.stdint cimport int64_t, uint64_t


cdef extern from "fastbp_kernels.h" nogil:
    enum:
        FBP_IDENTITY
        FBP_SIGMOID
        FBP_TANH
        FBP_RELU
        FBP_LEAKY_RELU
        FBP_SOFTMAX
        FBP_SQUARED_ERROR
        FBP_CROSS_ENTROPY

    int fbp_init(int max_isa)
    void fbp_bias_act_d(double *z, const double *b, Py_ssize_t rows, Py_ssize_t cols, int act)
    void fbp_bias_act_s(float *z, const float *b, Py_ssize_t rows, Py_ssize_t cols, int act)
    void fbp_mul_deriv_d(double *delta, const double *a, Py_ssize_t n, int act)
    void fbp_mul_deriv_s(float *delta, const float *a, Py_ssize_t n, int act)
    double fbp_output_delta_d(const double *o, const double *t, double *delta,
                              Py_ssize_t rows, Py_ssize_t cols, int act, int loss)
    double fbp_output_delta_s(const float *o, const float *t, float *delta,
                              Py_ssize_t rows, Py_ssize_t cols, int act, int loss)
    void fbp_colsum_axpby_d(double *b, const double *d, Py_ssize_t rows, Py_ssize_t cols,
                            double alpha, double beta)
    void fbp_colsum_axpby_s(float *b, const float *d, Py_ssize_t rows, Py_ssize_t cols,
                            float alpha, float beta)
    int fbp_all_finite_d(const double *x, Py_ssize_t n)
    int fbp_all_finite_s(const float *x, Py_ssize_t n)
    void fbp_gather_rows_d(double *dst, const double *src, const int64_t *idx,
                           Py_ssize_t count, Py_ssize_t cols)
    void fbp_gather_rows_s(float *dst, const float *src, const int64_t *idx,
                           Py_ssize_t count, Py_ssize_t cols)
    void fbp_shuffle(int64_t *order, Py_ssize_t n, uint64_t *state)


cdef inline void bias_act(floating *z, const floating *b, Py_ssize_t rows, Py_ssize_t cols,
                          int act) noexcept nogil:
    if floating is double:
        fbp_bias_act_d(z, b, rows, cols, act)
    else:
        fbp_bias_act_s(z, b, rows, cols, act)


cdef inline void mul_deriv(floating *delta, const floating *a, Py_ssize_t n,
                           int act) noexcept nogil:
    if floating is double:
        fbp_mul_deriv_d(delta, a, n, act)
    else:
        fbp_mul_deriv_s(delta, a, n, act)


cdef inline double output_delta(const floating *o, const floating *t, floating *delta,
                                Py_ssize_t rows, Py_ssize_t cols, int act,
                                int loss) noexcept nogil:
    if floating is double:
        return fbp_output_delta_d(o, t, delta, rows, cols, act, loss)
    else:
        return fbp_output_delta_s(o, t, delta, rows, cols, act, loss)


cdef inline void colsum_axpby(floating *b, const floating *d, Py_ssize_t rows, Py_ssize_t cols,
                              floating alpha, floating beta) noexcept nogil:
    if floating is double:
        fbp_colsum_axpby_d(b, d, rows, cols, alpha, beta)
    else:
        fbp_colsum_axpby_s(b, d, rows, cols, alpha, beta)


cdef inline void gather_rows(floating *dst, const floating *src, const int64_t *idx,
                             Py_ssize_t count, Py_ssize_t cols) noexcept nogil:
    if floating is double:
        fbp_gather_rows_d(dst, src, idx, count, cols)
    else:
        fbp_gather_rows_s(dst, src, idx, count, cols)


cdef inline bint all_finite(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is double:
        return fbp_all_finite_d(x, n)
    else:
        return fbp_all_finite_s(x, n)
