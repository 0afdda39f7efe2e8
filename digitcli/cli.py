"""The `digitcli` command: parse options, call the library, render the results.

Only light modules are imported here; TensorFlow is imported by training/model.py, and only by
the commands that train or export. How failures become exit codes is shell.py's job; the shared
options are in options.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from digitcli import __version__, files, shell
from digitcli.config import DEFAULT_HIDDEN, TrainConfig
from digitcli.errors import EXIT_CODE_HELP, DigitcliError, ExitCode, InputError, UsageError
from digitcli.options import (DATA_HELP, OUTPUT, DataOption, ExportFormat, ModelOption, PredictFormat,
                              Preprocess, TableOrJson, format_option, min_confidence_option,
                              parse_hidden, parse_shard, unless_from_env, unsure_option)
from digitcli.output.progress import EpochReporter, with_progress


app = typer.Typer(
    cls=shell.Group,
    help="Read handwritten digits from pictures, with a small NumPy network trained on MNIST.\n\n"
         "Examples: `digitcli predict photo.jpg` · `digitcli predict scans/ -r --format csv` · "
         "`digitcli evaluate --fail-under 0.98` · `digitcli COMMAND --help` for its options",
    epilog=EXIT_CODE_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        with files.writing("standard output"):
            print(f"digitcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    shell.show_tracebacks(debug)


def _load_model(path: Optional[Path]):
    from digitcli.network import store

    path = path or store.bundled_model_path()
    network = store.load(path)
    if network.metadata.get("warning"):  # e.g. a .keras file from elsewhere: say so, loudly
        print(f"digitcli: warning: {path}: {network.metadata['warning']}", file=sys.stderr)
    return network


# ---------------------------------------------------------------------------- predict


@app.command(cls=shell.Command, epilog=EXIT_CODE_HELP)
def predict(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH...", help="Image files, folders, or - to read paths from stdin (one per line).",
        show_default=False)],
    model: ModelOption = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r",
                                            help="Look in subfolders too.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=10,
                                       rich_help_panel=OUTPUT,
                                       help="How many most likely digits to report.")] = 3,
    output_format: Annotated[PredictFormat,
                             format_option(rich_help_panel=OUTPUT)] = PredictFormat.table,
    preprocess: Annotated[Preprocess, typer.Option(
        case_sensitive=False,
        help="auto: find the digit and prepare it the MNIST way; choose: the same, but where the "
             "network is unsure of the result it picks among other cuts of the picture (reads more "
             "digits, and more non-digits as digits: see the README); none: only resize to 28×28 "
             "(for inputs that are already MNIST-like).")] = Preprocess.auto,
    save_preprocessed: Annotated[Optional[Path], typer.Option(
        rich_help_panel=OUTPUT,
        help="Also write the 28×28 input the network saw for each image into this folder.")] = None,
    workers: Annotated[int, typer.Option(
        min=0, help="Processes that decode pictures in parallel; 0 = one per core.")] = 0,
    shard: Annotated[Optional[str], typer.Option(
        metavar="K/N", parser=parse_shard,
        help="Process only the K-th of N equal slices of the sorted inputs (K = 1…N), to split "
             "a large job across processes or machines; concatenate the outputs in K order.")] = None,
    min_confidence: Annotated[Optional[float], min_confidence_option()] = None,
    unsure: Annotated[bool, unsure_option()] = True,
    number: Annotated[bool, typer.Option(
        "--number", help="Read every digit of a number (left to right) instead of one digit; "
                         "records get `number` and `digits` with confidences and boxes.")] = False,
) -> None:
    """Recognise the digit (or with --number, the number) in each picture.

    Examples: `digitcli predict photo.jpg` ·
    `digitcli predict scans/ --recursive --format jsonl > digits.jsonl` ·
    `find scans -name '*.png' | digitcli predict - --format csv`
    """
    from digitcli import inputs, pool, predict as batch
    from digitcli.output import records
    from digitcli.network.rejection import Judge

    if number and preprocess is not Preprocess.auto:
        raise UsageError(f"--number finds the digits itself; it cannot be used with --preprocess {preprocess.value}")
    stdin = inputs.read_stdin_lines(sys.stdin) if "-" in paths else ()
    items = inputs.collect(paths, recursive=recursive, stdin=stdin)
    if not items:  # only `-` can give none
        raise InputError("no inputs: `-` read no paths from stdin")
    if shard is not None:
        items = inputs.shard(items, *shard)
        if not items:
            return  # more shards than inputs: this one has nothing to do
    network = _load_model(model)
    sink = records.PredictionSink(output_format.value, top_k, number=number)
    results = batch.predict_with_text(items, network, mode=preprocess.value,
                                      save_dir=save_preprocessed,
                                      workers=workers or pool.default_workers(),
                                      judge=Judge(unsure, min_confidence), number=number,
                                      text=sink.text)
    results = with_progress(results, len(items))
    try:
        for result, text in results:
            if result.status == "error" and len(items) > 1:  # one input: its error is the error
                print(f"digitcli: {records.path_text(result.path)}: {result.error}", file=sys.stderr)
            sink.add(result, text)
    except (KeyboardInterrupt, DigitcliError):  # Ctrl-C, SIGTERM, a failed write, a dead worker:
        sink.close(partial=True)  # the records written so far stay valid (JSON: the array ends)
        raise
    finally:
        results.close()  # stop the workers now, not when the traceback is freed
    # A table of nothing but errors would only repeat stderr; machine formats keep the records.
    if output_format is not PredictFormat.table or sink.failures < len(items):
        sink.close()
    failures = sink.failures
    if sink.unsure:
        print(f"digitcli: {sink.unsure} of {len(items)} inputs are unsure (status \"unsure\")",
              file=sys.stderr)
    if failures == len(items):
        if len(items) == 1:
            raise InputError(f"{records.path_text(result.path)}: {result.error}")
        raise InputError(f"all {len(items)} inputs failed; nothing was recognised")
    if failures:
        print(f"digitcli: {failures} of {len(items)} inputs failed", file=sys.stderr)
        raise typer.Exit(ExitCode.PARTIAL)


# ---------------------------------------------------------------------------- evaluate


@app.command(cls=shell.Command, epilog=EXIT_CODE_HELP)
def evaluate(
    model: ModelOption = None,
    data_source: DataOption = None,
    output_format: Annotated[TableOrJson, format_option()] = TableOrJson.table,
    fail_under: Annotated[Optional[float], typer.Option(
        min=0.0, max=1.0,
        help="Exit with code 7 when accuracy is lower than this (0–1): a CI gate.")] = None,
    ood: Annotated[Optional[str], typer.Option(
        "--ood", metavar="SOURCE_OR_DIR",
        help="Non-digit pictures (a dataset source, e.g. Fashion-MNIST's IDX folder, or a folder "
             "of pictures): report how many are called unsure, against how many digits are.")] = None,
    min_confidence: Annotated[Optional[float], min_confidence_option()] = None,
) -> None:
    """Measure a model's accuracy, loss, calibration, per-digit figures and confusions.

    Default data: the MNIST test split. Examples: `digitcli evaluate --fail-under 0.98` ·
    `digitcli evaluate --ood /usr/share/datasets/fashion-mnist`
    """
    from digitcli import evaluation
    from digitcli.output import records, tables
    from digitcli.network.rejection import Judge

    network = _load_model(model)
    measured = evaluation.measure(network, data_source)
    split, scores, calibrated = measured.split, measured.evaluation, measured.calibration
    accuracy, unreadable = measured.accuracy, len(split.unreadable)
    if unreadable:
        print(f"digitcli: no digit found in {unreadable} of {scores.count + unreadable} "
              f"pictures (counted as wrong), e.g. {split.unreadable[0]}", file=sys.stderr)
    separation = None
    if ood is not None:
        separation = evaluation.separation(network, Judge(True, min_confidence), split, ood)
    if output_format is TableOrJson.json:
        records.write_json({"model": _model_name(model), "data": split.source,
                            **scores.as_dict(), "accuracy": accuracy,
                            "unreadable": unreadable, "calibration": calibrated,
                            **({"unsure": separation} if separation else {})})
    else:
        out = tables.console()
        for table in tables.evaluation_tables(scores, _model_name(model), split.source,
                                              unreadable):
            out.print(table)
        for table in tables.calibration_tables(calibrated):
            out.print(table)
        if separation:
            out.print(tables.separation_table(separation))
    if fail_under is not None and accuracy < fail_under:
        print(f"digitcli: accuracy {accuracy:.2%} is below --fail-under {fail_under:.2%}",
              file=sys.stderr)
        raise typer.Exit(ExitCode.BELOW_THRESHOLD)


def _model_name(path: Optional[Path]) -> str:
    return str(path) if path else "bundled model"


# ---------------------------------------------------------------------------- inspect


@app.command(cls=shell.Command, epilog=EXIT_CODE_HELP)
def inspect(
    model_path: Annotated[Optional[Path], typer.Argument(
        metavar="[MODEL]", envvar="DIGITCLI_MODEL", show_default="the bundled model",
        help="Model file to describe.")] = None,
    image: Annotated[Optional[Path], typer.Option(
        help="Also show what the network sees for this picture and each layer's output.")] = None,
    output_format: Annotated[TableOrJson, format_option()] = TableOrJson.table,
) -> None:
    """Describe a model: layers, weights, how it was trained, its metrics; optionally trace one image.

    Example: `digitcli inspect --image 7.png`
    """
    from digitcli.network import inspection
    from digitcli.output import records, tables

    network = _load_model(model_path)
    summary = inspection.describe(network)
    trace = inspection.trace(network, image) if image else None
    if output_format is TableOrJson.json:
        records.write_json({**summary, **({"image": trace} if trace else {})})
        return
    out = tables.console()
    for table in tables.model_tables(summary):
        out.print(table)
    if trace:
        for renderable in tables.trace_renderables(trace):
            out.print(renderable)


# ---------------------------------------------------------------------------- export


@app.command(cls=shell.Command, epilog=EXIT_CODE_HELP)
def export(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model file to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write (ends in .keras).")],
    output_format: Annotated[ExportFormat, typer.Option(
        "--format", "-f", case_sensitive=False, help="Target format.")] = ExportFormat.keras,
) -> None:
    """Write a model as a standard Keras file that `keras.saving.load_model` opens in safe mode.

    Example: `digitcli export model.npz --out model.keras`
    """
    from digitcli.network import keras_file, store
    from digitcli.training import model

    network = store.load(model_path)
    if out.suffix != ".keras":
        raise UsageError(f"{out}: a Keras model file must end in .keras")
    keras_file.save(model.to_keras(network), out, network)
    print(f"wrote {out}", file=sys.stderr)


# ---------------------------------------------------------------------------- train


@app.command(cls=shell.Command, epilog=EXIT_CODE_HELP)
def train(
    data_sources: Annotated[Optional[list[str]], typer.Option(
        "--data", "-d", envvar="DIGITCLI_DATA", show_default="the Keras MNIST download",
        callback=unless_from_env, help=f"Dataset (repeat to merge several): {DATA_HELP}.")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training data.")] = TrainConfig.epochs,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per gradient step.")] = TrainConfig.batch_size,
    hidden: Annotated[str, typer.Option(
        help="Hidden layer sizes, comma-separated (25,15 is the course network).")] = ",".join(map(str, DEFAULT_HIDDEN)),
    learning_rate: Annotated[float, typer.Option(
        help="Adam's initial learning rate (cosine decay to 0).")] = TrainConfig.learning_rate,
    seed: Annotated[int, typer.Option(min=0, help="Seed for weights, shuffling, augmentation.")] = TrainConfig.seed,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic",        help="TensorFlow op determinism: the same seed, data and settings give byte-identical "
             "weights (slower).")] = False,
    validation_split: Annotated[float, typer.Option(
        help="Share (0 to <1) of the training data held out to report validation loss and accuracy.")] = TrainConfig.validation_split,
    patience: Annotated[int, typer.Option(
        min=0, help="Stop after this many epochs without validation improvement and keep the "
                    "best weights (needs --validation-split; 0 = off).")] = 0,
    augment: Annotated[bool, typer.Option(
        "--augment",
        help="Randomly rotate, scale, shear, shift and thicken/thin digits every epoch, and blur, "
             "lower the resolution, JPEG-compress, wobble or vary the ink of some."
    )] = TrainConfig.augment,
    init_from: Annotated[Optional[Path], typer.Option(
        help="Fine-tune this model instead of starting from random weights.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", show_default="digitcli-model.npz; with --promote, a candidate file beside it",
        help="Model file to write (atomically).")] = None,
    promote: Annotated[Optional[Path], typer.Option(
        help="Deploy to this path only if the candidate passes the gate; the old model is kept "
             "as NAME.previous.npz (see `digitcli rollback`).")] = None,
    fail_under: Annotated[Optional[float], typer.Option(
        min=0.0, max=1.0, help="Gate for --promote: minimum test accuracy (0–1).")] = None,
    require_better: Annotated[bool, typer.Option(
        "--require-better",        help="Gate for --promote: beat the deployed model's accuracy on the same test data.")] = False,
    run_dir: Annotated[Optional[Path], typer.Option(
        show_default="runs/<UTC time>",
        help="Folder for the run record: metrics, history, confusions, charts, checkpoint.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume",        help="Carry on an interrupted run with the same settings from its last completed epoch "
             "(from --run-dir, or the newest one under runs/).")] = False,
    output_format: Annotated[TableOrJson, format_option()] = TableOrJson.table,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-epoch progress.")] = False,
) -> None:
    """Train a network on labelled digits and save it, with its test metrics, to a model file.

    Example: `digitcli train --data mnist/ --epochs 30 --augment --out mine.npz` ·
    unattended: `digitcli train --data mnist/ --data ours/ --deterministic --resume --promote
    models/prod.npz --fail-under 0.99 --require-better --quiet`
    """
    from digitcli.output import records, tables
    from digitcli.training import runrecord, trainer

    if not learning_rate > 0:
        raise typer.BadParameter("must be greater than 0", param_hint="--learning-rate")
    if not 0 <= validation_split < 1:
        raise typer.BadParameter("must be at least 0 and below 1", param_hint="--validation-split")
    if patience and not validation_split:
        raise typer.BadParameter("needs --validation-split to watch", param_hint="--patience")
    if promote is None and (fail_under is not None or require_better):
        raise typer.BadParameter("is a gate for --promote; add --promote PATH",
                                 param_hint="--fail-under/--require-better")
    config = TrainConfig(
        hidden=parse_hidden(hidden), epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, seed=seed, validation_split=validation_split,
        augment=augment, deterministic=deterministic, patience=patience,
    )
    plan = trainer.Plan(
        sources=tuple(data_sources or [None]), config=config,
        out=out if out or promote else Path("digitcli-model.npz"), promote=promote,
        fail_under=fail_under, require_better=require_better, init_from=init_from,
        run_dir=run_dir, resume=resume,
    )
    try:
        with EpochReporter(epochs, quiet) as on_epoch:
            result = trainer.run(plan, on_epoch=on_epoch)
    except trainer.NothingToResume as done:  # the job is done already: not an error
        print(f"digitcli: {done}", file=sys.stderr)
        return
    decision = result.decision
    summary = runrecord.summary(result)
    if output_format is TableOrJson.json:
        records.write_json(summary)
    else:
        tables.console().print(tables.training_table(summary))
    if decision is not None and not decision.promote:
        print(f"digitcli: not promoted ({'; '.join(decision.reasons)}); the candidate is "
              f"{result.model_path}", file=sys.stderr)
        raise typer.Exit(ExitCode.NOT_PROMOTED)


@app.command(cls=shell.Command, epilog=EXIT_CODE_HELP)
def rollback(
    target: Annotated[Path, typer.Argument(metavar="PATH", help="The deployed model file.")],
) -> None:
    """Put back the model that `train --promote` replaced (run again to undo the rollback).

    Example: `digitcli rollback models/prod.npz`
    """
    from digitcli.training import promotion

    with promotion.locked(target):
        previous = promotion.rollback(target)
    print(f"digitcli: {target} is now the previous model; the replaced one is {previous}",
          file=sys.stderr)


def main() -> None:
    """Console-script entry point."""
    shell.run(app)
