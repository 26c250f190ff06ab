"""``to_c``: a network as one standalone C99 file that predicts.

The file holds the parameters as ``static const`` arrays and two functions,
``PREFIX_predict`` (one sample) and ``PREFIX_predict_batch`` (``n`` samples,
row-major), in the network's dtype: ``double`` for float64, ``float`` for
float32.  It needs nothing but the compiler: ``<stddef.h>`` for ``size_t``
(which even a freestanding C implementation has) and ``<math.h>`` for
``exp``/``tanh`` (``expf``/``tanhf``), included only when an activation needs
them, so a ReLU or identity network does not link ``-lm``.

Choices the file follows:

- Numbers are decimal, ``%.17g`` for double and ``%.9g`` with an ``f`` suffix
  for float: enough digits to name every value of the type, so that a compiler
  that rounds decimal constants correctly (all IEEE 754 ones, C99 Annex F)
  reads back the very bits fastbp holds.  Decimal rather than C99's hex floats
  (``%a``) keeps the numbers readable and the file valid C++ before C++17.
- The arithmetic is fastbp's: each layer sums ``x W`` first and adds the bias
  after, sigmoid goes through ``e = exp(-|z|)`` (``1/(1+e)``, or ``e/(1+e)``
  for ``z < 0``) so nothing overflows, softmax subtracts the row's maximum and
  multiplies by the inverse of the sum, ReLU and leaky ReLU let NaN through.
  Results agree with ``Network.predict`` to about 1e-12 in float64 (fastbp's
  own ``exp`` is a polynomial, the file's the C library's).
- Scratch memory is two local arrays as wide as the widest hidden layer (one
  with a single hidden layer, none without): no ``malloc`` and no static
  state, so the functions are reentrant and thread-safe.  Their stack use is
  written in the file's header comment.

``PREFIX_DECLARATIONS_ONLY`` (the prefix in capitals) defined before
``#include``-ing the file gives another translation unit the prototypes and
the ``PREFIX_N_INPUTS``/``PREFIX_N_OUTPUTS`` constants only.

>>> import os, tempfile
>>> import fastbp as fb
>>> from fastbp.export import to_c
>>> net = fb.Network([2, 3, 1], seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "xor.c")
>>> to_c(net, path, prefix="xor")
>>> "void xor_predict(const double *x, double *y)" in open(path).read()
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

import numpy as np

from fastbp import io as _io
from fastbp._version import __version__
from fastbp.activations import LEAKY_SLOPE
from fastbp.architecture import Architecture
from fastbp.network import Network, layer_views

# A C identifier that is not reserved: names starting with an underscore are
# the implementation's at file scope.
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Numbers per line of an array initialiser.
_PER_LINE = 4
# A file name the header comment may show as it is (else it shows PREFIX.c).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.+-]+")
# Rows of a weight matrix formatted at a time, so a large layer is never one string.
_ROWS_PER_WRITE = 256


@dataclass(frozen=True)
class _CType:
    """How the file spells the network's dtype."""

    name: str  # the C type
    digits: int  # significant digits that name every value of the type
    suffix: str  # of its constants and of its <math.h> functions


_C_TYPES = {"float64": _CType("double", 17, ""), "float32": _CType("float", 9, "f")}

# The C of each activation other than identity: a comment (or "") and the body
# of a function over z[0..n) in place, written with {T} the type, {f} the suffix
# of the <math.h> functions and {slope} the leaky ReLU's slope.  Sigmoid and
# softmax are computed as csrc/fastbp_vector.h computes them.
_ACTIVATIONS = {
    "sigmoid": (
        """\
/* sigmoid(z) = 1 / (1 + e^-z) through e = e^-|z| <= 1, so that nothing
   overflows: 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0. */
""",
        """\
    for (size_t i = 0; i < n; i++) {{
        const {T} e = exp{f}(-fabs{f}(z[i]));
        const {T} s = 1 / (1 + e);
        z[i] = z[i] >= 0 ? s : e * s;
    }}
""",
    ),
    "tanh": ("", "    for (size_t i = 0; i < n; i++) z[i] = tanh{f}(z[i]);\n"),
    "relu": (
        "/* Written so that NaN passes through. */\n",
        "    for (size_t i = 0; i < n; i++) z[i] = z[i] < 0 ? 0 : z[i];\n",
    ),
    "leaky_relu": (
        "/* Written so that NaN passes through. */\n",
        "    for (size_t i = 0; i < n; i++) z[i] = z[i] < 0 ? {slope} * z[i] : z[i];\n",
    ),
    "exp": ("", "    for (size_t i = 0; i < n; i++) z[i] = exp{f}(z[i]);\n"),
    "softmax": (
        "/* e^(z - max z) over its sum: the largest term is 1, so nothing overflows. */\n",
        """\
    {T} m = z[0], sum = 0;
    for (size_t i = 1; i < n; i++) m = z[i] > m ? z[i] : m;
    for (size_t i = 0; i < n; i++) {{
        z[i] = exp{f}(z[i] - m);
        sum += z[i];
    }}
    const {T} inv = 1 / sum;
    for (size_t i = 0; i < n; i++) z[i] *= inv;
""",
    ),
}

