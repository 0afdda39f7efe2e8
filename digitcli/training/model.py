"""Keras build and training: the only module that imports TensorFlow, and only when called."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from digitcli.training.augment import AugmentConfig, augment
from digitcli.config import TrainConfig
from digitcli.network.infer import Layer, Network

EpochCallback = Callable[[int, dict], None]


def import_keras():
    """Import Keras with TensorFlow's start-up chatter kept out of our stderr.

    TF_CPP_MIN_LOG_LEVEL silences TensorFlow's own logging, but not the lines its C++ libraries
    print before logging is set up, so fd 2 is pointed at a file during the import and the file
    is replayed only if the import fails.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import keras
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # its Python-side warnings (e.g. retracing) too
    return keras


def sequential(hidden: tuple[int, ...]):
    """Input(784) → Dense(h, relu)… → Dense(10, linear): logits out, softmax only at inference."""
    keras = import_keras()
    return keras.Sequential(
        [keras.Input((784,))]
        + [keras.layers.Dense(units, activation="relu") for units in hidden]
        + [keras.layers.Dense(10, activation="linear")]
    )


def build(hidden: tuple[int, ...], learning_rate, steps_per_execution: int = 1):
    """The network compiled for training: Adam, cross-entropy computed from the logits."""
    keras = import_keras()
    model = sequential(hidden)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


@dataclass
class Checkpoint:
    """Everything needed to carry on training after the last completed epoch."""

    epoch: int  # epochs completed
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]  # Adam's moments and step count, so resuming changes nothing
    history: list[dict] = field(default_factory=list)
    best_weights: list[np.ndarray] | None = None  # early stopping: the best epoch so far
    best_loss: float | None = None
    stale_epochs: int = 0  # epochs since the validation loss last improved


def train(
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    init: Network | None = None,
    resume: Checkpoint | None = None,
    on_epoch: EpochCallback | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> tuple[Network, list[dict]]:
    """Train on uint8 pixels `x` (N, 784) and labels `y`; return the network and its history.

    Each epoch's shuffle and augmentation come from a generator seeded with (seed, epoch), so an
    epoch does the same work whether the run was resumed or not. The learning rate follows a
    cosine decay to zero: the last epochs fine-tune instead of bouncing around. With a validation
    set and `config.patience`, training stops once the validation loss has not improved for that
    many epochs, and the best weights are returned.
    """
    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    steps = -(-len(x) // config.batch_size) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    # Many small steps per call removes most per-step Python overhead for a network this size.
    model = build(config.hidden, schedule, steps_per_execution=32)
    if init is not None:
        _set_network(model, init)
    state = resume or Checkpoint(0, model.get_weights(), [])
    if resume is not None:
        model.set_weights(resume.weights)
        model.optimizer.build(model.trainable_variables)
        for variable, value in zip(model.optimizer.variables, resume.optimizer):
            variable.assign(value)
    val = None if validation is None else (_scaled(validation[0]), validation[1].astype(np.int32))
    labels = y.astype(np.int32)
    for epoch in range(state.epoch, config.epochs):
        rng = np.random.default_rng([config.seed, epoch])
        pixels = augment(x, rng, AugmentConfig()) if config.augment else x
        order = rng.permutation(len(labels))
        logs = model.fit(
            _scaled(pixels[order]), labels[order],
            batch_size=config.batch_size, epochs=epoch + 1, initial_epoch=epoch,
            shuffle=False, validation_data=val, verbose=0,
        ).history
        entry = {"epoch": epoch + 1, **{k: float(v[-1]) for k, v in logs.items()}}
        state = _after_epoch(state, model, entry)
        if on_checkpoint:
            on_checkpoint(state)
        if on_epoch:
            on_epoch(epoch + 1, entry)
        if config.patience and state.stale_epochs >= config.patience:
            break
    if state.best_weights is not None:
        model.set_weights(state.best_weights)
    return from_keras(model), state.history


def _after_epoch(state: Checkpoint, model, entry: dict) -> Checkpoint:
    """The checkpoint after one more epoch, tracking the best validation loss."""
    best_weights, best_loss, stale = state.best_weights, state.best_loss, state.stale_epochs
    loss = entry.get("val_loss")
    if loss is not None:
        if best_loss is None or loss < best_loss:
            best_weights, best_loss, stale = model.get_weights(), loss, 0
        else:
            stale += 1
    return Checkpoint(
        epoch=entry["epoch"],
        weights=model.get_weights(),
        optimizer=[np.array(v) for v in model.optimizer.variables],
        history=[*state.history, entry],
        best_weights=best_weights,
        best_loss=best_loss,
        stale_epochs=stale,
    )


def _set_network(model, network: Network) -> None:
    """Start from an existing network's weights (fine-tuning)."""
    for keras_layer, layer in zip(model.layers, network.layers):
        keras_layer.set_weights([layer.weights, layer.bias])


def _scaled(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float32) * np.float32(1 / 255)


def from_keras(model) -> Network:
    """Copy a trained Keras model's Dense weights into a NumPy network."""
    layers = []
    for layer in model.layers:
        weights, bias = layer.get_weights()
        layers.append(Layer(weights, bias, layer.get_config()["activation"]))
    return Network(tuple(layers))


def to_keras(network: Network):
    """A Keras model with `network`'s weights (for `export` and for checking the NumPy maths)."""
    model = sequential(network.hidden)
    _set_network(model, network)
    return model
