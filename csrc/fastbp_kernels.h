/*
 * Element-wise kernels of the fastbp engine, in double and float.
 *
 * Each activation keeps its function and its derivative side by side.  The
 * derivative is written in terms of the activation's *output* a = f(z), which
 * is all the engine keeps of a layer: sigmoid' = a(1-a), tanh' = 1-a^2,
 * relu' = [a>0], leaky_relu' = a>0 ? 1 : 0.01, identity' = 1, exp' = a.
 *
 * The numeric codes below are mirrored by fastbp/activations.py (a test keeps
 * the two in step).  Nothing here allocates, takes a lock or touches Python.
 */
#ifndef FASTBP_KERNELS_H
#define FASTBP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum fbp_activation {
    FBP_IDENTITY = 0,
    FBP_SIGMOID = 1,
    FBP_TANH = 2,
    FBP_RELU = 3,
    FBP_LEAKY_RELU = 4,
    FBP_SOFTMAX = 5,
    FBP_EXP = 6           /* output layer only: the mean of a Poisson model */
};

/* Per-sample losses, summed over the outputs, with e = o - t:
   squared error e^2 / 2; cross-entropy; half the Poisson deviance
   t log(t / o) - t + o (0 at o = t); Huber e^2 / 2 within FBP_HUBER_DELTA of
   the target, delta (|e| - delta / 2) beyond; absolute error |e|. */
enum fbp_loss {
    FBP_SQUARED_ERROR = 0,
    FBP_CROSS_ENTROPY = 1,
    FBP_POISSON = 2,
    FBP_HUBER = 3,
    FBP_ABSOLUTE_ERROR = 4
};

#define FBP_LEAKY_SLOPE 0.01
#define FBP_HUBER_DELTA 1.0

/* Choose the instruction set of the vector kernels: the best the processor
   runs, capped at max_isa (0 baseline, 1 AVX2 + FMA, 2 AVX-512).  Returns the
   choice.  Until it is called the baseline build runs. */
int fbp_init(int max_isa);

/* a = f(z + b) in place over a rows x cols row-major block; b has cols entries
   (NULL: no bias).  Softmax normalises each row; exp may overflow to inf. */
void fbp_bias_act_d(double *z, const double *b, ptrdiff_t rows, ptrdiff_t cols, int act);
void fbp_bias_act_s(float *z, const float *b, ptrdiff_t rows, ptrdiff_t cols, int act);

/* delta *= f'(z), with f'(z) computed from a = f(z); n entries. */
void fbp_mul_deriv_d(double *delta, const double *a, ptrdiff_t n, int act);
void fbp_mul_deriv_s(float *delta, const float *a, ptrdiff_t n, int act);

/* Output layer: delta = dE/dz for each sample (unscaled by the batch size) and
   the sum over the rows of the per-sample loss.  delta may be NULL, then only
   the loss is computed. */
double fbp_output_delta_d(const double *o, const double *t, double *delta,
                          ptrdiff_t rows, ptrdiff_t cols, int act, int loss);
double fbp_output_delta_s(const float *o, const float *t, float *delta,
                          ptrdiff_t rows, ptrdiff_t cols, int act, int loss);

/* fbp_output_delta with sample weights: each row's loss and delta scaled by sw[row];
   delta may not be NULL. */
double fbp_weighted_output_delta_d(const double *o, const double *t, double *delta,
                                   ptrdiff_t rows, ptrdiff_t cols, int act, int loss,
                                   const double *sw);
double fbp_weighted_output_delta_s(const float *o, const float *t, float *delta,
                                   ptrdiff_t rows, ptrdiff_t cols, int act, int loss,
                                   const float *sw);

/* b = beta * b + alpha * (column sums of the rows x cols block d). */
void fbp_colsum_axpby_d(double *b, const double *d, ptrdiff_t rows, ptrdiff_t cols,
                        double alpha, double beta);