_DENSE = """
/* out = in W + b for W n_in x n_out, row-major: the sum first, then the bias. */
static void {p}_dense(const {T} *in, size_t n_in, const {T} *w, const {T} *b, size_t n_out,
{indent}{T} *out)
{{
    for (size_t j = 0; j < n_out; j++) out[j] = 0;
    for (size_t i = 0; i < n_in; i++) {{
        const {T} x_i = in[i];
        const {T} *w_i = w + i * n_out;
        for (size_t j = 0; j < n_out; j++) out[j] += x_i * w_i[j];
    }}
    for (size_t j = 0; j < n_out; j++) out[j] += b[j];
}}
"""


def to_c(net: Any, path: Any, prefix: str = "model") -> None:
    """Write ``net`` as a dependency-free C99 file that computes its predictions.

    Parameters
    ----------
    net : Network, BPClassifier or BPRegressor
        The network, or a fitted estimator (its ``network_`` is written).  The
        C functions return the network's outputs: for a classifier those are
        probabilities (one sigmoid output for two classes, one per class
        otherwise), not labels.
    path : str, bytes or path-like
        The file to write, atomically: an existing file is replaced only once
        the new one is complete, and keeps its mode.
    prefix : str
        The C name of the model: ``PREFIX_predict``, ``PREFIX_predict_batch``
        and, in capitals, ``PREFIX_N_INPUTS``, ``PREFIX_N_OUTPUTS``.  Letters,
        digits and underscores, starting with a letter.  Prefixes that differ
        only in case share the capitalised names.

    Raises
    ------
    TypeError
        If ``net`` is not a network or estimator, or ``prefix`` not a str.
    ValueError
        If ``prefix`` is not a C identifier, an estimator is not fitted, or a
        parameter is NaN or infinite.  Nothing is written.
    OSError
        If the file cannot be written; any previous file is left as it was.

    Examples
    --------
    >>> import fastbp as fb
    >>> from fastbp.export import to_c
    >>> to_c(fb.Network([2, 1]), "model.c", prefix="my-model")
    Traceback (most recent call last):
    ...
    ValueError: prefix must be a C identifier: ... got 'my-model'
    """
    network = fitted_network(net, "net must be")
    prefix = _check_prefix(prefix)
    name = _io._path(path)
    params = network.params.copy()  # one snapshot: what is checked is what is written
    if not np.isfinite(params).all():
        raise ValueError(
            "the network has NaN or infinite parameters (training diverged?); "
            "retrain or reset them before exporting; nothing was written"
        )
    file_name = os.path.basename(name)
    if not _PLAIN_NAME.fullmatch(file_name):
        file_name = f"{prefix}.c"
    source = _Source(network.architecture, params, prefix, file_name)
    _io._replace(name, source.write)


def fitted_network(model: Any, refusal: str) -> Network:
    """The network of a ``Network`` or of a fitted ``BPClassifier``/``BPRegressor``.

    Anything else raises ``TypeError``, its message beginning with ``refusal``
    (say ``"net must be"``); an estimator not fitted yet raises scikit-learn's
    ``NotFittedError`` (a ``ValueError``).  The exporters all take a model
    this way."""
    if isinstance(model, Network):
        return model
    try:
        from fastbp.sklearn import BPClassifier, BPRegressor
    except ImportError:  # without scikit-learn there are no estimators to export
        estimators: tuple[type, ...] = ()
    else:
        estimators = (BPClassifier, BPRegressor)
    if not isinstance(model, estimators):
        raise TypeError(
            f"{refusal} a fastbp.Network or a fitted BPClassifier or BPRegressor; "
            f"got {type(model).__name__}"
        )
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    network: Network = cast(Any, model).network_
    return network


