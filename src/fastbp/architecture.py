"""``Architecture``: what a network is, apart from its parameters.

Layer widths, the hidden and output activations, the loss and the dtype: the
one description that ``Network``, pickling, model files and traces build
from and write down.  Its fields are named as ``Network``'s arguments and the
keys of a model file's header, so ``Network(**arch.to_dict())`` builds one.

>>> from fastbp.architecture import Architecture
>>> arch = Architecture([2, 3, 1], activation="tanh")
>>> arch.sizes, arch.layer_activations
((2, 3, 1), ('tanh', 'sigmoid'))
>>> arch.to_dict()["dtype"]
'float64'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fastbp._validation import check_dtype, check_sizes
from fastbp.activations import check_names


@dataclass(frozen=True)
class Architecture:
    """A checked network description.

    ``sizes`` may be given as any sequence of ints and ``dtype`` as anything
    ``numpy.dtype`` takes; they are kept as a tuple and a dtype name.
    """

    sizes: tuple[int, ...]
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    loss: str = "squared_error"
    dtype: str = "float64"

    def __post_init__(self) -> None:
        # Checked in this order, so that of several mistakes the first is reported.
        object.__setattr__(self, "sizes", check_sizes(self.sizes))
        check_names(self.activation, self.output_activation, self.loss)
        object.__setattr__(self, "dtype", check_dtype(self.dtype).name)

    @property
    def layer_activations(self) -> tuple[str, ...]:
        """The activation of each weight layer, the output layer's last."""
        return (self.activation,) * (len(self.sizes) - 2) + (self.output_activation,)

    @property
    def n_params(self) -> int:
        """The number of weights and biases, counted exactly (a Python int)."""
        return sum(n_in * n_out + n_out for n_in, n_out in zip(self.sizes, self.sizes[1:]))

    @property
    def n_units(self) -> int:
        """The number of neurons past the input layer: a row of a work buffer."""
        return sum(self.sizes[1:])

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (``sizes`` a list)."""
        fields = dataclasses.asdict(self)
        fields["sizes"] = list(self.sizes)
        return fields


FIELDS = tuple(field.name for field in dataclasses.fields(Architecture))
"""The names of the fields, in order."""