void fbp_colsum_axpby_s(float *b, const float *d, ptrdiff_t rows, ptrdiff_t cols,
                        float alpha, float beta);

/* Row-major C = alpha op(A) op(B) + beta C for small or thin products, where
   a BLAS call costs more than the arithmetic (see _blas.pxd). */
void fbp_small_gemm_d(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                      double alpha, const double *a, ptrdiff_t lda, const double *b,
                      ptrdiff_t ldb, double beta, double *c, ptrdiff_t ldc);
void fbp_small_gemm_s(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                      float alpha, const float *a, ptrdiff_t lda, const float *b,
                      ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc);

/* Row-major C (m x n) = alpha A B + beta C (nn), alpha A B^T + beta C (nt) or
   alpha A^T B + beta C (tn)
   for narrow C: fbp_vbytes / sizeof(REAL) <= n <= 4 * that, with fbp_vbytes
   the vector width of the chosen instruction set (0: these must not be
   called).  Row i of A is a + rows[i] * lda, or a + i * lda when rows is NULL.
   fbp_narrow_nn prefetches rows next_rows[0..n_next) of A (NULL: none). */
extern int fbp_vbytes;
/* fbp_narrow_nt: C = alpha A B^T + beta C, B n x k with n * k <= FBP_NARROW_NT_MAX. */
#define FBP_NARROW_NT_MAX 4096
void fbp_narrow_nn_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double *a,
                     ptrdiff_t lda, const int64_t *rows, const double *b, ptrdiff_t ldb,
                     double beta, double *c, ptrdiff_t ldc, const int64_t *next_rows,
                     ptrdiff_t n_next);
void fbp_narrow_nn_s(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                     ptrdiff_t lda, const int64_t *rows, const float *b, ptrdiff_t ldb,
                     float beta, float *c, ptrdiff_t ldc, const int64_t *next_rows,
                     ptrdiff_t n_next);
void fbp_narrow_nt_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double *a,
                     ptrdiff_t lda, const double *b, ptrdiff_t ldb, double beta, double *c,
                     ptrdiff_t ldc);
void fbp_narrow_nt_s(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                     ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                     ptrdiff_t ldc);
void fbp_narrow_tn_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double *a,
                     ptrdiff_t lda, const int64_t *rows, const double *b, ptrdiff_t ldb,
                     double beta, double *c, ptrdiff_t ldc);
void fbp_narrow_tn_s(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                     ptrdiff_t lda, const int64_t *rows, const float *b, ptrdiff_t ldb,
                     float beta, float *c, ptrdiff_t ldc);

/* Online SGD: the samples rows[0..count) of x (n_in = sizes[0] wide) and y
   (NULL rows: 0..count-1), one at a time, each a forward pass, back-propagation
   and the update params -= lr dE/dparams (biases only with with_biases) -- the
   batch path with a batch of one, in one call.  The network is n_layers weight
   layers: sizes (n_layers + 1 widths), where each W(l) and b(l) starts in
   params (w_off, b_off), where layer l's units start in acts and deltas
   (unit_off), activations and loss codes.  Returns the summed loss of the
   samples done; stops at the first sample whose loss is not finite (or, with
   check, whose input is not finite: NaN), without updating from it, and
   returns that loss added to the sum.  *done is the number of samples used. */
double fbp_online_d(int n_layers, const ptrdiff_t *sizes, const ptrdiff_t *w_off,
                    const ptrdiff_t *b_off, const ptrdiff_t *unit_off, const int *act,
                    int loss, double *params, const double *x, const int64_t *rows,
                    const double *y, ptrdiff_t count, double lr, int with_biases, int check,
                    double *acts, double *deltas, ptrdiff_t *done);
double fbp_online_s(int n_layers, const ptrdiff_t *sizes, const ptrdiff_t *w_off,
                    const ptrdiff_t *b_off, const ptrdiff_t *unit_off, const int *act,
                    int loss, float *params, const float *x, const int64_t *rows,
                    const float *y, ptrdiff_t count, float lr, int with_biases, int check,
                    float *acts, float *deltas, ptrdiff_t *done);

