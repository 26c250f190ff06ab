# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The typed core of fastbp: forward pass, back-propagation and optimiser updates.

Design:

1. Element-wise work (bias + activation, activation derivatives, output deltas
   and losses, column sums, row gathers, the shuffle) is C in csrc/, declared
   with fused wrappers in _kernels.pxd.  Matrix products go through the one
   row-major GEMM of _blas.pxd, which sends tiny and narrow products (C one to
   four vectors wide, like a 784 -> 16 layer) to csrc/'s own loops and the
   rest to BLAS.
2. The functions ``forward`` and ``step`` below work on raw pointers and a
   ``Net`` struct that describes the layout, are fused over float/double and
   run without the GIL.  They never allocate: every buffer is passed in.
3. The ``def`` entry points take typed memoryviews, check only that the buffers
   they are handed are large enough (a guard against misuse of this private
   module; the public validation lives in network.py), build the ``Net`` and run
   the whole call -- whole epochs for ``train_epochs`` -- inside ``with nogil``.
   One check of the data does run here: where the first layer's products are
   fastbp's own loops (``checks_inputs``), ``train_epochs`` checks them for NaN
   and infinity instead of network.py checking X before the call, which saves
   a pass over X that costs as much as an epoch's reads; network.py raises the
   error.
4. Training has two paths.  Plain SGD without an L2 penalty or sample weights
   fuses the update into the backward GEMM (``step`` writes into the
   parameters).  Every other optimiser has ``step`` write the batch's mean
   gradient into a buffer, adds the L2 term to the weights' part of it and
   then applies one optimiser kernel (csrc/) over the flat buffer, with its
   state (velocity, Adam moments, Rprop steps) in buffers laid out like the
   parameters.  Either way a whole epoch runs without the GIL or allocation.
5. Long passes go in parts, with a check for a pending signal (Ctrl-C) between
   them (see SIGNAL_CHECK_WORK): the chunks of predict, loss and gradient, and
   of a long batch, whose gradient is summed part by part before the update
   (plain SGD too), so that an interrupted batch leaves the parameters of the
   last complete update.

