"""digitcli benchmark suite: digitcli against its baselines, side by side, in one run.

    DIGITCLI_DATA=../shared/data/mnist python bench/run.py                # everything (slow: train)
    python bench/run.py --quick                                           # smoke run, ~2-3 minutes
    python bench/run.py --only cold-start batch --rounds 5
    python bench/run.py --skip train --workdir /tmp/digitcli-bench        # keep inputs for next time

Every command runs as a new process (bench/measure.py measures wall time and peak memory), the
variants of a benchmark take turns round after round (A, B, A, B, …) so machine noise hits all of
them, and medians are reported. Inputs are built from DIGITCLI_DATA in a temporary folder (or
--workdir). The results go to bench/RESULTS.md (and the raw runs to bench/RESULTS.json) and a
summary is printed. Not part of the test suite. Exit code 1 if a benchmark could not run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

import inputs
from measure import Command, Run, git_revision, launcher_name, load_average, machine, mb, measure, median, ratio

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BASELINES = BENCH / "baselines"
BUNDLED_MODEL = REPO / "models" / "digitcli-mnist.npz"


# ---------------------------------------------------------------------------- results


@dataclass
class Row:
    """One measured variant: its runs and any extra figures (accuracy, …)."""

    variant: str
    command: str
    runs: list[Run]
    ratio: str = ""  # against the benchmark's reference, as text
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return median(r.wall for r in self.runs)

    @property
    def rss_kb(self) -> float:
        return median(r.maxrss_kb for r in self.runs)

    @property
    def tree_kb(self) -> float | None:
        values = [r.tree_pss_kb for r in self.runs if r.tree_pss_kb is not None]
        return median(values) if values else None


@dataclass
class Check:
    goal: str
    measured: str
    passed: bool | None  # None: informational, no goal


@dataclass
class Result:
    name: str
    title: str
    about: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ratio_header: str = "ratio"
    error: str | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------------------- the context


class Context:
    """Settings, paths and the lazily built inputs shared by the benchmarks."""

    def __init__(self, args: argparse.Namespace, workdir: Path, data: Path):
        self.quick = args.quick
        self.rounds_override = args.rounds
        self.workdir, self.data = workdir, data
        self.python = sys.executable
        script = Path(sys.executable).parent / "digitcli"
        self.digitcli = [str(script)] if script.exists() else [sys.executable, "-m", "digitcli"]
        env = dict(os.environ)
        env.pop("DIGITCLI_MODEL", None)  # always the bundled model
        env["DIGITCLI_DATA"] = str(data)
        self.env = env
        self.batch_count = 2_000 if self.quick else 10_000
        self.photo_count = 50 if self.quick else 1_000
        self.train_subset = 20_000 if self.quick else None  # None: the full 60,000

    def rounds(self, full: int, quick: int) -> int:
        return self.rounds_override or (quick if self.quick else full)

    def command(self, name: str, argv: list, *, stdout: str | None = None, sample_tree: bool = False,
                ok_codes: tuple[int, ...] = (0,)) -> Command:
        out = self.workdir / "out" / stdout if stdout else None
        if out:
            out.parent.mkdir(exist_ok=True)
        return Command(name, [str(a) for a in argv], out, sample_tree, self.env, self.workdir, ok_codes)

    def baseline(self, script: str, *args) -> list:
        return [self.python, BASELINES / script, *args]

    def show(self, cmd: Command) -> str:
        """The command as a reader would type it (work folder as $WORK)."""
        text = " ".join(cmd.argv)
        text = text.replace(str(self.workdir), "$WORK").replace(str(REPO) + "/", "")
        text = text.replace(self.digitcli[0], "digitcli").replace(self.python, "python")
        return text + (" > " + str(cmd.stdout).replace(str(self.workdir), "$WORK") if cmd.stdout else " > /dev/null")

    # -- inputs, built on first use

    @cached_property
    def pngs(self) -> Path:
        return _step(f"writing {self.batch_count:,} MNIST test PNGs",
                     lambda: inputs.mnist_pngs(self.data, self.workdir / f"mnist-{self.batch_count}", self.batch_count))

    @cached_property
    def one_png(self) -> Path:
        return sorted(self.pngs.glob("*.png"))[0]

    @cached_property
    def keras_model(self) -> Path:
        return _step("exporting the bundled model to .keras",
                     lambda: inputs.keras_model(self.digitcli, BUNDLED_MODEL, self.workdir / "model.keras", self.env))

    @cached_property
    def photos(self) -> tuple[Path, str]:
        return _step(f"generating {self.photo_count:,} photo-like JPEGs (1200×900)",
                     lambda: inputs.photos(self.workdir / f"photos-{self.photo_count}", self.photo_count))

    @cached_property
    def memory_sets(self) -> list[tuple[int, Path]]:
        n = self.batch_count
        small = _step(f"linking {n // 10:,} PNGs", lambda: inputs.linked_copies(self.pngs, self.workdir / f"mem-{n // 10}", n // 10))
        large = _step(f"linking {10 * n:,} PNGs (10 subfolders of hard links)",
                      lambda: inputs.linked_copies(self.pngs, self.workdir / f"mem-{10 * n}", copies=10))
        return [(n // 10, small), (n, self.pngs), (10 * n, large)]

    @cached_property
    def train_data(self) -> Path:
        if self.train_subset is None:
            return self.data
        return _step(f"writing an MNIST npz with {self.train_subset:,} training images",
                     lambda: inputs.mnist_npz(self.data, self.workdir / f"mnist-train{self.train_subset}.npz", self.train_subset))


def _step(what: str, build: Callable):
    started = time.perf_counter()
    _log(f"  inputs: {what} …")
    value = build()
    _log(f"  inputs: {what}: {time.perf_counter() - started:.1f} s")
    return value


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def interleave(name: str, cmds: list[Command], rounds: int, *, warmup: bool = True) -> dict[str, list[Run]]:
    """Run every command once per round, in turn (A, B, A, B, …), after one untimed warm-up each."""
    if warmup:
        for cmd in cmds:
            measure(cmd)
            _log(f"  {name}: warm-up {cmd.name}")
    runs: dict[str, list[Run]] = {cmd.name: [] for cmd in cmds}
    for r in range(rounds):
        for cmd in cmds:
            run = measure(cmd)
            runs[cmd.name].append(run)
            tree = f", tree PSS {mb(run.tree_pss_kb):.0f} MB" if run.tree_pss_kb is not None else ""
            _log(f"  {name}: round {r + 1}/{rounds} {cmd.name}: {run.wall:.2f} s, peak RSS {mb(run.maxrss_kb):.0f} MB{tree}")
    return runs


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _accuracy(pairs) -> tuple[float, int]:
    """(share of (path, digit) pairs whose digit matches the label in the file name, how many)."""
    pairs = list(pairs)
    right = sum(1 for path, digit in pairs if digit is not None and int(digit) == inputs.label_of(path))
    return (right / len(pairs) if pairs else 0.0), len(pairs)


def _x(value: float) -> str:
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.3f}×"


# ---------------------------------------------------------------------------- 1. cold start


def bench_cold_start(ctx: Context) -> Result:
    res = Result("cold-start", "one picture, new process",
                 "`digitcli predict one.png` (default table output) against a plain Keras script that "
                 "loads the exported `.keras` model and predicts the same 28×28 MNIST PNG.",
                 ratio_header="digitcli ÷ this (wall, RSS)")
    one, model = ctx.one_png, ctx.keras_model
    dc = ctx.command("digitcli", [*ctx.digitcli, "predict", one])
    kb = ctx.command("keras", ctx.baseline("keras_predict_one.py", model, one), stdout="cold-keras.txt")
    runs = interleave(res.name, [dc, kb], ctx.rounds(10, 3))
    a, b = Row("digitcli", ctx.show(dc), runs[dc.name]), Row("Keras script (baseline)", ctx.show(kb), runs[kb.name])
    wall, rss = ratio(a.wall, b.wall), ratio(a.rss_kb, b.rss_kb)
    b.ratio = f"{_x(wall)}, {_x(rss)}"
    res.rows = [a, b]
    res.checks = [Check("wall ≤ 0.10× baseline", _x(wall), wall <= 0.10),
                  Check("peak RSS ≤ 0.25× baseline", _x(rss), rss <= 0.25)]
    # Correctness, once and untimed: both must name the file's label.
    check = ctx.command("digitcli-jsonl", [*ctx.digitcli, "predict", one, "--format", "jsonl"], stdout="cold-digitcli.jsonl")
    measure(check)
    digit_dc = _records(check.stdout)[0]["digit"]
    digit_keras = int(kb.stdout.read_text().split()[-1])
    label = inputs.label_of(str(one))
    res.checks.append(Check(f"both read the digit ({label})", f"digitcli {digit_dc}, Keras {digit_keras}",
                            digit_dc == label and digit_keras == label))
    res.notes.append("digitcli's modules are compiled to .pyc files before timing, as an installed package's "
                     "(Keras's, for one) are: an editable install with PYTHONDONTWRITEBYTECODE set, as on these "
                     "machines, would otherwise compile them on every start, some tens of ms.")
    return res


# ---------------------------------------------------------------------------- 2. batch


def bench_batch(ctx: Context) -> Result:
    n = ctx.batch_count
    res = Result("batch", f"{n:,} MNIST test PNGs in one folder",
                 "`digitcli predict DIR --format jsonl` against the decode floor (a Pillow loop that only "
                 "opens and decodes every file, one process) and a plain Keras script (decode, grey, "
                 "28×28, one `predict`). `--workers 1` is shown for a per-core comparison (no goal).",
                 ratio_header="this ÷ digitcli (wall)")
    folder, model = ctx.pngs, ctx.keras_model
    dc = ctx.command("digitcli", [*ctx.digitcli, "predict", folder, "--format", "jsonl"], stdout="batch-digitcli.jsonl")
    dc1 = ctx.command("digitcli-w1", [*ctx.digitcli, "predict", folder, "--format", "jsonl", "--workers", "1"],
                      stdout="batch-digitcli-w1.jsonl")
    floor = ctx.command("floor", ctx.baseline("decode_floor.py", folder))
    kb = ctx.command("keras", ctx.baseline("keras_batch.py", model, folder), stdout="batch-keras.tsv")
    runs = interleave(res.name, [dc, dc1, floor, kb], ctx.rounds(5, 2), warmup=not ctx.quick)
    rows = {
        "digitcli": Row(f"digitcli (default workers = {_cores()})", ctx.show(dc), runs[dc.name]),
        "w1": Row("digitcli --workers 1 (info)", ctx.show(dc1), runs[dc1.name]),
        "floor": Row("decode floor (baseline a)", ctx.show(floor), runs[floor.name]),
        "keras": Row("Keras batch (baseline b)", ctx.show(kb), runs[kb.name]),
    }
    base = rows["digitcli"].wall
    for row in rows.values():
        row.ratio = _x(ratio(row.wall, base))
    res.rows = list(rows.values())

    records = _records(dc.stdout)
    # "unsure" records still carry the digit: only errors are missing answers.
    answered = sum(1 for r in records if r["status"] != "error")
    unsure = sum(1 for r in records if r["status"] == "unsure")
    acc_dc, _ = _accuracy((r["path"], r["digit"]) for r in records)
    acc_w1, _ = _accuracy((r["path"], r["digit"]) for r in _records(dc1.stdout))
    keras_lines = [line.split("\t") for line in kb.stdout.read_text().splitlines()]
    acc_keras, _ = _accuracy((p, d) for p, d in keras_lines)
    rows["digitcli"].extra["accuracy"] = f"{acc_dc:.2%}"
    rows["w1"].extra["accuracy"] = f"{acc_w1:.2%}"
    rows["keras"].extra["accuracy"] = f"{acc_keras:.2%}"
    vs_floor = ratio(rows["digitcli"].wall, rows["floor"].wall)
    speedup = ratio(rows["keras"].wall, rows["digitcli"].wall)
    res.checks = [
        Check("wall ≤ 1.5× decode floor (issue 14)", _x(vs_floor), vs_floor <= 1.5),
        Check("≥ 4× faster than Keras batch", f"{speedup:.2f}× faster", speedup >= 4.0),
        Check(f"{n:,} answered records", f"{answered:,} of {len(records):,} ({unsure} of them unsure)",
              answered == n == len(records)),
        Check("per core: digitcli --workers 1 vs floor (info)",
              _x(ratio(rows["w1"].wall, rows["floor"].wall)), None),
    ]
    res.notes.append(f"digitcli decodes in worker processes (one per core: {_cores()}); the floor and the "
                     "Keras script use one process. Accuracy is against the MNIST labels.")
    return res


def _draft_side() -> int:
    """digitcli's JPEG draft rule (decode at 1/2, 1/4, 1/8 while keeping this many px a side), for the floor."""
    from digitcli.vision.preprocess import DRAFT_SIZE

    if DRAFT_SIZE[0] != DRAFT_SIZE[1]:
        raise RuntimeError(f"DRAFT_SIZE {DRAFT_SIZE} is not square: update decode_floor.py --draft")
    return DRAFT_SIZE[0]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------- 3. photos


