"""The command-line options several commands share, defined once, and their parsers."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer._click.core import ParameterSource

# Help at 80 columns: Rich gives each panel's table its own column widths, so options with long
# names and long types are kept apart, or the option names get cut (`--save-preprocess…`).
OUTPUT = "Output"


class TableOrJson(str, Enum):
    table = "table"
    json = "json"


class PredictFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class Preprocess(str, Enum):
    auto = "auto"
    choose = "choose"
    none = "none"


class ExportFormat(str, Enum):
    keras = "keras"


# Options shared by several commands, defined once.
ModelOption = Annotated[
    Optional[Path],
    typer.Option("--model", "-m", envvar="DIGITCLI_MODEL", show_default="the bundled model",
                 help="Model file (.npz from `train`, or a .keras file of the same shape)."),
]


DATA_HELP = ("a folder of MNIST IDX files, a mnist.npz, a CSV (label,pixel0..783), or a folder "
             "with 0/ … 9/ image subfolders")


def unless_from_env(ctx: typer.Context, param, value):
    """Leave a DIGITCLI_DATA value to data.open_source, whose errors name the variable."""
    return None if ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT else value


DataOption = Annotated[
    Optional[str],
    typer.Option("--data", "-d", envvar="DIGITCLI_DATA", show_default="the Keras MNIST download",
                 callback=unless_from_env, help=f"Dataset: {DATA_HELP}."),
]


def min_confidence_option():
    return typer.Option(
        min=0.0, max=1.0,
        help="Also call a prediction unsure when its (calibrated) probability is below this (0–1).")


def unsure_option():
    return typer.Option(
        "--unsure/--no-unsure",
        help="Mark pictures that look unlike any digit as unsure (the model's own fitted policy); "
             "the best guess is still given.")


def format_option(**extra):
    return typer.Option("--format", "-f", case_sensitive=False, help="Output format.", **extra)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise typer.BadParameter(f"{text!r}: K must be between 1 and N")
    return k, n


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of sizes, e.g. 512,256")
    if not sizes or any(size < 1 for size in sizes):
        raise typer.BadParameter(f"{text!r}: every hidden layer needs at least 1 unit")
    return sizes