Layout.  The parameters of all layers live in one flat buffer: for each layer
l, W(l) (n_in x n_out, row-major) followed by b(l) (n_out).  Work buffers hold,
for a capacity of ``cap`` rows, every layer's activations (and, for training,
deltas) one after the other: layer l starts at ``cap * unit_off[l]``.
"""
from cython cimport floating
from libc.math cimport NAN, isfinite, pow, sqrt
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset

cdef extern from "Python.h":
    # Runs the pending signal handlers; -1 when one raised, its exception left set.
    # Declared without ``except -1`` so that poll_signals can hold on to that
    # exception and stop the nogil work cleanly before raise_pending raises it.
    int run_signal_handlers "PyErr_CheckSignals" () noexcept

import threading

import numpy as np

cimport numpy as cnp

cnp.import_array()

from fastbp._blas cimport gemm, narrow_nn, narrow_tn, takes_direct_path, takes_narrow
from fastbp._kernels cimport (
    FBP_ABSOLUTE_ERROR, FBP_CROSS_ENTROPY, FBP_EXP, FBP_HUBER, FBP_IDENTITY, FBP_LEAKY_RELU,
    FBP_HUBER_DELTA, FBP_POISSON, FBP_RELU, FBP_SIGMOID,
    FBP_RPROP_DECREASE, FBP_RPROP_INCREASE, FBP_RPROP_STEP_MAX, FBP_RPROP_STEP_MIN,
    FBP_SOFTMAX, FBP_SQUARED_ERROR, FBP_TANH, adam, add_l2, all_finite as _all_finite,
    bias_act, colsum_axpby, fbp_init, fbp_prefetch_rows, fbp_shuffle, fbp_uniform, gather_rows,
    irprop_minus,
    momentum as momentum_update,
    mul_deriv, online, output_delta, sgd, weighted_output_delta,
)

# The codes of csrc/fastbp_kernels.h, for fastbp.activations to check against.
ACTIVATION_CODES = {
    "identity": FBP_IDENTITY, "sigmoid": FBP_SIGMOID, "tanh": FBP_TANH,
    "relu": FBP_RELU, "leaky_relu": FBP_LEAKY_RELU, "softmax": FBP_SOFTMAX, "exp": FBP_EXP,
}
LOSS_CODES = {"squared_error": FBP_SQUARED_ERROR, "cross_entropy": FBP_CROSS_ENTROPY,
              "poisson": FBP_POISSON, "huber": FBP_HUBER, "absolute_error": FBP_ABSOLUTE_ERROR}
HUBER_DELTA = FBP_HUBER_DELTA

# What Layout.predict reports besides its outputs.
PREDICT_STATUS = {"ok": PREDICT_OK, "bad_input": PREDICT_BAD_INPUT, "overflow": PREDICT_OVERFLOW,
                  "not_ready": PREDICT_NOT_READY}

INSTRUCTION_SETS = ("baseline", "avx2", "avx512")


def use_instruction_set(str name="avx512"):
    """Run the vector kernels with the best instruction set up to ``name``
    that the processor supports; return the one chosen."""
    if name not in INSTRUCTION_SETS:
        raise ValueError(f"unknown instruction set {name!r}; expected one of {INSTRUCTION_SETS}")
    return INSTRUCTION_SETS[fbp_init(INSTRUCTION_SETS.index(name))]


INSTRUCTION_SET = use_instruction_set()

# Optimisers of train_epochs, and how many parameter-sized state buffers each keeps, for
# fastbp.optimizers to check against.
cdef enum:
    OPT_SGD = 0
    OPT_MOMENTUM = 1
    OPT_ADAM = 2
    OPT_RPROP = 3
OPTIMIZER_CODES = {"sgd": OPT_SGD, "momentum": OPT_MOMENTUM, "adam": OPT_ADAM,
                   "rprop": OPT_RPROP}
OPTIMIZER_STATE = {OPT_SGD: 0, OPT_MOMENTUM: 1, OPT_ADAM: 2, OPT_RPROP: 2}
# The constants of csrc's iRprop- kernel, for fastbp.optimizers to check against.
RPROP_CONSTANTS = {"increase": FBP_RPROP_INCREASE, "decrease": FBP_RPROP_DECREASE,
                   "step_min": FBP_RPROP_STEP_MIN, "step_max": FBP_RPROP_STEP_MAX}

# Work, in multiply-adds (or their time), between two checks for a pending
# signal such as Ctrl-C: about a millisecond of arithmetic.  A row costs
# ``n_params`` of them through the forward pass and ``TRAIN_ROW_WORK * n_params``
# through a training step, and every batch ``STEP_WORK + STEP_PARAM_WORK *
# n_params`` more: what a step of a tiny network costs, and its passes over the
# parameters, which bound a step of one row by memory.  Checking a value for NaN
# costs FINITE_CHECK_WORK (it reads memory).  Long passes -- a large predict,
# loss or gradient, a long batch -- go in parts of about SIGNAL_CHECK_WORK (see
# part_rows), checked between them; a part is never shorter than MIN_PART_ROWS
# rows, below which BLAS loses speed.
#
# Only the main thread of the main interpreter runs Python's signal handlers, so
# threads started by ``threading`` other than the main one skip the check and
# the GIL it takes, which two networks training in two threads would otherwise
# pass back and forth.  Threads ``threading`` did not start (the real main
# thread when a worker imported ``threading`` first, threads started from C)
# keep checking: where the check cannot act it costs only the GIL.
cdef enum:
    SIGNAL_CHECK_WORK = 1 << 25
    TRAIN_ROW_WORK = 3
    STEP_WORK = 4096
    STEP_PARAM_WORK = 16
    FINITE_CHECK_WORK = 32
    MIN_PART_ROWS = 256
    PREDICT_OK = 0
    PREDICT_BAD_INPUT = 1
    PREDICT_OVERFLOW = 2
    PREDICT_NOT_READY = 3
    # Doubles of stack space for the activations of a small prediction.
    PREDICT_STACK = 4096


cdef struct Net:
    int n_layers
    int loss
    Py_ssize_t n_params
    const Py_ssize_t *sizes     # n_layers + 1 widths, input first
    const Py_ssize_t *w_off     # where W(l) starts in the parameter buffer
    const Py_ssize_t *b_off     # where b(l) starts
    const Py_ssize_t *unit_off  # where layer l starts in a work buffer, per row of capacity
    const int *act              # activation code of each layer


cdef struct Dropout:
    # Inverted dropout while training: hidden layer l (a weight layer's output,
    # l < n_layers - 1) drops each unit with probability rate[l] (0: never) and
    # scales the kept ones by 1 / (1 - rate[l]).  The masks of a batch go to
    # ``mask`` (laid out like the activations, in the batch's dtype), drawn
    # row by row, layer by layer, unit by unit from the splitmix64 ``state``.
    const double *rate
    uint64_t state
    void *mask


cdef struct Signals:
    # The checks for a pending signal of one call (see SIGNAL_CHECK_WORK).
    bint enabled      # this thread may run Python's signal handlers
    Py_ssize_t work   # multiply-adds since the last check
    bint raised       # a handler raised: its exception is set, for raise_pending


cdef struct Rows:
    # A batch of inputs: row i at data + index[i] * n_in, or data + i * n_in
    # when index is NULL (then the rows are contiguous).  The rows
    # next_index[0..n_next) of data are the next batch's, to prefetch (only
    # read with an index).  With check set, forward reports a batch whose
    # inputs are not finite, found through its first layer's products (see
    # train_epochs' check_inputs).
    #
    # Sparse inputs (CSR) set indptr: row i's entries are data[k] in columns
    # indices[k] for k in indptr[r] .. indptr[r + 1], with r = index[i], or
    # r = i when index is NULL (then indptr starts at the batch's first row).
    const void *data
    const int64_t *index
    const int64_t *next_index
    Py_ssize_t n_next
    bint check
    const int64_t *indptr
    const int32_t *indices


cdef class Layout:
    """The shape of a network as the C arrays that the nogil code reads."""

    cdef Py_ssize_t[::1] sizes, w_off, b_off, unit_off
    cdef int[::1] act
    cdef int loss
    cdef readonly Py_ssize_t n_params, n_units, n_in, n_out

    def __init__(self, sizes, activations, int loss):
        cdef Py_ssize_t n_layers = len(sizes) - 1
        if n_layers < 1 or len(activations) != n_layers:
            raise ValueError("a layout needs one activation per weight layer")
        self.sizes = np.asarray(sizes, dtype=np.intp).copy()
        self.act = np.asarray(activations, dtype=np.intc).copy()
        self.loss = loss
        self.w_off = np.empty(n_layers, dtype=np.intp)
        self.b_off = np.empty(n_layers, dtype=np.intp)
        self.unit_off = np.empty(n_layers, dtype=np.intp)
        cdef Py_ssize_t l, p = 0, u = 0
        for l in range(n_layers):
            self.w_off[l] = p
            p += self.sizes[l] * self.sizes[l + 1]
            self.b_off[l] = p
            p += self.sizes[l + 1]
            self.unit_off[l] = u
            u += self.sizes[l + 1]
        self.n_params = p
        self.n_units = u
        self.n_in = self.sizes[0]
        self.n_out = self.sizes[n_layers]

    def predict(self, cnp.ndarray params, object X, Py_ssize_t cap):
        """``(status, outputs)`` for X, computed ``cap`` rows at a time (fewer
        when a part of a long pass is shorter, see part_rows).

        ``status`` is PREDICT_OK, PREDICT_BAD_INPUT when X holds NaN or infinity
        (the outputs are not to be used), PREDICT_OVERFLOW when finite inputs
        gave outputs that are not, or PREDICT_NOT_READY (outputs None) when X
        is not a C-contiguous 2-D ndarray (exactly, no subclass) of the
        parameters' dtype with ``n_in`` columns and at least one row: the caller
        converts or refuses it and calls again.  A pending signal raises
        between parts.

        This one call checks, allocates and computes, so that predicting one
        sample costs little more than its arithmetic.
        """
        cdef int typenum = cnp.PyArray_TYPE(params)
        if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) \
                or not cnp.PyArray_IS_C_CONTIGUOUS(params) \
                or cnp.PyArray_SIZE(params) < self.n_params:
            raise ValueError("predict needs C-contiguous float parameters that match the layout")
        if not cnp.PyArray_CheckExact(X):
            return PREDICT_NOT_READY, None
        cdef cnp.ndarray A = <cnp.ndarray>X
        if cnp.PyArray_TYPE(A) != typenum or cnp.PyArray_NDIM(A) != 2 \
                or not cnp.PyArray_IS_C_CONTIGUOUS(A) or cnp.PyArray_DIM(A, 1) != self.n_in \
                or cnp.PyArray_DIM(A, 0) < 1:
            return PREDICT_NOT_READY, None
        cdef Py_ssize_t n = cnp.PyArray_DIM(A, 0)
        cdef Rows x = Rows(cnp.PyArray_DATA(A), NULL, NULL, 0, False, NULL, NULL)
        return self._predict_rows(params, x, n, cap)

    def predict_csr(self, cnp.ndarray params, cnp.ndarray values, const int64_t[::1] indptr,
                    const int32_t[::1] indices, Py_ssize_t cap):
        """``predict`` for a CSR matrix of ``n_in`` columns: its stored ``values``
        (C-contiguous, the parameters' dtype), ``indptr`` (int64) and ``indices``
        (int32), checked by ``check_csr``."""
        cdef int typenum = cnp.PyArray_TYPE(params)
        if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) \
                or cnp.PyArray_TYPE(values) != typenum or cnp.PyArray_NDIM(values) != 1 \
                or not cnp.PyArray_IS_C_CONTIGUOUS(values) \
                or not cnp.PyArray_IS_C_CONTIGUOUS(params) \
                or cnp.PyArray_SIZE(params) < self.n_params:
            raise ValueError("predict_csr needs C-contiguous float arrays that match the layout")
        check_csr(indptr, indices, cnp.PyArray_DIM(values, 0), self.n_in)
        cdef Rows x = Rows(cnp.PyArray_DATA(values), NULL, NULL, 0, False, &indptr[0], NULL)
        if indices.shape[0]:
            x.indices = &indices[0]
        return self._predict_rows(params, x, indptr.shape[0] - 1, cap)

    cdef tuple _predict_rows(self, cnp.ndarray params, Rows x, Py_ssize_t n, Py_ssize_t cap):
        """``(status, outputs)`` of the n rows x, for predict and predict_csr."""
        cdef int typenum = cnp.PyArray_TYPE(params)
        if n < 1 or cap < 1:
            raise ValueError("predict needs at least one sample and cap >= 1")
        cdef Net net = self.net()
        cdef Py_ssize_t row_work = predict_row_work(&net)
        cap = min(cap, chunk_rows(n, row_work))
        cdef Signals sig
        start_signal_checks(&sig, <double>n * row_work)
        cdef cnp.npy_intp shape[2]
        shape[0] = n
        shape[1] = self.n_out
        cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, shape, typenum, 0)
        # Small networks work in a buffer on the stack: nothing to allocate.
        cdef double stack[PREDICT_STACK]
        cdef void *work = stack
        cdef Py_ssize_t need = cap * self.n_units * cnp.PyArray_ITEMSIZE(params)
        cdef cnp.ndarray heap
        if need > sizeof(stack):
            heap = np.empty(need, dtype=np.uint8)
            work = cnp.PyArray_DATA(heap)
        cdef void *p = cnp.PyArray_DATA(params)
        cdef void *o = cnp.PyArray_DATA(out)
        cdef int status
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                status = _predict[double](&net, <double *>p, x, n, cap, <double *>work,
                                          <double *>o, &sig)
            else:
                status = _predict[float](&net, <float *>p, x, n, cap, <float *>work,
                                         <float *>o, &sig)
        if sig.raised:
            raise_pending()
        return status, out

    cdef Net net(self):
        cdef Net n
        n.n_layers = self.act.shape[0]
        n.loss = self.loss
        n.n_params = self.n_params
        n.sizes = &self.sizes[0]
        n.w_off = &self.w_off[0]
        n.b_off = &self.b_off[0]
        n.unit_off = &self.unit_off[0]
        n.act = &self.act[0]
        return n


# ---------------------------------------------------------------------------
# The nogil core

cdef bint poll_signals(Signals *sig) noexcept nogil:
    """Run the pending signal handlers, where this thread may; whether one raised."""
    sig.work = 0
    if sig.enabled and not sig.raised:
        with gil:
            sig.raised = run_signal_handlers() < 0
    return sig.raised


cdef inline bint interrupted(Signals *sig, Py_ssize_t work) noexcept nogil:
    """Count ``work`` multiply-adds and check for a signal every SIGNAL_CHECK_WORK;
    whether a signal handler raised: the caller then stops, leaving no half-done
    update, and its entry point calls raise_pending."""
    sig.work += work
    return poll_signals(sig) if sig.work >= SIGNAL_CHECK_WORK else sig.raised


cdef inline Py_ssize_t part_rows(Py_ssize_t row_work) noexcept nogil:
    """The rows of a part of a long pass whose rows cost ``row_work`` multiply-adds."""
    return max(<Py_ssize_t>MIN_PART_ROWS, SIGNAL_CHECK_WORK // max(row_work, 1))


cdef inline Py_ssize_t chunk_rows(Py_ssize_t rows, Py_ssize_t row_work) noexcept nogil:
    """The rows of each chunk (the last holds the rest) of a pass over ``rows``
    rows of ``row_work`` multiply-adds: all of them when they make less than
    two parts, else a part."""
    if rows < 2 * MIN_PART_ROWS:  # (no division for short passes)
        return rows
    cdef Py_ssize_t part = part_rows(row_work)
    return rows if rows < 2 * part else part


cdef bint rows_finite(const floating *data, const int64_t *index, Py_ssize_t rows,
                      Py_ssize_t n_in) noexcept nogil:
    """Whether every value of a (dense) batch, laid out as in Rows, is finite."""
    cdef Py_ssize_t i
    for i in range(rows):
        if not _all_finite(data + (index[i] if index != NULL else i) * n_in, n_in):
            return False
    return True


cdef inline Py_ssize_t csr_row(const Rows *x, Py_ssize_t i) noexcept nogil:
    """Where row i of a sparse batch starts in its indptr."""
    return x.index[i] if x.index != NULL else i


cdef void csr_times(const Rows *x, Py_ssize_t rows, Py_ssize_t n_out, const floating *W,
                    floating *a) noexcept nogil:
    """a = x . W for a sparse batch x: each row the sum of its entries times their
    rows of W (n_in x n_out), in the order the entries are stored."""
    cdef Py_ssize_t i, r, k, j
    cdef const floating *values = <const floating *>x.data
    cdef const floating *w
    cdef floating v
    cdef floating *out
    for i in range(rows):
        r = csr_row(x, i)
        out = a + i * n_out
        memset(out, 0, n_out * sizeof(floating))
        for k in range(x.indptr[r], x.indptr[r + 1]):
            v = values[k]
            w = W + <Py_ssize_t>x.indices[k] * n_out
            for j in range(n_out):
                out[j] += v * w[j]


cdef void csr_t_times(const Rows *x, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                      floating scale, const floating *d, floating keep,
                      floating *target) noexcept nogil:
    """target = keep * target + scale * x^T . d for a sparse batch x and deltas d
    (rows x n_out): each entry adds its value times its row's deltas to the row
    of target (n_in x n_out) of its column."""
    cdef Py_ssize_t i, r, k, j, size = n_in * n_out
    cdef const floating *values = <const floating *>x.data
    cdef const floating *dr
    cdef floating c
    cdef floating *t
    if keep == 0:
        memset(target, 0, size * sizeof(floating))
    elif keep != 1:
        for j in range(size):
            target[j] *= keep
    for i in range(rows):
        r = csr_row(x, i)
        dr = d + i * n_out
        for k in range(x.indptr[r], x.indptr[r + 1]):
            c = scale * values[k]
            t = target + <Py_ssize_t>x.indices[k] * n_out
            for j in range(n_out):
                t[j] += c * dr[j]


cdef bint csr_finite(const Rows *x, const floating *values, Py_ssize_t rows) noexcept nogil:
    """Whether every stored value (``values`` is x.data) of a sparse batch's rows is finite."""
    cdef Py_ssize_t i, r
    for i in range(rows):
        r = csr_row(x, i)
        if not _all_finite(values + x.indptr[r], x.indptr[r + 1] - x.indptr[r]):
            return False
    return True


cdef void draw_masks(const Net *net, Dropout *drop, floating *mask, Py_ssize_t rows,
                     Py_ssize_t cap) noexcept nogil:
    """The dropout masks of ``rows`` samples: 0 or 1 / (1 - rate) per hidden unit."""
    cdef Py_ssize_t i, j, n_out
    cdef int l
    cdef double p
    cdef floating keep
    cdef floating *m
    for i in range(rows):
        for l in range(net.n_layers - 1):
            p = drop.rate[l]
            if p <= 0.0:
                continue
            keep = <floating>(1.0 / (1.0 - p))
            n_out = net.sizes[l + 1]
            m = mask + cap * net.unit_off[l] + i * n_out
            for j in range(n_out):
                m[j] = keep if fbp_uniform(&drop.state) >= p else 0


cdef void drop_units(floating *a, const floating *m, Py_ssize_t n) noexcept nogil:
    """a *= m: the dropout mask applied to a layer's activations."""
    cdef Py_ssize_t i
    for i in range(n):
        a[i] = a[i] * m[i]


cdef void dropped_deriv(floating *d, floating *a, const floating *m, Py_ssize_t n,
                        int act) noexcept nogil:
    """d *= f'(z) m for a layer whose activations a were multiplied by the mask m:
    a is first divided by m where a unit was kept (restoring f(z), from which
    f' is computed); dropped units get d = 0 (times m)."""
    cdef Py_ssize_t i
    for i in range(n):
        if m[i] != 0:
            a[i] = a[i] / m[i]
    mul_deriv(d, a, n, act)
    for i in range(n):
        d[i] = d[i] * m[i]


cdef bint forward(const Net *net, const floating *params, const Rows *x,
                  Py_ssize_t rows, Py_ssize_t cap, floating *acts,
                  floating *out, const Dropout *drop=NULL) noexcept nogil:
    """Activations of every layer for ``rows`` samples x.

    Layer l's activations go to ``acts + cap * unit_off[l]``, except the output
    layer's when ``out`` is not NULL.  With ``x.check`` returns False, leaving
    the rest undone, when the first layer's products z(1) = x . W(1) are not all
    finite because x is not: finite inputs that overflow go on as they would
    have after a check of X up front.
    """
    cdef int l
    cdef Py_ssize_t n_in, n_out
    cdef const floating *prev = <const floating *>x.data
    cdef floating *a
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        if out != NULL and l == net.n_layers - 1:
            a = out
        else:
            a = acts + cap * net.unit_off[l]
        # z(l) = a(l-1) . W(l)
        if l == 0 and x.indptr != NULL:
            csr_times(x, rows, n_out, params + net.w_off[l], a)
        elif l == 0 and x.index != NULL:
            narrow_nn(<int>rows, <int>n_out, <int>n_in, <floating>1.0, prev, <int>n_in,
                      x.index, params + net.w_off[l], <int>n_out, <floating>0.0, a,
                      <int>n_out, x.next_index, x.n_next)
        else:
            gemm(False, False, <int>rows, <int>n_out, <int>n_in, <floating>1.0, prev,
                 <int>n_in, params + net.w_off[l], <int>n_out, <floating>0.0, a, <int>n_out)
        if l == 0 and x.check and not _all_finite(a, rows * n_out) \
                and not (csr_finite(x, prev, rows) if x.indptr != NULL
                         else rows_finite(prev, x.index, rows, n_in)):
            return False
        # a(l) = f(z(l) + b(l)), times its dropout mask while training
        bias_act(a, params + net.b_off[l], rows, n_out, net.act[l])
        if drop != NULL and l < net.n_layers - 1 and drop.rate[l] > 0.0:
            drop_units(a, <const floating *>drop.mask + cap * net.unit_off[l], rows * n_out)
        prev = a
    return True


cdef inline Py_ssize_t predict_row_work(const Net *net) noexcept nogil:
    """What predicting a row costs: its forward pass and the checks of its input and output."""
    return net.n_params + (net.sizes[0] + net.sizes[net.n_layers]) * FINITE_CHECK_WORK


cdef int _predict(const Net *net, const floating *params, Rows x, Py_ssize_t n,
                  Py_ssize_t cap, floating *acts, floating *out, Signals *sig) noexcept nogil:
    """Outputs of the n rows x (dense or sparse, see Rows; no index) into ``out``,
    ``cap`` rows at a time; a PREDICT_* status.

    Bad input outranks overflow, wherever each is found.  Stops early, with any
    status, on bad input or when a signal handler raised (``sig.raised``).
    """
    cdef Py_ssize_t i = 0, rows, n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    cdef const floating *X = <const floating *>x.data
    cdef bint overflow = False, finite
    while i < n:
        rows = min(cap, n - i)
        if x.indptr != NULL:
            finite = csr_finite(&x, X, rows)
        else:
            x.data = X + i * n_in
            finite = _all_finite(X + i * n_in, rows * n_in)
        if not finite:
            return PREDICT_BAD_INPUT
        forward(net, params, &x, rows, cap, acts, out + i * n_out)
        if x.indptr != NULL:
            x.indptr += rows
        overflow = overflow or not _all_finite(out + i * n_out, rows * n_out)
        i += rows
        if interrupted(sig, rows * predict_row_work(net)):
            break
    return PREDICT_OVERFLOW if overflow else PREDICT_OK


cdef double step(const Net *net, floating *params, const Rows *x, const floating *y,
                 Py_ssize_t rows, Py_ssize_t cap, floating *acts, floating *deltas,
                 floating *target, floating scale, floating keep,
                 bint with_biases, const floating *sw, Dropout *drop=NULL) noexcept nogil:
    """One forward and backward pass over ``rows`` samples.

    For every layer, ``target`` (laid out like the parameters) becomes
    ``keep * target + scale * dE/dW`` where dE/dW is the *sum* over the rows.
    With target = params, keep = 1 and scale = -learning_rate / rows this is
    an SGD update; with a separate gradient buffer it accumulates a gradient.
    With sample weights ``sw`` (NULL: all 1) each sample's loss and delta are
    scaled by its weight.  Returns the summed (weighted) per-sample loss; if
    that is not finite, or x failed its check, nothing is written to
    ``target`` and the result is NaN or infinite.
    """
    cdef int l, L = net.n_layers
    cdef Py_ssize_t n_in, n_out
    cdef const floating *a_prev
    cdef floating *d
    cdef floating *d_prev = NULL
    cdef bint dropped
    if drop != NULL:
        draw_masks(net, drop, <floating *>drop.mask, rows, cap)
    if not forward(net, params, x, rows, cap, acts, <floating *>NULL, drop):
        return NAN
    n_out = net.sizes[L]
    # delta(L) = dE/dz(L): (o - t) f'(z) for squared error, o - t for cross-entropy
    cdef double loss
    if sw == NULL:
        loss = output_delta(acts + cap * net.unit_off[L - 1], y,
                            deltas + cap * net.unit_off[L - 1],
                            rows, n_out, net.act[L - 1], net.loss)
    else:
        loss = weighted_output_delta(acts + cap * net.unit_off[L - 1], y,
                                     deltas + cap * net.unit_off[L - 1],
                                     rows, n_out, net.act[L - 1], net.loss, sw)
    if not isfinite(loss):
        return loss
    for l in range(L - 1, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        d = deltas + cap * net.unit_off[l]
        a_prev = <const floating *>x.data if l == 0 else acts + cap * net.unit_off[l - 1]
        dropped = l > 0 and drop != NULL and drop.rate[l - 1] > 0.0
        if l > 0:
            # delta(l-1) = (delta(l) . W(l)^T) * f'(z(l-1)), with W(l) not yet updated
            d_prev = deltas + cap * net.unit_off[l - 1]
            gemm(False, True, <int>rows, <int>n_in, <int>n_out, <floating>1.0, d, <int>n_out,
                 params + net.w_off[l], <int>n_out, <floating>0.0, d_prev, <int>n_in)
            if not dropped:
                mul_deriv(d_prev, a_prev, rows * n_in, net.act[l - 1])
        # dE/dW(l) = a(l-1)^T . delta(l), with a(l-1) as dropout left it
        if l == 0 and x.indptr != NULL:
            csr_t_times(x, rows, n_in, n_out, scale, d, keep, target + net.w_off[l])
        elif l == 0 and x.index != NULL:
            narrow_tn(<int>n_in, <int>n_out, <int>rows, scale, a_prev, <int>n_in, x.index,
                      d, <int>n_out, keep, target + net.w_off[l], <int>n_out)
        else:
            gemm(True, False, <int>n_in, <int>n_out, <int>rows, scale, a_prev, <int>n_in,
                 d, <int>n_out, keep, target + net.w_off[l], <int>n_out)
        # dE/db(l) = sum over the rows of delta(l)
        if with_biases:
            colsum_axpby(target + net.b_off[l], d, rows, n_out, scale, keep)
        if dropped:
            # now that dW(l) has read the dropped a(l-1): delta(l-1) *= f'(z(l-1)) mask
            dropped_deriv(d_prev, acts + cap * net.unit_off[l - 1],
                          <const floating *>drop.mask + cap * net.unit_off[l - 1],
                          rows * n_in, net.act[l - 1])
    return loss


cdef double gradient(const Net *net, floating *params, Rows x, const floating *y,
                     Py_ssize_t rows, Py_ssize_t chunk, Py_ssize_t cap, floating *acts,
                     floating *deltas, floating *grad, floating scale, const floating *sw,
                     Signals *sig, Dropout *drop=NULL) noexcept nogil:
    """``grad = scale * dE/dparams``, E the summed (weighted) loss of ``rows``
    samples, computed ``chunk`` rows at a time by ``step``; returns E.

    ``params`` is only read.  After each chunk checks for a signal, and returns
    NaN when a handler raised.  A result that is not finite leaves ``grad``
    partly written.
    """
    cdef Py_ssize_t i = 0, n, n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    cdef double total = 0.0
    while i < rows:
        n = min(chunk, rows - i)
        total += step(net, params, &x, y + i * n_out, n, cap, acts, deltas, grad, scale,
                      <floating>(0.0 if i == 0 else 1.0), True,
                      <const floating *>NULL if sw == NULL else sw + i, drop)
        if not isfinite(total):
            return total
        if interrupted(sig, n * TRAIN_ROW_WORK * net.n_params):
            return NAN
        i += n
        if x.index != NULL:
            x.index += n
        elif x.indptr != NULL:
            x.indptr += n
        else:
            x.data = <const floating *>x.data + n * n_in
    return total


# ---------------------------------------------------------------------------
# Entry points

cdef inline void _need(Py_ssize_t have, Py_ssize_t need, str what) except *:
    if have < need:
        raise ValueError(f"{what} holds {have} values; at least {need} are needed")


cdef bint may_run_signal_handlers():
    """Whether this thread may run Python's signal handlers (see SIGNAL_CHECK_WORK)."""
    thread = threading.current_thread()
    return thread is threading.main_thread() or isinstance(thread, threading._DummyThread)


cdef inline int start_signal_checks(Signals *sig, double work) except -1:
    """Set up the signal checks of a call of at most ``work`` multiply-adds.
    Finding out whether this thread may run signal handlers costs Python calls,
    so a call too short to reach a check does not ask."""
    sig.work = 0
    sig.raised = False
    sig.enabled = work >= SIGNAL_CHECK_WORK and may_run_signal_handlers()
    return 0


cdef int raise_pending() except -1:
    """Raise the exception that a signal handler left set (see run_signal_handlers)."""
    return -1


def check_csr(const int64_t[::1] indptr, const int32_t[::1] indices, Py_ssize_t nnz,
              Py_ssize_t n_cols):
    """Raise ``ValueError`` unless indptr and indices make a CSR matrix of nnz stored
    values and n_cols columns: indptr starts at 0, never decreases and ends at
    nnz, and every column index is in [0, n_cols).  The engine's guard against
    reading outside the arrays; network.py checks first, with clearer messages."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i
    cdef bint bad = False
    if n < 0 or indices.shape[0] != nnz or indptr[0] != 0 or indptr[n] != nnz:
        raise ValueError("a CSR matrix needs indptr from 0 to its number of stored values")
    with nogil:
        for i in range(n):
            if indptr[i + 1] < indptr[i]:
                bad = True
                break
        for i in range(nnz):
            if indices[i] < 0 or indices[i] >= n_cols:
                bad = True
                break
    if bad:
        raise ValueError("a CSR matrix needs a non-decreasing indptr and column indices "
                         "in [0, n_cols)")
    return None


cdef Py_ssize_t input_rows(Layout layout, const floating[:, ::1] X, object indptr,
                           object indices, Rows *x) except -1:
    """The number of input rows, with x pointing at them: X's rows, or with a CSR
    ``indptr`` (int64) and ``indices`` (int32) those of the sparse matrix whose
    stored values X holds as one row."""
    cdef const int64_t[::1] ptr
    cdef const int32_t[::1] idx
    if indptr is None:
        if X.shape[1] != layout.n_in:
            raise ValueError("X does not match the layout")
        x.data = &X[0, 0] if X.shape[0] and X.shape[1] else NULL
        return X.shape[0]
    ptr = indptr
    idx = indices
    if X.shape[0] != 1:
        raise ValueError("a CSR matrix's values come as one row")
    check_csr(ptr, idx, X.shape[1], layout.n_in)
    x.data = &X[0, 0] if X.shape[1] else NULL
    x.indptr = &ptr[0]
    x.indices = &idx[0] if idx.shape[0] else NULL
    return ptr.shape[0] - 1


def loss_sum(Layout layout, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, floating[::1] acts, Py_ssize_t cap, *,
             indptr=None, indices=None):
    """Sum over the samples of the per-sample loss, ``cap`` rows at a time (fewer
    when a part of a long pass is shorter); a pending signal raises between parts.

    With ``indptr`` and ``indices`` the inputs are a CSR matrix whose stored
    values X holds as one row (see input_rows); so for gradient_into and
    train_epochs."""
    cdef Rows x = Rows(NULL, NULL, NULL, 0, False, NULL, NULL)
    cdef Py_ssize_t n = input_rows(layout, X, indptr, indices, &x), i, rows
    cdef const floating *X0 = <const floating *>x.data
    cdef int L
    cdef double total = 0.0
    _need(params.shape[0], layout.n_params, "params")
    if Y.shape[1] != layout.n_out or Y.shape[0] != n:
        raise ValueError("X or Y does not match the layout")
    _need(acts.shape[0], cap * layout.n_units, "the activation buffer")
    if n == 0:
        return 0.0
    if cap < 1:
        raise ValueError("cap must be at least 1")
    cdef Net net = layout.net()
    cdef Py_ssize_t chunk = min(cap, chunk_rows(n, net.n_params))
    cdef Signals sig
    start_signal_checks(&sig, <double>n * net.n_params)
    L = net.n_layers
    with nogil:
        i = 0
        while i < n:
            rows = min(chunk, n - i)
            if x.indptr == NULL:
                x.data = X0 + i * net.sizes[0]
            forward(&net, &params[0], &x, rows, cap, &acts[0], <floating *>NULL)
            total += output_delta(&acts[0] + cap * net.unit_off[L - 1], &Y[i, 0],
                                  <floating *>NULL, rows, net.sizes[L], net.act[L - 1],
                                  net.loss)
            i += rows
            if x.indptr != NULL:
                x.indptr += rows
            if interrupted(&sig, rows * net.n_params):
                break
    if sig.raised:
        raise_pending()
    return total


def gradient_into(Layout layout, floating[::1] params, const floating[:, ::1] X,
                  const floating[:, ::1] Y, floating[::1] grad, floating[::1] acts,
                  floating[::1] deltas, Py_ssize_t cap, const floating[::1] sw=None,
                  double l2=0.0, double weight_sum=0.0, bint train_biases=True, *,
                  indptr=None, indices=None):
    """Write the gradient of the mean loss over X into ``grad``; return the loss sum.

    With sample weights ``sw`` each sample's loss counts ``sw[i]`` times and the
    mean divides by ``weight_sum`` (the caller's sum of ``sw``, which must be
    > 0) instead of the number of samples.  With ``l2 > 0`` the objective gains
    ``l2 / 2 * sum W^2`` (weights only) before that division, and so does the
    returned sum.  ``train_biases=False`` gives the biases a zero gradient.
    This is one evaluation of a full-batch solver such as L-BFGS: the whole
    objective and its gradient in one call without the GIL.

    Goes ``cap`` rows at a time (fewer when a part of a long pass is shorter); a
    pending signal raises between parts.
    """
    cdef Rows x = Rows(NULL, NULL, NULL, 0, False, NULL, NULL)
    cdef Py_ssize_t n = input_rows(layout, X, indptr, indices, &x), l
    cdef double total, sq = 0.0
    _need(params.shape[0], layout.n_params, "params")
    _need(grad.shape[0], layout.n_params, "grad")
    if Y.shape[1] != layout.n_out or Y.shape[0] != n:
        raise ValueError("X or Y does not match the layout")
    _need(acts.shape[0], cap * layout.n_units, "the activation buffer")
    _need(deltas.shape[0], cap * layout.n_units, "the delta buffer")
    if n == 0 or cap < 1:
        raise ValueError("a gradient needs at least one sample and cap >= 1")
    if sw is not None:
        _need(sw.shape[0], n, "sample_weight")
        if not weight_sum > 0.0:
            raise ValueError("weight_sum must be the (positive) sum of sample_weight")
    else:
        weight_sum = <double>n
    if not l2 >= 0.0:
        raise ValueError("l2 must be >= 0")
    cdef Net net = layout.net()
    cdef Py_ssize_t row_work = TRAIN_ROW_WORK * net.n_params
    cdef Py_ssize_t chunk = min(cap, chunk_rows(n, row_work))
    cdef const floating *w = NULL if sw is None else &sw[0]
    cdef floating scale = <floating>(1.0 / weight_sum)
    cdef Signals sig
    start_signal_checks(&sig, <double>n * row_work)
    with nogil:
        total = gradient(&net, &params[0], x, &Y[0, 0], n, chunk, cap, &acts[0], &deltas[0],
                         &grad[0], scale, w, &sig)
        if isfinite(total):
            for l in range(net.n_layers):
                if l2 > 0.0:
                    sq += add_l2(&grad[0] + net.w_off[l], &params[0] + net.w_off[l],
                                 net.sizes[l] * net.sizes[l + 1], <floating>(l2 * scale))
                if not train_biases:
                    memset(&grad[0] + net.b_off[l], 0, net.sizes[l + 1] * sizeof(floating))
            total += 0.5 * l2 * sq
    if sig.raised:
        raise_pending()
    return total


cdef void update(int optimizer, floating *params, floating *grad,
                 floating *opt_state, Py_ssize_t n_params, floating lr, floating momentum,
                 bint nesterov, floating lr_t, floating beta_1, floating beta_2,
                 floating eps) noexcept nogil:
    """Apply one optimiser step to the whole flat buffer from the gradient ``grad``."""
    if optimizer == OPT_MOMENTUM:
        momentum_update(params, grad, opt_state, n_params, lr, momentum, nesterov)
    elif optimizer == OPT_ADAM:
        adam(params, grad, opt_state, opt_state + n_params, n_params, lr_t, beta_1, beta_2, eps)
    elif optimizer == OPT_RPROP:
        irprop_minus(params, grad, opt_state, opt_state + n_params, n_params)
    else:
        sgd(params, grad, n_params, lr)


def train_epochs(Layout layout, floating[::1] params, const floating[:, ::1] X,
                 const floating[:, ::1] Y, int64_t[::1] order, bint shuffle,
                 uint64_t state, Py_ssize_t batch, floating[::1] acts, floating[::1] deltas,
                 floating[::1] xb, floating[::1] yb, floating[::1] backup,
                 double[::1] losses, double learning_rate, bint train_biases,
                 int optimizer=OPT_SGD, double l2=0.0, double momentum=0.0, bint nesterov=False,
                 double beta_1=0.9, double beta_2=0.999, double epsilon=1e-8,
                 int64_t t=0, floating[::1] grad=None, floating[::1] opt_state=None,
                 const floating[::1] sw=None, floating[::1] swb=None, Py_ssize_t epoch0=0,
                 bint check_inputs=False, *, indptr=None, indices=None,
                 const double[::1] dropout=None, uint64_t dropout_state=0,
                 floating[::1] masks=None):
    """Train ``len(losses)`` epochs of mini-batch gradient descent in place, without the GIL.

    With ``shuffle`` the sample order is reshuffled (from ``state``) before
    each epoch and each batch is gathered into ``xb``/``yb`` (and the sample
    weights ``sw`` into ``swb``); otherwise batches are read where they lie.
    When the first layer's products are narrow (see _blas.pxd) a shuffled
    batch of X is not gathered: its first-layer products read the rows in
    place, and prefetch the next batch's.

    With ``check_inputs`` every batch's first-layer products z(1) = x . W(1)
    are checked for NaN and infinity, and when they have any and so do the
    batch's inputs, training ends as on a non-finite loss (finite inputs that
    overflow go on, as after a check of X up front).  Where those products
    are computed by fastbp's own loops (see ``checks_inputs``) a NaN or
    infinity in x always reaches z(1), so this check stands in for checking X
    before the call.
    ``losses[e]`` receives the summed (weighted) per-sample loss of epoch e,
    plus ``l2 / 2 * sum W^2`` for each batch when ``l2 > 0``.

    The update is plain SGD fused into the backward pass unless an optimiser,
    an L2 penalty, sample weights or a batch long enough to go in parts (see
    below) ask for the gradient path: the batch's mean gradient (divided by the
    batch's weight sum) goes to ``grad``, the weights' part gains ``l2 /
    weight_sum * W``, and ``optimizer`` applies it with its state in
    ``opt_state`` (1 or 2 parameter-sized buffers, see OPTIMIZER_STATE).  ``t``
    counts the updates made so far (Adam's time step).

    With ``dropout`` (one rate per weight layer, the output layer's 0) hidden
    units are dropped as described at Dropout, their masks in ``masks`` (one
    batch of activations' worth) drawn from ``dropout_state``.

    Returns ``(epochs_done, state, t, dropout_state)``.  ``epochs_done`` falls short of
    ``len(losses)`` only when a batch's loss was not finite.  That batch makes
    no update, and the parameters that produced it are replaced by the last
    ones that gave a finite loss on a whole batch: those at the start of this
    epoch, or of the one before when it failed on its first batch.  ``backup``
    holds those two copies, for epochs numbered from ``epoch0`` (a caller that
    trains one epoch per call passes its epoch count).

    A pending signal (Ctrl-C) raises between batches, and between the parts of
    a long batch (see part_rows), leaving the parameters of the last full
    update: a batch that goes in parts takes the gradient path (plain SGD too,
    into ``grad`` or a buffer allocated here), so nothing is written to the
    parameters before its last part is done.
    """
    cdef Rows xr = Rows(NULL, NULL, NULL, 0, check_inputs, NULL, NULL)
    cdef Py_ssize_t n = input_rows(layout, X, indptr, indices, &xr)
    cdef Py_ssize_t n_params = layout.n_params, i, r, rows, chunk
    cdef Py_ssize_t epoch, e, done = 0, n_epochs = losses.shape[0], l, n_w
    cdef double total, loss = 0.0, weight_sum, sq
    cdef bint sparse = xr.indptr != NULL
    cdef const floating *X0 = <const floating *>xr.data
    cdef const int64_t *indptr0 = xr.indptr
    _need(params.shape[0], n_params, "params")
    _need(backup.shape[0], 2 * n_params, "the backup buffer")
    if Y.shape[1] != layout.n_out or Y.shape[0] != n:
        raise ValueError("X or Y does not match the layout")
    if n == 0 or batch < 1:
        raise ValueError("an epoch needs at least one sample and a batch size >= 1")
    if optimizer not in OPTIMIZER_STATE or epoch0 < 0 or t < 0:
        raise ValueError("unknown optimizer code, or a negative epoch0 or t")
    _need(acts.shape[0], batch * layout.n_units, "the activation buffer")
    _need(deltas.shape[0], batch * layout.n_units, "the delta buffer")
    cdef bint weighted = sw is not None
    cdef bint fused = optimizer == OPT_SGD and l2 == 0.0 and not weighted
    if not fused:
        _need(0 if grad is None else grad.shape[0], n_params, "the gradient buffer")
        _need(0 if opt_state is None else opt_state.shape[0],
              OPTIMIZER_STATE[optimizer] * n_params, "the optimizer state")
    if weighted:
        _need(sw.shape[0], n, "sample_weight")
    if shuffle:
        _need(order.shape[0], n, "the order buffer")
        if not sparse:  # a sparse batch is read in place
            _need(xb.shape[0], batch * layout.n_in, "the input batch buffer")
        _need(yb.shape[0], batch * layout.n_out, "the target batch buffer")
        if weighted:
            _need(0 if swb is None else swb.shape[0], batch, "the sample weight batch buffer")
        for i in range(n):
            if order[i] < 0 or order[i] >= n:
                raise ValueError("the order buffer must hold a permutation of the samples")
    cdef Net net = layout.net()
    cdef Dropout drop = Dropout(NULL, dropout_state, NULL)
    cdef Dropout *dropping = NULL
    if dropout is not None:
        if dropout.shape[0] != net.n_layers or dropout[net.n_layers - 1] != 0.0:
            raise ValueError("dropout needs one rate per weight layer, the output layer's 0")
        for l in range(net.n_layers):
            if not (0.0 <= dropout[l] < 1.0):
                raise ValueError("dropout rates must lie in [0, 1)")
        _need(0 if masks is None else masks.shape[0], batch * layout.n_units, "the mask buffer")
        drop.rate = &dropout[0]
        drop.mask = &masks[0]
        dropping = &drop
    cdef floating lr = <floating>learning_rate
    cdef const floating *y
    cdef const floating *batch_sw = NULL
    cdef Py_ssize_t row_work = TRAIN_ROW_WORK * n_params, work
    cdef bint has_grad = grad is not None and grad.shape[0] >= n_params
    if fused and not has_grad and chunk_rows(batch, row_work) < batch:
        # A batch in parts sums its gradient before the update, plain SGD too.
        grad = np.empty(n_params, dtype=np.asarray(params).dtype)
        has_grad = True
    cdef floating *g = &grad[0] if has_grad else NULL  # the batch's gradient
    cdef floating *optimizer_state = NULL if fused or optimizer == OPT_SGD else &opt_state[0]
    cdef floating lr_t = 0
    cdef bint direct = shuffle and (sparse or takes_narrow(batch, layout.sizes[1], layout.n_in,
                                                           sizeof(floating)))
    cdef Py_ssize_t batch_work = STEP_WORK + STEP_PARAM_WORK * n_params
    # Online SGD takes csrc's loop over the samples, in parts between signal checks.
    cdef bint one_by_one = fused and batch == 1 and dropping == NULL and not sparse
    cdef Py_ssize_t part = max(1, SIGNAL_CHECK_WORK // (batch_work + row_work)), used
    cdef Signals sig
    start_signal_checks(&sig, <double>n_epochs * n * (row_work + batch_work))
    with nogil:
        for epoch in range(n_epochs):
            e = epoch0 + epoch
            memcpy(&backup[(e % 2) * n_params], &params[0], n_params * sizeof(floating))
            if shuffle:
                fbp_shuffle(&order[0], n, &state)
            total = 0.0
            i = 0
            while one_by_one and i < n:
                rows = min(part, n - i)
                loss = online(net.n_layers, net.sizes, net.w_off, net.b_off, net.unit_off,
                              net.act, net.loss, &params[0],
                              X0 if shuffle else X0 + i * layout.n_in,
                              &order[i] if shuffle else <const int64_t *>NULL,
                              &Y[0, 0] if shuffle else &Y[i, 0], rows, lr, train_biases,
                              check_inputs, &acts[0], &deltas[0], &used)
                i += used
                if not isfinite(loss):
                    break
                total += loss
                if interrupted(&sig, rows * (batch_work + row_work)):
                    break
            while not one_by_one and i < n:
                rows = min(batch, n - i)
                if shuffle:
                    if direct:
                        xr.data = X0
                        xr.index = &order[i]
                        xr.next_index = &order[i + rows] if i + rows < n else NULL
                        xr.n_next = min(batch, n - i - rows)
                    else:
                        gather_rows(&xb[0], X0, &order[i], rows, layout.n_in)
                        if i + rows < n:
                            fbp_prefetch_rows(X0, &order[i + rows],
                                              min(batch, n - i - rows),
                                              layout.n_in * sizeof(floating))
                        xr.data = &xb[0]
                    gather_rows(&yb[0], &Y[0, 0], &order[i], rows, layout.n_out)
                    y = &yb[0]
                    if weighted:
                        gather_rows(&swb[0], &sw[0], &order[i], rows, 1)
                        batch_sw = &swb[0]
                elif sparse:
                    xr.indptr = indptr0 + i
                    y = &Y[i, 0]
                    if weighted:
                        batch_sw = &sw[i]
                else:
                    xr.data = X0 + i * layout.n_in
                    y = &Y[i, 0]
                    if weighted:
                        batch_sw = &sw[i]
                chunk = chunk_rows(rows, row_work)
                if fused and chunk == rows:
                    loss = step(&net, &params[0], &xr, y, rows, batch, &acts[0], &deltas[0],
                                &params[0], -lr / rows, <floating>1.0, train_biases,
                                <floating *>NULL, dropping)
                    work = batch_work + rows * row_work
                else:
                    weight_sum = rows
                    if weighted:
                        weight_sum = 0.0
                        for r in range(rows):
                            weight_sum += batch_sw[r]
                        if weight_sum == 0.0:  # a batch of zero weight teaches nothing
                            i += rows
                            continue
                    # grad = mean gradient of the batch's (weighted) loss
                    loss = gradient(&net, &params[0], xr, y, rows, chunk, batch, &acts[0],
                                    &deltas[0], g, <floating>(1.0 / weight_sum), batch_sw, &sig,
                                    dropping)
                    if sig.raised:
                        break
                    work = batch_work  # gradient counted the rows
                    if l2 > 0.0 and isfinite(loss):
                        # grad(W) += l2 / weight_sum * W; the loss gains l2 / 2 * sum W^2
                        sq = 0.0
                        for l in range(net.n_layers):
                            n_w = net.sizes[l] * net.sizes[l + 1]
                            sq += add_l2(g + net.w_off[l], &params[0] + net.w_off[l], n_w,
                                         <floating>(l2 / weight_sum))
                        loss += 0.5 * l2 * sq
                    if not train_biases:
                        for l in range(net.n_layers):
                            memset(g + net.b_off[l], 0, net.sizes[l + 1] * sizeof(floating))
                if not isfinite(loss):
                    break
                if not fused:
                    t += 1
                    if optimizer == OPT_ADAM:
                        lr_t = <floating>(learning_rate * sqrt(1.0 - pow(beta_2, <double>t))
                                          / (1.0 - pow(beta_1, <double>t)))
                if not fused or chunk < rows:
                    update(optimizer, &params[0], g, optimizer_state, n_params, lr,
                           <floating>momentum, nesterov, lr_t, <floating>beta_1,
                           <floating>beta_2, <floating>epsilon)
                total += loss
                i += rows
                if interrupted(&sig, work):
                    break
            if sig.raised:
                break
            if not isfinite(loss):
                if i > 0:
                    memcpy(&params[0], &backup[(e % 2) * n_params],
                           n_params * sizeof(floating))
                elif e > 0:
                    memcpy(&params[0], &backup[((e - 1) % 2) * n_params],
                           n_params * sizeof(floating))
                break
            losses[epoch] = total
            done += 1
    if sig.raised:
        raise_pending()
    return done, state, t, drop.state


def checks_inputs(Layout layout, Py_ssize_t itemsize, Py_ssize_t batch, Py_ssize_t n):
    """Whether ``train_epochs(check_inputs=True)`` with this batch size over n
    samples sees every NaN and infinity in X.

    It does when the first layer's products run on fastbp's own loops (the
    direct or the narrow kernels, see _blas.pxd), where a NaN or infinity in an
    input row makes that row of z(1) NaN or infinite whatever the weights (0 x
    inf is NaN).  BLAS makes no such promise (an implementation may skip zero
    weights), so when it computes them X is to be checked before training.
    Nor are the rows of a batch of zero total sample weight seen: training
    skips it, and the caller checks X itself when there can be one.
    """
    if itemsize != sizeof(double) and itemsize != sizeof(float):
        raise ValueError("itemsize must be that of float64 or float32")
    if batch < 1 or n < 1:
        raise ValueError("checks_inputs needs batch >= 1 and n >= 1")
    cdef Py_ssize_t n_in = layout.n_in, width = layout.sizes[1]
    # The first layer's products: a batch, or the chunks of a long one (see gradient).
    products = set()
    for rows in (min(batch, n), n % batch or batch):
        chunk = chunk_rows(rows, TRAIN_ROW_WORK * layout.n_params)
        products.update((chunk, rows % chunk or chunk))
    return all(
        takes_direct_path(False, <int>rows, <int>width, <int>n_in)
        or takes_narrow(rows, width, n_in, itemsize)
        for rows in products
    )


def all_finite(const floating[:, ::1] X):
    """True when every entry of X is finite (no NaN, no infinity).

    A large X is read in parts; a pending signal raises between them.
    """
    cdef Py_ssize_t n = X.shape[0] * X.shape[1], i = 0
    cdef Py_ssize_t part = SIGNAL_CHECK_WORK // FINITE_CHECK_WORK
    cdef bint ok = True
    cdef Signals sig
    start_signal_checks(&sig, <double>n * FINITE_CHECK_WORK)
    if n > 0:
        with nogil:
            while ok and i < n and not interrupted(&sig, part * FINITE_CHECK_WORK):
                ok = _all_finite(&X[0, 0] + i, min(part, n - i))
                i += part
    if sig.raised:
        raise_pending()
    return ok


def gemm_check(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] A,
               const floating[:, ::1] B, double beta, floating[:, ::1] C):
    """C = alpha * op(A) @ op(B) + beta * C through the engine's GEMM (for tests)."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    if (A.shape[1] if trans_a else A.shape[0]) != m or \
            (B.shape[1] if trans_b else B.shape[0]) != k or \
            (B.shape[0] if trans_b else B.shape[1]) != n:
        raise ValueError("operand shapes do not agree")
    if m == 0 or n == 0 or k == 0:
        raise ValueError("gemm_check needs non-empty operands")
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating>alpha, &A[0, 0], <int>A.shape[1],
             &B[0, 0], <int>B.shape[1], <floating>beta, &C[0, 0], n)


def shuffle_order(int64_t[::1] order, uint64_t state):
    """Shuffle ``order`` in place as ``train_epochs`` does; return the new state (for tests)."""
    if order.shape[0] == 0:
        return state
    with nogil:
        fbp_shuffle(&order[0], order.shape[0], &state)
    return state


def rprop_step(floating[::1] params, const floating[::1] grad, floating[::1] opt_state):
    """One iRprop- update of ``params`` from the full-batch gradient ``grad``, with
    the optimiser state laid out as train_epochs keeps it (steps, then the
    previous gradient): the step a solver outside train_epochs takes (fastbp.dask)."""
    cdef Py_ssize_t n = params.shape[0]
    _need(grad.shape[0], n, "grad")
    _need(opt_state.shape[0], 2 * n, "the optimizer state")
    if n == 0:
        return None
    with nogil:
        irprop_minus(&params[0], &grad[0], &opt_state[0], &opt_state[0] + n, n)
    return None
