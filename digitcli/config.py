"""Frozen settings that travel with a model file."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Chosen by measurement (README, "Choosing the default network"): the smallest of the sizes we
# tried that clears the accuracy bar with room to spare.
DEFAULT_HIDDEN = (512, 256)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what `train` produces, apart from the data."""

    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    validation_split: float = 0.1  # held out for calibration and the unsure policy (and --patience)
    augment: bool = False
    deterministic: bool = False  # TensorFlow op determinism: byte-identical reruns, slower
    patience: int = 0  # early stopping after this many epochs without validation improvement

    def as_dict(self) -> dict:
        return asdict(self)