/* 1 when none of x[0..n) is NaN or infinite, else 0. */
int fbp_all_finite_d(const double *x, ptrdiff_t n);
int fbp_all_finite_s(const float *x, ptrdiff_t n);

/* Copy rows idx[0..count) of the row-major src (cols wide) into dst. */
void fbp_gather_rows_d(double *dst, const double *src, const int64_t *idx,
                       ptrdiff_t count, ptrdiff_t cols);
void fbp_gather_rows_s(float *dst, const float *src, const int64_t *idx,
                       ptrdiff_t count, ptrdiff_t cols);

/* Ask the cache for rows idx[0..count) of src (row_bytes each) ahead of use,
   so that gathering the next batch overlaps the arithmetic of this one. */
void fbp_prefetch_rows(const void *src, const int64_t *idx, ptrdiff_t count,
                       ptrdiff_t row_bytes);

/* Fisher-Yates shuffle of order[0..n) driven by splitmix64 from *state, which
   is advanced.  fastbp.reference implements the same generator in Python, so
   both engines visit samples in the same order for the same seed. */
void fbp_shuffle(int64_t *order, ptrdiff_t n, uint64_t *state);

/* A uniform double in [0, 1) from the top 53 bits of the next splitmix64 value
   of *state (dropout's masks); fastbp.reference draws the same numbers. */
double fbp_uniform(uint64_t *state);

/* -- optimisers: one pass over the flat parameter buffer p and its gradient g
   (the batch's mean gradient), with state buffers laid out like p. */

/* g += c w over n weights; returns sum w^2 (the L2 penalty is alpha/2 sum w^2). */
double fbp_add_l2_d(double *g, const double *w, ptrdiff_t n, double c);
double fbp_add_l2_s(float *g, const float *w, ptrdiff_t n, float c);

/* Plain gradient descent: p -= lr g. */
void fbp_sgd_d(double *p, const double *g, ptrdiff_t n, double lr);
void fbp_sgd_s(float *p, const float *g, ptrdiff_t n, float lr);

/* Momentum: v = mu v - lr g, then p += v, or with Nesterov p += mu v - lr g. */
void fbp_momentum_d(double *p, const double *g, double *v, ptrdiff_t n, double lr, double mu,
                    int nesterov);
void fbp_momentum_s(float *p, const float *g, float *v, ptrdiff_t n, float lr, float mu,
                    int nesterov);

/* Adam with the bias correction folded into lr_t = lr sqrt(1 - b2^t) / (1 - b1^t). */
void fbp_adam_d(double *p, const double *g, double *m, double *v, ptrdiff_t n, double lr_t,
                double beta_1, double beta_2, double eps);
void fbp_adam_s(float *p, const float *g, float *m, float *v, ptrdiff_t n, float lr_t,
                float beta_1, float beta_2, float eps);

/* iRprop- (Igel & Huesken 2000), the default of FANN: a per-parameter step that grows
   by FBP_RPROP_INCREASE while the gradient keeps its sign and shrinks by
   FBP_RPROP_DECREASE when it flips (that step is then skipped), within
   [FBP_RPROP_STEP_MIN, FBP_RPROP_STEP_MAX]; the parameter moves by the step against
   the gradient's sign.  Meant for full-batch gradients. */
#define FBP_RPROP_INCREASE 1.2
#define FBP_RPROP_DECREASE 0.5
#define FBP_RPROP_STEP_MIN 1e-6
#define FBP_RPROP_STEP_MAX 50.0
void fbp_irprop_minus_d(double *p, const double *g, double *step, double *g_prev, ptrdiff_t n);
void fbp_irprop_minus_s(float *p, const float *g, float *step, float *g_prev, ptrdiff_t n);

#endif