def bench_photos(ctx: Context) -> Result:
    n = ctx.photo_count
    res = Result("photos", f"{n:,} photo-like JPEGs, 1200×900",
                 "`digitcli predict DIR --format jsonl` against the draft decode floor (issue 14: "
                 "`bench/baselines/decode_floor.py --draft`, one process that only decodes every JPEG to a "
                 "grey array with `Image.draft(\"L\", …)` keeping digitcli's DRAFT_SIZE a side) and against "
                 "the same pipeline decoding every JPEG at full size (`bench/baselines/predict_nodraft.py`: "
                 "digitcli's own CLI with JPEG draft decoding switched off, see that file).",
                 ratio_header="this ÷ digitcli (wall)")
    folder, source = ctx.photos
    # Exit code 6 (some inputs failed, e.g. "no digit found") is a finished batch, not a broken run.
    dc = ctx.command("digitcli", [*ctx.digitcli, "predict", folder, "--format", "jsonl"],
                     stdout="photos-digitcli.jsonl", ok_codes=(0, 6))
    full = ctx.command("full-size", ctx.baseline("predict_nodraft.py", folder, "--format", "jsonl"),
                       stdout="photos-full.jsonl", ok_codes=(0, 6))
    floor = ctx.command("floor", ctx.baseline("decode_floor.py", folder, "--draft", _draft_side()))
    runs = interleave(res.name, [dc, full, floor], ctx.rounds(5, 2), warmup=not ctx.quick)
    a = Row(f"digitcli (draft decoding, default workers = {_cores()})", ctx.show(dc), runs[dc.name])
    b = Row("full-size decoding (baseline)", ctx.show(full), runs[full.name])
    c = Row("draft decode floor, one process (baseline)", ctx.show(floor), runs[floor.name])
    speedup = ratio(b.wall, a.wall)
    vs_floor = ratio(a.wall, c.wall)
    a.ratio, b.ratio, c.ratio = "1.00×", _x(speedup), _x(ratio(c.wall, a.wall))
    res.rows = [a, b, c]
    rec_a, rec_b = _records(dc.stdout), _records(full.stdout)
    for row, records in ((a, rec_a), (b, rec_b)):
        accuracy, _ = _accuracy((r["path"], r["digit"]) for r in records)
        row.extra["accuracy"] = f"{accuracy:.1%}"
        row.extra["errors"] = str(sum(1 for r in records if r["status"] == "error"))
    same = sum(1 for x, y in zip(rec_a, rec_b) if x["path"] == y["path"] and x["digit"] == y["digit"])
    res.checks = [
        Check("wall ≤ 1.5× draft decode floor (issue 14)", _x(vs_floor), vs_floor <= 1.5),
        Check("≥ 2× faster than full-size decoding", f"{speedup:.2f}× faster", speedup >= 2.0),
        Check("same answer as full-size decoding (info)", f"{same:,} of {len(rec_a):,}", None),
        Check(f"{n:,} records (info)", f"{len(rec_a):,} and {len(rec_b):,}", None),
    ]
    res.notes.append("Accuracy is against the generator's labels; an error record (e.g. no digit found) "
                     "counts as wrong.")
    res.notes.append(f"Pictures: {source}.")
    return res


