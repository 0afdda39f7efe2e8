"""Pure-NumPy forward pass: the only maths `predict`, `evaluate` and `inspect` need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("relu", "linear")


@dataclass(frozen=True)
class Layer:
    """One Dense layer: a = activation(x @ weights + bias)."""

    weights: np.ndarray  # (inputs, units), float32
    bias: np.ndarray  # (units,), float32
    activation: str  # "relu" or "linear"

    @property
    def units(self) -> int:
        return int(self.bias.shape[0])


def scale_inputs(x: np.ndarray, scale: float) -> np.ndarray:
    """uint8 pixels (N, 784) → float32 network inputs, as in training."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1) * np.float32(scale)


def activations(layers: tuple[Layer, ...], inputs: np.ndarray) -> list[np.ndarray]:
    """Every layer's output a[1], a[2], …; the last one is the logits z."""
    outputs = []
    a = inputs
    for layer in layers:
        a = a @ layer.weights + layer.bias
        if layer.activation == "relu":
            a = np.maximum(a, 0.0)
        outputs.append(a)
    return outputs


def logits(layers: tuple[Layer, ...], inputs: np.ndarray) -> np.ndarray:
    """The last layer's linear output z."""
    return activations(layers, inputs)[-1]


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
        return logits(self.layers, scale_inputs(pixels, self.input_scale))

    def activations(self, pixels: np.ndarray) -> list[np.ndarray]:
        """uint8 pixels → every layer's output; the last one is the logits."""
        return activations(self.layers, scale_inputs(pixels, self.input_scale))

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels → calibrated softmax probabilities (N, 10), float64 rows summing to 1."""
        return self.softmax(self.logits(pixels))

    def softmax(self, z: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from logits: softmax(z / temperature)."""
        return softmax(np.asarray(z, dtype=np.float64) / self.temperature)
