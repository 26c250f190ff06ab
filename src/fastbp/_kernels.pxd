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
        FBP_EXP
        FBP_SQUARED_ERROR
        FBP_CROSS_ENTROPY
        FBP_POISSON
        FBP_HUBER
        FBP_ABSOLUTE_ERROR

    int fbp_init(int max_isa)
    void fbp_bias_act_d(double *z, const double *b, Py_ssize_t rows, Py_ssize_t cols, int act)
    void fbp_bias_act_s(float *z, const float *b, Py_ssize_t rows, Py_ssize_t cols, int act)
    void fbp_mul_deriv_d(double *delta, const double *a, Py_ssize_t n, int act)
    void fbp_mul_deriv_s(float *delta, const float *a, Py_ssize_t n, int act)
    double fbp_output_delta_d(const double *o, const double *t, double *delta,
                              Py_ssize_t rows, Py_ssize_t cols, int act, int loss)
    double fbp_output_delta_s(const float *o, const float *t, float *delta,
                              Py_ssize_t rows, Py_ssize_t cols, int act, int loss)
    double fbp_weighted_output_delta_d(const double *o, const double *t, double *delta,
                                       Py_ssize_t rows, Py_ssize_t cols, int act, int loss,
                                       const double *sw)
    double fbp_weighted_output_delta_s(const float *o, const float *t, float *delta,
                                       Py_ssize_t rows, Py_ssize_t cols, int act, int loss,
                                       const float *sw)
    void fbp_colsum_axpby_d(double *b, const double *d, Py_ssize_t rows, Py_ssize_t cols,
                            double alpha, double beta)
    void fbp_colsum_axpby_s(float *b, const float *d, Py_ssize_t rows, Py_ssize_t cols,
                            float alpha, float beta)
    double fbp_online_d(int n_layers, const Py_ssize_t *sizes, const Py_ssize_t *w_off,
                        const Py_ssize_t *b_off, const Py_ssize_t *unit_off, const int *act,
                        int loss, double *params, const double *x, const int64_t *rows,
                        const double *y, Py_ssize_t count, double lr, int with_biases,
                        int check, double *acts, double *deltas, Py_ssize_t *done)
    double fbp_online_s(int n_layers, const Py_ssize_t *sizes, const Py_ssize_t *w_off,
                        const Py_ssize_t *b_off, const Py_ssize_t *unit_off, const int *act,
                        int loss, float *params, const float *x, const int64_t *rows,
                        const float *y, Py_ssize_t count, float lr, int with_biases,
                        int check, float *acts, float *deltas, Py_ssize_t *done)
    int fbp_all_finite_d(const double *x, Py_ssize_t n)
    int fbp_all_finite_s(const float *x, Py_ssize_t n)
    void fbp_gather_rows_d(double *dst, const double *src, const int64_t *idx,
                           Py_ssize_t count, Py_ssize_t cols)
    void fbp_gather_rows_s(float *dst, const float *src, const int64_t *idx,
                           Py_ssize_t count, Py_ssize_t cols)
    void fbp_prefetch_rows(const void *src, const int64_t *idx, Py_ssize_t count,
                           Py_ssize_t row_bytes)
    void fbp_shuffle(int64_t *order, Py_ssize_t n, uint64_t *state)
    double fbp_uniform(uint64_t *state)

    double FBP_HUBER_DELTA
    double FBP_RPROP_INCREASE
    double FBP_RPROP_DECREASE
    double FBP_RPROP_STEP_MIN
    double FBP_RPROP_STEP_MAX
    double fbp_add_l2_d(double *g, const double *w, Py_ssize_t n, double c)
    double fbp_add_l2_s(float *g, const float *w, Py_ssize_t n, float c)
    void fbp_sgd_d(double *p, const double *g, Py_ssize_t n, double lr)
    void fbp_sgd_s(float *p, const float *g, Py_ssize_t n, float lr)
    void fbp_momentum_d(double *p, const double *g, double *v, Py_ssize_t n, double lr,
                        double mu, int nesterov)
    void fbp_momentum_s(float *p, const float *g, float *v, Py_ssize_t n, float lr,
                        float mu, int nesterov)
    void fbp_adam_d(double *p, const double *g, double *m, double *v, Py_ssize_t n,
                    double lr_t, double beta_1, double beta_2, double eps)
    void fbp_adam_s(float *p, const float *g, float *m, float *v, Py_ssize_t n,
                    float lr_t, float beta_1, float beta_2, float eps)
    void fbp_irprop_minus_d(double *p, const double *g, double *step, double *g_prev,
                            Py_ssize_t n)
    void fbp_irprop_minus_s(float *p, const float *g, float *step, float *g_prev,
                            Py_ssize_t n)


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