# ---------------------------------------------------------------------------- 4. memory


def bench_memory(ctx: Context) -> Result:
    sets = ctx.memory_sets
    res = Result("memory-flat", "memory stays flat as the batch grows",
                 "Peak memory of `digitcli predict DIR --recursive --format jsonl > /dev/null` on "
                 f"{sets[0][0]:,} / {sets[1][0]:,} / {sets[2][0]:,} MNIST PNGs (the largest set is 10 "
                 "subfolders of hard links to the same files).",
                 ratio_header="÷ smallest (RSS, tree PSS)")
    cmds = [ctx.command(f"{count:,}", [*ctx.digitcli, "predict", folder, "--recursive", "--format", "jsonl"],
                        sample_tree=True) for count, folder in sets]
    runs = interleave(res.name, cmds, ctx.rounds(2, 1), warmup=False)
    rows = [Row(f"{cmd.name} images", ctx.show(cmd), runs[cmd.name]) for cmd in cmds]
    small, large = rows[0], rows[-1]
    for row in rows:
        row.ratio = f"{_x(ratio(row.rss_kb, small.rss_kb))}, {_x(ratio(row.tree_kb, small.tree_kb))}"
        row.extra["tree PSS MB"] = f"{mb(row.tree_kb):.0f}"
    res.rows = rows
    grow_rss, grow_tree = ratio(large.rss_kb, small.rss_kb), ratio(large.tree_kb, small.tree_kb)
    res.checks = [
        Check(f"{sets[-1][0]:,}: peak RSS ≤ 1.5× of {sets[0][0]:,} (largest process)", _x(grow_rss), grow_rss <= 1.5),
        Check(f"{sets[-1][0]:,}: tree PSS ≤ 1.5× of {sets[0][0]:,} (all processes)", _x(grow_tree), grow_tree <= 1.5),
    ]
    res.notes.append("Peak RSS is `ru_maxrss` (see bench/measure.py): the largest single process (main or a worker). "
                     "Tree PSS is the sum of PSS over the main process and its workers, sampled every 50 ms.")
    return res


