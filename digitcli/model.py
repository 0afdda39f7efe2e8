"""Keras build and training: the only module that imports TensorFlow, and only when called."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable

import numpy as np

from digitcli.augment import AugmentConfig, augment
from digitcli.config import TrainConfig
from digitcli.infer import Layer, Network

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


def train(
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[Network, list[dict]]:
    """Train a fresh network on uint8 pixels `x` (N, 784) and labels `y`; return it and its history.

    The learning rate follows a cosine decay to zero over the run: the last epochs fine-tune
    instead of bouncing around, which is worth a few tenths of a point of test accuracy.
    """
    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    steps = -(-len(x) // config.batch_size) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    # Many small steps per call removes most per-step Python overhead for a network this size.
    model = build(config.hidden, schedule, steps_per_execution=32)
    inputs = _scaled(x)
    val = None if validation is None else (_scaled(validation[0]), validation[1].astype(np.int32))
    labels = y.astype(np.int32)
    history: list[dict] = []
    for epoch in range(config.epochs):
        if config.augment:
            inputs = _scaled(augment(x, rng, AugmentConfig()))
        logs = model.fit(
            inputs,
            labels,
            batch_size=config.batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=True,
            validation_data=val,
            verbose=0,
        ).history
        entry = {"epoch": epoch + 1, **{k: float(v[-1]) for k, v in logs.items()}}
        history.append(entry)
        if on_epoch:
            on_epoch(epoch + 1, entry)
    return from_keras(model), history


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
    for keras_layer, layer in zip(model.layers, network.layers):
        keras_layer.set_weights([layer.weights, layer.bias])
    return model