cdef inline double weighted_output_delta(const floating *o, const floating *t,
                                         floating *delta, Py_ssize_t rows, Py_ssize_t cols,
                                         int act, int loss,
                                         const floating *sw) noexcept nogil:
    if floating is double:
        return fbp_weighted_output_delta_d(o, t, delta, rows, cols, act, loss, sw)
    else:
        return fbp_weighted_output_delta_s(o, t, delta, rows, cols, act, loss, sw)


cdef inline void colsum_axpby(floating *b, const floating *d, Py_ssize_t rows, Py_ssize_t cols,
                              floating alpha, floating beta) noexcept nogil:
    if floating is double:
        fbp_colsum_axpby_d(b, d, rows, cols, alpha, beta)
    else:
        fbp_colsum_axpby_s(b, d, rows, cols, alpha, beta)


cdef inline double online(int n_layers, const Py_ssize_t *sizes, const Py_ssize_t *w_off,
                          const Py_ssize_t *b_off, const Py_ssize_t *unit_off, const int *act,
                          int loss, floating *params, const floating *x, const int64_t *rows,
                          const floating *y, Py_ssize_t count, floating lr, bint with_biases,
                          bint check, floating *acts, floating *deltas,
                          Py_ssize_t *done) noexcept nogil:
    if floating is double:
        return fbp_online_d(n_layers, sizes, w_off, b_off, unit_off, act, loss, params, x,
                            rows, y, count, lr, with_biases, check, acts, deltas, done)
    else:
        return fbp_online_s(n_layers, sizes, w_off, b_off, unit_off, act, loss, params, x,
                            rows, y, count, lr, with_biases, check, acts, deltas, done)


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


cdef inline double add_l2(floating *g, const floating *w, Py_ssize_t n,
                          floating c) noexcept nogil:
    if floating is double:
        return fbp_add_l2_d(g, w, n, c)
    else:
        return fbp_add_l2_s(g, w, n, c)


cdef inline void sgd(floating *p, const floating *g, Py_ssize_t n,
                     floating lr) noexcept nogil:
    if floating is double:
        fbp_sgd_d(p, g, n, lr)
    else:
        fbp_sgd_s(p, g, n, lr)


cdef inline void momentum(floating *p, const floating *g, floating *v, Py_ssize_t n,
                          floating lr, floating mu, int nesterov) noexcept nogil:
    if floating is double:
        fbp_momentum_d(p, g, v, n, lr, mu, nesterov)
    else:
        fbp_momentum_s(p, g, v, n, lr, mu, nesterov)


cdef inline void adam(floating *p, const floating *g, floating *m, floating *v, Py_ssize_t n,
                      floating lr_t, floating beta_1, floating beta_2,
                      floating eps) noexcept nogil:
    if floating is double:
        fbp_adam_d(p, g, m, v, n, lr_t, beta_1, beta_2, eps)
    else:
        fbp_adam_s(p, g, m, v, n, lr_t, beta_1, beta_2, eps)


cdef inline void irprop_minus(floating *p, const floating *g, floating *step,
                              floating *g_prev, Py_ssize_t n) noexcept nogil:
    if floating is double:
        fbp_irprop_minus_d(p, g, step, g_prev, n)
    else:
        fbp_irprop_minus_s(p, g, step, g_prev, n)
