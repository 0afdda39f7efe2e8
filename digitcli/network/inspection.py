"""What `inspect` shows: a model's layers and history, and one image traced through the network."""

from __future__ import annotations

from pathlib import Path

from digitcli.network.infer import Network


def describe(network: Network) -> dict:
    """Layers with units, activation, parameter counts and weight statistics, plus the metadata."""
    layers = []
    for i, layer in enumerate(network.layers, 1):
        w = layer.weights
        layers.append({
            "layer": i,
            "units": layer.units,
            "activation": layer.activation,
            "weights_shape": list(w.shape),
            "parameters": int(w.size + layer.bias.size),
            "weight_mean": float(w.mean()),
            "weight_std": float(w.std()),
            "weight_min": float(w.min()),
            "weight_max": float(w.max()),
            "bias_mean": float(layer.bias.mean()),
        })
    meta = network.metadata or {}
    return {
        "layers": layers,
        "parameters": sum(layer["parameters"] for layer in layers),
        "training": meta.get("training"),
        "data": meta.get("data"),
        "metrics": meta.get("metrics"),
        "versions": meta.get("versions"),
        "created": meta.get("created"),
        "command": meta.get("command"),
        "calibration": meta.get("calibration"),
        "unsure_policy": network.unsure is not None,
    }


def trace(network: Network, image: Path) -> dict:
    """The 28×28 input x the network sees for `image`, then a[1], a[2], …, the logits z, softmax."""
    from digitcli.network.choice import chosen_input
    from digitcli.network.rejection import Judge

    pixels = chosen_input(image, network)
    outputs = network.activations(pixels[None])
    z = outputs[-1][0]
    probabilities, reasons = Judge().classify(network, pixels[None])
    probabilities = probabilities[0]
    return {
        "path": str(image),
        "input": pixels.tolist(),
        "activations": [a[0].tolist() for a in outputs[:-1]],
        "logits": z.tolist(),
        "temperature": network.temperature,
        "softmax": probabilities.tolist(),
        "unsure": reasons[0],
        "digit": int(probabilities.argmax()),
        "confidence": float(probabilities.max()),
    }