def _check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str such as 'model'; got {type(prefix).__name__}")
    if not (prefix.isascii() and _PREFIX.fullmatch(prefix)):
        raise ValueError(
            "prefix must be a C identifier: letters, digits and underscores, starting with "
            f"a letter (e.g. 'model'); got {prefix!r:.80}"
        )
    return prefix


def _c_number(value: float, ctype: _CType) -> str:
    """``value`` as a C constant of ``ctype`` that reads back exactly.

    >>> _c_number(1.0, _C_TYPES["float64"]), _c_number(-0.0, _C_TYPES["float32"])
    ('1.0', '-0.0f')
    >>> _c_number(0.1, _C_TYPES["float64"])
    '0.10000000000000001'
    """
    text = f"{value:.{ctype.digits}g}"
    if not any(c in text for c in ".en"):
        text += ".0"  # a constant of the floating type, never an int ("-0" would lose its sign)
    return text + ctype.suffix


class _Source:
    """The C file of one network, written piece by piece."""

    def __init__(
        self, architecture: Architecture, params: np.ndarray, prefix: str, file_name: str
    ) -> None:
        self.arch, self.file_name = architecture, file_name
        self.ctype = _C_TYPES[architecture.dtype]
        self.weights, self.biases = layer_views(architecture.sizes, params)
        self.p, self.upper = prefix, prefix.upper()
        hidden = architecture.sizes[1:-1]
        self.scratch = (min(len(hidden), 2), max(hidden, default=0))  # buffers, width

    def write(self, f: IO[bytes]) -> None:
        """Write the whole file to ``f``."""
        for piece in self.pieces():
            f.write(piece.encode("ascii"))

    def pieces(self) -> Iterator[str]:
        """The file's text, in order."""
        yield self.header()
        yield self.declarations()
        yield f"\n#ifndef {self.upper}_DECLARATIONS_ONLY\n"
        yield from self.includes()
        for layer in range(len(self.weights)):
            yield from self.arrays(layer)
        yield self.fmt(_DENSE, indent=" " * len(f"static void {self.p}_dense("))
        for name in sorted(set(self.arch.layer_activations) - {"identity"}):
            yield self.activation(name)
        yield self.predict()
        yield f"#endif /* {self.upper}_DECLARATIONS_ONLY */\n"

    def fmt(self, template: str, **fields: Any) -> str:
        """``template`` with the prefix {p}, the type {T} and the suffix {f} filled in."""
        return template.format(p=self.p, T=self.ctype.name, f=self.ctype.suffix, **fields)

    def header(self) -> str:
        arch, t, p, upper, c_file = self.arch, self.ctype.name, self.p, self.upper, self.file_name
        buffers, width = self.scratch
        stack = buffers * width * np.dtype(arch.dtype).itemsize
        math = " -lm" if self.needs_math() else ""
        return f"""\
/*
 * {p}: a fastbp network as a standalone C99 predictor.
 *
 * Written by fastbp {__version__} (fastbp.export.to_c) from the network
 *   sizes {"-".join(map(str, arch.sizes))}, hidden activation {arch.activation}, \
output activation {arch.output_activation},
 *   {arch.dtype} ({t}), {arch.n_params:,} parameters; trained with the {arch.loss} loss.
 *
 *   void {p}_predict(const {t} *x, {t} *y);
 *       x: {upper}_N_INPUTS = {arch.sizes[0]} inputs; y: {upper}_N_OUTPUTS = {arch.sizes[-1]} \
outputs.
 *   void {p}_predict_batch(const {t} *x, {t} *y, size_t n);
 *       n samples, row-major: x is n x {upper}_N_INPUTS, y n x {upper}_N_OUTPUTS.
 *
 * They return the network's outputs (a classifier's probabilities, not its labels).
 * y must not overlap x.  Reentrant and thread-safe: the parameters are constant
 * ({p}_w<l> layer l's weights, n_in x n_out row-major; {p}_b<l> its biases), the
 * scratch memory is local ({stack:,} bytes of stack); no malloc, no static state.
 *
 * Compile: cc -std=c99 -O2 -c {c_file}, and link the program with its .o{math}.
 * Other files get the prototypes and constants with
 *   #define {upper}_DECLARATIONS_ONLY
 *   #include "{c_file}"
 */
"""

    def declarations(self) -> str:
        t, p, upper, sizes = self.ctype.name, self.p, self.upper, self.arch.sizes
        return f"""\
#ifndef {upper}_DECLARED
#define {upper}_DECLARED
#include <stddef.h>

#define {upper}_N_INPUTS {sizes[0]}
#define {upper}_N_OUTPUTS {sizes[-1]}

void {p}_predict(const {t} *x, {t} *y);
void {p}_predict_batch(const {t} *x, {t} *y, size_t n);
#endif /* {upper}_DECLARED */
"""

    def needs_math(self) -> bool:
        return any(a in ("sigmoid", "tanh", "softmax", "exp") for a in self.arch.layer_activations)

    def includes(self) -> Iterator[str]:
        if self.needs_math():
            yield "#include <math.h>\n"

    def arrays(self, layer: int) -> Iterator[str]:
        """Layer ``layer``'s weights and biases as initialised constant arrays."""
        w, b, t = self.weights[layer], self.biases[layer], self.ctype.name
        n_in, n_out = w.shape
        yield f"\n/* Layer {layer}: {n_in} -> {n_out}. */\n"
        yield f"static const {t} {self.p}_w{layer}[{n_in} * {n_out}] = {{\n"
        for start in range(0, n_in, _ROWS_PER_WRITE):
            yield self.numbers(w[start : start + _ROWS_PER_WRITE].ravel())
        yield f"}};\nstatic const {t} {self.p}_b{layer}[{n_out}] = {{\n"
        yield self.numbers(b)
        yield "};\n"

    def numbers(self, values: np.ndarray) -> str:
        """Lines of comma-separated constants, each line ending with a comma."""
        texts = [_c_number(v, self.ctype) for v in values.tolist()]
        lines = (texts[i : i + _PER_LINE] for i in range(0, len(texts), _PER_LINE))
        return "".join("    " + ", ".join(line) + ",\n" for line in lines)

    def activation(self, name: str) -> str:
        """The static function of activation ``name``."""
        slope = _c_number(float(np.dtype(self.arch.dtype).type(LEAKY_SLOPE)), self.ctype)
        comment, body = _ACTIVATIONS[name]
        signature = self.fmt("static void {p}_{name}({T} *z, size_t n)\n", name=name)
        return f"\n{comment}{signature}{{\n{self.fmt(body, slope=slope)}}}\n"

    def predict(self) -> str:
        t, p, upper = self.ctype.name, self.p, self.upper
        buffers, width = self.scratch
        lines = [f"\nvoid {p}_predict(const {t} *x, {t} *y)\n{{"]
        if buffers:
            names = ", ".join(f"h{k}[{width}]" for k in range(buffers))
            lines.append(f"    {t} {names}; /* the hidden layers' outputs, in turn */")
        sources = ["x"] + [f"h{k % 2}" for k in range(len(self.weights) - 1)]
        targets = sources[1:] + ["y"]
        for layer, act in enumerate(self.arch.layer_activations):
            n_in, n_out = self.weights[layer].shape
            a, z = sources[layer], targets[layer]
            lines.append(f"    {p}_dense({a}, {n_in}, {p}_w{layer}, {p}_b{layer}, {n_out}, {z});")
            if act != "identity":
                lines.append(f"    {p}_{act}({z}, {n_out});")
        lines.append("}\n")
        lines.append(f"void {p}_predict_batch(const {t} *x, {t} *y, size_t n)\n{{")
        lines.append("    for (size_t r = 0; r < n; r++) {")
        lines.append(f"        {p}_predict(x + r * {upper}_N_INPUTS, y + r * {upper}_N_OUTPUTS);")
        lines.append("    }\n}\n")
        return "\n".join(lines)