# ---------------------------------------------------------------------------- 5. train


def bench_train(ctx: Context) -> Result:
    data = ctx.train_data
    what = "the full MNIST training set" if ctx.train_subset is None else f"the first {ctx.train_subset:,} MNIST training images"
    res = Result("train", "seconds per epoch",
                 f"`digitcli train --epochs E --quiet --format json` against plain Keras `fit` "
                 f"(`bench/baselines/keras_fit.py`: same network, batch 128, Adam 1e-3, from_logits) on {what}. "
                 "Seconds per epoch = (wall of a 3-epoch run − wall of a 1-epoch run) / 2, for both, "
                 "which removes start-up, data loading and evaluation.",
                 ratio_header="")
    cmds = []
    for epochs in (1, 3):
        # --validation-split 0: both fit the same 60,000 images, and digitcli skips its per-epoch validation pass.
        cmds.append(ctx.command(f"digitcli-{epochs}", [*ctx.digitcli, "train", "--data", data, "--epochs", epochs,
                                                       "--validation-split", 0, "--quiet", "--format", "json",
                                                       "--out", ctx.workdir / f"train-{epochs}.npz"],
                                stdout=f"train-digitcli-{epochs}.json"))
        cmds.append(ctx.command(f"keras-{epochs}", ctx.baseline("keras_fit.py", data, epochs), stdout=f"train-keras-{epochs}.json"))
    runs = interleave(res.name, cmds, ctx.rounds(1, 1), warmup=not ctx.quick)
    rows = {cmd.name: Row(cmd.name.replace("-", ", ") + " epoch(s)", ctx.show(cmd), runs[cmd.name]) for cmd in cmds}
    outputs = {cmd.name: json.loads(cmd.stdout.read_text()) for cmd in cmds}
    for name, row in rows.items():
        row.extra["test accuracy"] = f"{outputs[name]['test_accuracy']:.2%}"
        row.extra["own fit s"] = f"{outputs[name]['seconds']:.1f}"
    res.rows = list(rows.values())
    per_dc = (rows["digitcli-3"].wall - rows["digitcli-1"].wall) / 2
    per_keras = (rows["keras-3"].wall - rows["keras-1"].wall) / 2
    gap = (outputs["keras-3"]["test_accuracy"] - outputs["digitcli-3"]["test_accuracy"]) * 100  # > 0: digitcli worse
    measured = f"digitcli {per_dc:.2f} s, Keras {per_keras:.2f} s"
    if per_dc > 0 and per_keras > 0:
        speed = ratio(per_dc, per_keras)
        goal = Check("s/epoch ≤ 0.5× Keras fit", f"{measured}: {_x(speed)}", speed <= 0.5)
    else:  # the 3-epoch run was not slower than the 1-epoch run: noise larger than two epochs
        goal = Check("s/epoch ≤ 0.5× Keras fit", f"{measured}: not measurable (noise larger than two epochs; "
                     "use more rounds or a quieter machine)", None)
    own_dc = (outputs["digitcli-3"]["seconds"] - outputs["digitcli-1"]["seconds"]) / 2
    own_keras = (outputs["keras-3"]["seconds"] - outputs["keras-1"]["seconds"]) / 2
    res.checks = [
        goal,
        Check("s/epoch from each program's own timer, same 3 − 1 epochs method (info)",
              f"digitcli {own_dc:.2f} s, Keras {own_keras:.2f} s: {_x(ratio(own_dc, own_keras))}", None),
        # The goal is that speed is not bought with accuracy, so only a shortfall counts against it.
        Check("test accuracy at most 0.3 points below Keras (3 epochs)",
              f"digitcli {outputs['digitcli-3']['test_accuracy']:.2%}, Keras {outputs['keras-3']['test_accuracy']:.2%} "
              f"({-gap:+.2f} points)", gap <= 0.3),
    ]
    res.notes.append("'own fit s' is the training time each program reports itself (digitcli: `seconds` in its "
                     "JSON summary, around its whole `model.train` call; Keras script: around `fit`). Not used for the "
                     "goal. digitcli's `train` also writes a run folder (`runs/…` in the work folder) with plots.")
    return res


