"""Pure-NumPy forward pass: the only maths `predict`, `evaluate` and `inspect` need.

A picture's result must not depend on the other pictures of its batch, nor on the BLAS kernel:
BLAS picks its kernel and summation order by the matrix shape, the thread count and even a row's
position in the matrix (OpenBLAS's Haswell sgemm gives three different sums for one row at
different positions), so plain float32 products drift in the 7th significant digit with a
picture's neighbours. Every matrix product here is therefore made exact (see `ExactProduct`),
and exact sums do not depend on their order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

ACTIVATIONS = ("relu", "linear")
_FLOAT64_BITS = 53  # significand bits of a float64
_PIXEL_BITS = 8  # the network's input pixels are whole numbers 0…255
_WEIGHT_BITS = 24  # as many as a float32 weight has, counted from its column's largest


def grid_slices(a: np.ndarray, axis: int, bits: int, parts: int) -> list[np.ndarray]:
    """Split `a` into `parts` float64 slices that add up to it (to `parts`·`bits` bits).

    Slice k lies on the power-of-two grid `bits`·(k+1) bits below the largest magnitude along
    `axis` (a row's or a column's own largest), so it is an integer of at most `bits` bits times
    that grid. The split of a row depends on that row alone.
    """
    a = np.asarray(a, dtype=np.float64)
    top = np.abs(a).max(axis=axis, keepdims=True) if a.size else np.zeros((1, 1))
    unit = np.ldexp(1.0, np.frexp(top)[1] - bits)  # |a| < 2**exponent, so |a| / unit ≤ 2**bits
    slices = []
    for _ in range(parts):
        # Adding 1.5·2^52 units puts the sum where float64's last bit is one unit, so the sum
        # rounds `a` to the grid (to nearest, ties to even); taking it away again is exact.
        shift = unit * 1.5 * 2.0**52
        piece = (a + shift) - shift
        slices.append(piece)
        a = a - piece  # exact: both lie on the grid of a's own last bit
        unit = unit * 2.0**-bits
    return slices


@dataclass(frozen=True)
class ExactProduct:
    """x @ matrix, the same to the last bit for a row whatever else is in x and whatever BLAS does.

    Each column of the matrix is rounded once to a grid below its largest weight, and each row
    of x is split into slices on a grid below its own largest value, so that every product is a
    sum of integers (times one power of two) below 2^53: float64 holds it exactly, in any
    order, on any kernel. Pixels (whole numbers below 256) need no split and leave the weights
    35 bits (784 inputs); other rows take two slices of 20 bits against 24-bit weights, the
    precision of float32 weights and more than a float32 product's own.
    """

    matrix: np.ndarray  # (inputs, outputs)
    pixels: bool = False  # x holds whole numbers 0…255

    @property
    def _sum_bits(self) -> int:
        """Bits that a sum of `inputs` products can take from x and the weights together."""
        return _FLOAT64_BITS - math.ceil(math.log2(max(self.matrix.shape[0], 2)))

    @cached_property
    def _weights(self) -> np.ndarray:
        bits = self._sum_bits - _PIXEL_BITS if self.pixels else _WEIGHT_BITS
        return grid_slices(self.matrix, 0, bits, 1)[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.pixels:
            return np.asarray(x, dtype=np.float64) @ self._weights
        high, low = grid_slices(x, 1, self._sum_bits - _WEIGHT_BITS, 2)
        out = high @ self._weights
        if low.any():
            out += low @ self._weights
        return out

    def __getstate__(self):  # the rounded weights are remade where needed, not shipped
        return {"matrix": self.matrix, "pixels": self.pixels}


@dataclass(frozen=True)
class Layer:
    """One Dense layer: a = activation(x @ weights + bias)."""

    weights: np.ndarray  # (inputs, units), float32
    bias: np.ndarray  # (units,), float32
    activation: str  # "relu" or "linear"

    @property
    def units(self) -> int:
        return int(self.bias.shape[0])

    @cached_property
    def product(self) -> ExactProduct:
        """x @ weights for hidden activations x."""
        return ExactProduct(self.weights)

    @cached_property
    def pixel_product(self) -> ExactProduct:
        """pixels @ weights, for a first layer."""
        return ExactProduct(self.weights, pixels=True)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("product", "pixel_product")}


def pixel_rows(x: np.ndarray) -> np.ndarray:
    """Pixels (N, 28, 28) or (N, 784) → float64 rows (N, 784) of whole numbers 0…255.

    The network sees whole pixel values, as in the 28×28 PNGs `--save-preprocessed` writes;
    float pixels (from `--number`) are rounded to them.
    """
    x = np.asarray(x).reshape(len(x), -1)
    if x.dtype != np.uint8:
        x = np.clip(np.rint(x), 0, 255)
    return x.astype(np.float64)


def scale_inputs(x: np.ndarray, scale: float) -> np.ndarray:
    """uint8 pixels (N, 784) → float32 network inputs, as in training."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1) * np.float32(scale)


def activations(layers: tuple[Layer, ...], pixels: np.ndarray, scale: float) -> list[np.ndarray]:
    """Every layer's output a[1], a[2], …, the last one the logits z (float64, exact products).

    The network's input is x = pixels·scale, as in training; the scale is applied after the
    first product, where the pixels are still whole numbers (the cheap exact product).
    """
    outputs = []
    a = pixel_rows(pixels)
    for index, layer in enumerate(layers):
        if index == 0:
            a = layer.pixel_product(a)
            a *= scale
        else:
            a = layer.product(a)
        a += layer.bias
        if layer.activation == "relu":
            np.maximum(a, 0.0, out=a)
        outputs.append(a)
    return outputs


def logits(layers: tuple[Layer, ...], pixels: np.ndarray, scale: float) -> np.ndarray:
    """The last layer's linear output z."""
    return activations(layers, pixels, scale)[-1]


def softmax(z: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis (subtracting the max keeps exp() finite)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy from logits (log-sum-exp form, stable)."""
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    log_norm = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(z)), labels]))


@dataclass(frozen=True)
class Network:
    """A trained network ready for inference: its layers, input scaling and metadata.

    `temperature` divides the logits before the softmax (fitted on held-out data at training
    time, see calibration.py); `unsure` is the fitted policy that flags inputs unlike digits.
    """

    layers: tuple[Layer, ...]
    input_scale: float = 1.0 / 255.0
    metadata: dict | None = None
    temperature: float = 1.0
    unsure: object | None = None  # rejection.UnsurePolicy; typed loosely to keep infer.py a leaf

    @property
    def hidden(self) -> tuple[int, ...]:
        return tuple(layer.units for layer in self.layers[:-1])

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, 28, 28) or (N, 784) → logits z (N, 10)."""
        return logits(self.layers, pixels, self.input_scale)

    def activations(self, pixels: np.ndarray) -> list[np.ndarray]:
        """uint8 pixels → every layer's output; the last one is the logits."""
        return activations(self.layers, pixels, self.input_scale)

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels → calibrated softmax probabilities (N, 10), float64 rows summing to 1."""
        return self.softmax(self.logits(pixels))

    def softmax(self, z: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from logits: softmax(z / temperature)."""
        return softmax(np.asarray(z, dtype=np.float64) / self.temperature)
