"""Accuracy on realistic digit pictures, overall and per condition, beside MNIST test accuracy.

Generates a seeded set with digitcli's own generator (never seen in training), runs it through
the same pipeline as `digitcli predict`, and writes a Markdown report. A picture reported as
"no digit found" counts as wrong. Run:

    DIGITCLI_DATA=path/to/mnist python bench/realistic.py --count 2000 --seed 1
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from digitcli.network import store

from digitcli.synth import realistic

from digitcli.training import data
from digitcli.network.metrics import evaluate
from digitcli.inputs import collect
from digitcli.pool import default_workers
from digitcli.predict import predict
from digitcli.synth import fonts
from digitcli.synth.realistic import write_dataset

CONDITIONS = ("kind", "capture", "background", "ink", "size", "rotation", "lighting", "noise",
              "blur", "format")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=store.bundled_model_path())
    parser.add_argument("--preprocess", choices=("auto", "choose"), default="auto",
                        help="predict's --preprocess (default: auto)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("REALISTIC.md"))
    parser.add_argument("--images", type=Path, help="keep the pictures in this folder and reuse "
                        "them on the next run with the same --count, --seed and --force (faster)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--force", action="append", default=[], metavar="CONDITION=VALUE",
                        help="fix a condition for every picture, e.g. --force background=paper-on-desk "
                        "--force capture=photo (a stress set for one weakness)")
    args = parser.parse_args()
    fonts.require("bench")
    force = _forced(args.force, parser)

    network = store.load(args.model)
    with contextlib.ExitStack() as stack:
        folder = args.images or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        labels_csv = folder / "labels.csv"
        stamp = folder / "made-with.txt"  # reuse only pictures made with these settings
        made_with = f"count {args.count} seed {args.seed}" + "".join(f" {k}={v}" for k, v in sorted(force.items())) + "\n"
        if not (labels_csv.exists() and stamp.exists() and stamp.read_text() == made_with):
            labels_csv = write_dataset(folder, args.count, args.seed, force=force)
            stamp.write_text(made_with)
        rows = list(csv.DictReader(open(labels_csv)))
        items = collect([str(folder)], recursive=True)
        results = {os.path.relpath(p.path, folder): p
                   for p in predict(items, network, mode=args.preprocess, workers=default_workers())}
    right = [results[row["path"]].digit == int(row["label"]) for row in rows]
    errors = sum(results[row["path"]].status == "error" for row in rows)
    unsure = sum(results[row["path"]].status == "unsure" for row in rows)  # still has a digit
    sure = [ok for ok, row in zip(right, rows) if results[row["path"]].status == "ok"]
    summary = {"model": str(args.model), "count": len(rows), "seed": args.seed,
               "accuracy": sum(right) / len(rows), "not_found": errors, "unsure": unsure,
               "accuracy_not_unsure": sum(sure) / max(len(sure), 1)}

    lines = ["# Accuracy on realistic pictures\n",
             f"Model `{args.model.name}`; {len(rows):,} generated pictures, seed {args.seed}"
             + "".join(f", {k} {v}" for k, v in force.items())
             + f" (`python bench/realistic.py --count {args.count} --seed {args.seed}"
             + (f" --preprocess {args.preprocess}" if args.preprocess != "auto" else "")
             + "".join(f" --force {k}={v}" for k, v in force.items()) + "`).\n",
             "| set | accuracy |", "| --- | ---: |",
             f"| realistic pictures | {sum(right) / len(rows):.2%} ({errors} not found, {unsure} unsure) |",
             f"| the {len(sure):,} not called unsure | {sum(sure) / max(len(sure), 1):.2%} |"]
    if os.environ.get("DIGITCLI_DATA"):
        test = data.load_split(None, "test")
        summary["mnist"] = evaluate(network, test.x, test.y).accuracy
        lines.append(f"| MNIST test set | {summary['mnist']:.2%} |")
    for condition in (*CONDITIONS, "style"):
        groups: dict[str, list[bool]] = defaultdict(list)
        for row, ok in zip(rows, right):
            if condition != "style" or row["kind"] == "font":  # handwriting styles: too many
                groups[row[condition]].append(ok)
        groups.pop("", None)
        summary[condition] = {value: sum(oks) / len(oks) for value, oks in groups.items()}
        lines += ["", f"**{condition}**", "", "| value | pictures | accuracy |", "| --- | ---: | ---: |"]
        for value, oks in sorted(groups.items(), key=lambda kv: sum(kv[1]) / len(kv[1])):
            lines.append(f"| {value} | {len(oks)} | {sum(oks) / len(oks):.1%} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    print(text)


def _forced(items: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    """--force CONDITION=VALUE items as a dict, each checked against the generator's own tables."""
    tables = [{"kind": realistic.KIND_WEIGHTS, "capture": realistic.CAPTURES}, realistic.COMMON, *realistic.BY_CAPTURE.values()]
    force = {}
    for item in items:
        key, _, value = item.partition("=")
        allowed = sorted({v for table in tables for v in table.get(key, ())})
        if value not in allowed:
            hint = f"{key} is one of {', '.join(allowed)}" if allowed else f"conditions: {', '.join(CONDITIONS)}"
            parser.error(f"--force {item}: unknown; {hint}")
        force[key] = value
    return force


if __name__ == "__main__":
    main()