def bench_determinism(ctx: Context) -> Result:
    """What `train --deterministic` (TensorFlow op determinism) costs, same program, same data."""
    res = Result("determinism", "training seconds",
                 f"`digitcli train --epochs 2` with and without `--deterministic` on {ctx.train_data}; "
                 "the figure is the training time digitcli reports (`seconds`), so start-up and "
                 "evaluation are left out.", ratio_header="")
    cmds = [ctx.command(name, [*ctx.digitcli, "train", "--data", ctx.train_data, "--epochs", 2, "--quiet",
                               "--format", "json", *flags, "--out", ctx.workdir / f"det-{name}.npz"],
                        stdout=f"det-{name}.json")
            for name, flags in (("default", []), ("deterministic", ["--deterministic"]))]
    seconds: dict[str, list[float]] = {cmd.name: [] for cmd in cmds}
    for _ in range(ctx.rounds(3, 1)):
        for cmd in cmds:
            interleave(res.name, [cmd], 1, warmup=False)
            seconds[cmd.name].append(json.loads(cmd.stdout.read_text())["seconds"])
    median = {name: statistics.median(values) for name, values in seconds.items()}
    res.checks = [Check("cost of --deterministic (info)",
                        f"{median['deterministic']:.1f} s vs {median['default']:.1f} s: "
                        f"{_x(ratio(median['deterministic'], median['default']))}", None)]
    return res


BENCHMARKS: dict[str, Callable[[Context], Result]] = {
    "cold-start": bench_cold_start,
    "batch": bench_batch,
    "photos": bench_photos,
    "memory-flat": bench_memory,
    "train": bench_train,
    "determinism": bench_determinism,
}


# ---------------------------------------------------------------------------- report


def _cell(check: Check) -> str:
    return "—" if check.passed is None else ("**pass**" if check.passed else "**FAIL**")


def render(results: list[Result], header: dict, machine_info: dict) -> str:
    out = ["# digitcli benchmarks", ""]
    if header["quick"]:
        out += ["> **Quick smoke run** (`--quick`: fewer rounds, smaller sets). Check that the suite works; "
                "do not quote these numbers.", ""]
    out += [f"Written by `python bench/run.py {header['args']}` on {header['date']} "
            f"({header['minutes']:.1f} min). digitcli revision: {header['revision']}. "
            f"Load average at start / end: {header['load_start']} / {header['load_end']}.", "",
            "Each command is a new process; the variants of a benchmark take turns round after round, "
            "after one untimed warm-up each (all but memory-flat; with --quick only cold-start). Wall: median, with min–max; peak RSS: median "
            f"`ru_maxrss` of the command, taken by {launcher_name()} (see bench/measure.py for why not by "
            "this runner). Ratios are of medians.", "", "## Machine", "", "| | |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in machine_info.items()]
    out += ["", "## Summary", "", "| benchmark | goal | measured | result |", "| --- | --- | --- | --- |"]
    for res in results:
        if res.error:
            out.append(f"| {res.name} | — | could not run: {res.error.splitlines()[0]} | **ERROR** |")
        for check in res.checks:
            out.append(f"| {res.name} | {check.goal} | {check.measured} | {_cell(check)} |")
    for res in results:
        out += ["", f"## {res.name} — {res.title}", "", res.about, ""]
        if res.error:
            out += ["**Could not run:**", "", "```", res.error.strip(), "```"]
            continue
        extras = list(dict.fromkeys(k for row in res.rows for k in row.extra))
        head = ["variant", "wall s, median (min–max)", "peak RSS MB", *( [res.ratio_header] if res.ratio_header else []), *extras]
        out += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for row in res.rows:
            walls = [r.wall for r in row.runs]
            cells = [row.variant, f"{row.wall:.3f} ({min(walls):.3f}–{max(walls):.3f}, n={len(walls)})",
                     f"{mb(row.rss_kb):.0f}", *([row.ratio or "—"] if res.ratio_header else []),
                     *(row.extra.get(k, "") for k in extras)]
            out.append("| " + " | ".join(cells) + " |")
        out += ["", "| goal | measured | result |", "| --- | --- | --- |"]
        out += [f"| {c.goal} | {c.measured} | {_cell(c)} |" for c in res.checks]
        out += ["", "Commands:", ""] + [f"- `{row.command}`" for row in res.rows]
        out += [""] + [f"{note}" for note in res.notes]
        out += ["", f"({res.seconds:.0f} s for this benchmark)"]
    return "\n".join(out) + "\n"


def summary(results: list[Result]) -> str:
    lines = []
    for res in results:
        lines.append(f"{res.name}:")
        if res.error:
            lines.append(f"  ERROR: {res.error.strip().splitlines()[-1]}")
            continue
        for row in res.rows:
            lines.append(f"  {row.variant:<34} wall {row.wall:8.3f} s   peak RSS {mb(row.rss_kb):7.0f} MB"
                         + (f"   {res.ratio_header}: {row.ratio}" if row.ratio else "")
                         + "".join(f"   {k}: {v}" for k, v in row.extra.items()))
        for c in res.checks:
            verdict = "info" if c.passed is None else ("pass" if c.passed else "FAIL")
            lines.append(f"  [{verdict}] {c.goal}: {c.measured}")
    return "\n".join(lines)


def _raw(results: list[Result], header: dict, machine_info: dict) -> dict:
    return {"header": header, "machine": machine_info, "results": [
        {"name": r.name, "error": r.error, "checks": [vars(c) for c in r.checks],
         "rows": [{"variant": row.variant, "command": row.command, "extra": row.extra,
                   "runs": [run.as_dict() for run in row.runs]} for row in r.rows]}
        for r in results]}


# ---------------------------------------------------------------------------- main


def _data_folder() -> Path:
    value = os.environ.get("DIGITCLI_DATA")
    if value:
        return Path(value).resolve()
    fallback = REPO.parent / "shared" / "data" / "mnist"
    if fallback.is_dir():
        _log(f"DIGITCLI_DATA is not set; using {fallback}")
        return fallback
    sys.exit("run.py: set DIGITCLI_DATA to the folder with the MNIST IDX files")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="rounds per benchmark (default: 10 cold-start, 5 batch and "
                        "photos, 2 memory-flat, 1 train; --quick: 3, 2, 2, 1, 1)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"run only these: {', '.join(BENCHMARKS)}")
    parser.add_argument("--skip", nargs="+", choices=list(BENCHMARKS), metavar="NAME", default=[],
                        help="leave these out (e.g. --skip train)")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer rounds and smaller sets")
    parser.add_argument("--workdir", type=Path, help="build inputs here and keep them for the next run "
                        "(default: a temporary folder, removed afterwards)")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md", help="Markdown report (default: bench/RESULTS.md)")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")

    names = [n for n in (args.only or BENCHMARKS) if n not in args.skip]
    data = _data_folder()
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="digitcli-bench-")) if temporary else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    header = {"args": " ".join(sys.argv[1:] if argv is None else argv), "quick": args.quick,
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "revision": git_revision(REPO), "load_start": load_average()}
    machine_info = machine()
    results = []
    compileall.compile_dir(REPO / "digitcli", quiet=1)  # see the cold-start note
    try:
        ctx = Context(args, workdir, data)
        for name in names:
            _log(f"{name} …")
            t0 = time.perf_counter()
            try:
                result = BENCHMARKS[name](ctx)
            except Exception as exc:  # one broken benchmark must not hide the others' results
                result = Result(name, name, "", error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
                _log(f"  {name}: ERROR {type(exc).__name__}: {exc}")
            result.seconds = time.perf_counter() - t0
            results.append(result)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    header.update(load_end=load_average(), minutes=(time.perf_counter() - started) / 60)
    args.out.write_text(render(results, header, machine_info))
    args.out.with_suffix(".json").write_text(json.dumps(_raw(results, header, machine_info), indent=1) + "\n")
    print(summary(results))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.json')} ({header['minutes']:.1f} min)")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
