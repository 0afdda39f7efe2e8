"""Whole-number accuracy on realistic pictures of 2-8 digit numbers, overall and per condition.

Generates a seeded set with digitcli.synth.whole_numbers (never used in training), finds the digits with
digitcli.vision.segment, classifies each with the model's NumPy forward pass and softmax, and writes a
Markdown report.  A number counts as right only if every digit is found and read correctly.  Run:

    DIGITCLI_DATA=path/to/mnist python bench/whole_numbers.py --count 1000 --seed 1

(DIGITCLI_DATA is not needed; it is accepted for symmetry with bench/realistic.py.)  The file is
not called numbers.py: run as a script, bench/ comes first on sys.path and that name would hide the
standard library's `numbers` module, which NumPy imports.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from digitcli.network import store
from digitcli.network.rejection import Judge
from digitcli.vision.segment import find_digits
from digitcli.synth import fonts
from digitcli.synth.whole_numbers import CONDITIONS, write_dataset


def read_numbers(folder: Path, rows: list[dict], network, split_touching: bool) -> list[dict]:
    """Segment and classify every picture; one result per row."""
    results = []
    for row in rows:
        seg = find_digits(folder / row["path"], split_touching=split_touching)
        probs, reasons = Judge().classify(network, seg.inputs) if len(seg) else (np.zeros((0, 10)), [])
        read = "".join(str(int(d)) for d in probs.argmax(axis=1))
        results.append({"read": read, "confidence": probs.max(axis=1),
                        "unsure": not len(seg) or any(r is not None for r in reasons)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=store.bundled_model_path())
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("NUMBERS.md"))
    parser.add_argument("--no-split", action="store_true", help="do not split touching digits (to compare)")
    parser.add_argument("--failures", type=Path, help="also write the wrong readings to this CSV")
    args = parser.parse_args()
    fonts.require("bench")

    network = store.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with open(write_dataset(folder, args.count, args.seed), newline="") as f:
            rows = list(csv.DictReader(f))
        start = time.perf_counter()
        results = read_numbers(folder, rows, network, not args.no_split)
        seconds = time.perf_counter() - start

    right = [r["read"] == row["number"] for r, row in zip(results, rows)]
    fewer = sum(len(r["read"]) < len(row["number"]) for r, row in zip(results, rows))
    more = sum(len(r["read"]) > len(row["number"]) for r, row in zip(results, rows))
    counted = [(r["read"], row["number"]) for r, row in zip(results, rows) if len(r["read"]) == len(row["number"])]
    digits_right = sum(a == b for read, true in counted for a, b in zip(read, true))
    digits_total = sum(len(true) for _, true in counted)
    n = len(rows)
    unsure = [r["unsure"] for r in results]
    sure_right = [ok for ok, u in zip(right, unsure) if not u]

    split = "off (--no-split)" if args.no_split else "on"
    command = f"python bench/whole_numbers.py --count {args.count} --seed {args.seed}" + (" --no-split" if args.no_split else "")
    lines = [
        "# Whole numbers on realistic pictures\n",
        (
            f"Model `{args.model.name}`; {n:,} generated pictures of 2-8 digit numbers, seed {args.seed} "
            f"(`{command}`); splitting of touching digits {split}; {1000 * seconds / n:.0f} ms per picture "
            "(segmentation and classification, one process).\n"
        ),
        "| measure | value |",
        "| --- | ---: |",
        f"| exact whole-number matches | {sum(right) / n:.2%} ({sum(right)} of {n}) |",
        f"| digit count wrong (found fewer / more) | {(fewer + more) / n:.2%} ({fewer} / {more}) |",
        f"| per-digit accuracy where the count is right | {digits_right / max(digits_total, 1):.2%} ({digits_total:,} digits) |",
        f"| called unsure (a digit unsure, or no digit found) | {np.mean(unsure):.2%} ({sum(unsure)}) |",
        f"| exact matches among the others | {np.mean(sure_right) if sure_right else 0:.2%} ({sum(sure_right)} of {len(sure_right)}) |",
    ]
    for condition in CONDITIONS:
        groups: dict[str, list[bool]] = defaultdict(list)
        counts: dict[str, list[bool]] = defaultdict(list)
        for row, ok, r in zip(rows, right, results):
            groups[row[condition]].append(ok)
            counts[row[condition]].append(len(r["read"]) == len(row["number"]))
        lines += ["", f"**{condition}**", "", "| value | pictures | exact | count right |", "| --- | ---: | ---: | ---: |"]
        order = sorted(groups, key=int) if condition == "length" else sorted(groups, key=lambda k: np.mean(groups[k]))
        for value in order:
            oks = groups[value]
            lines.append(f"| {value} | {len(oks)} | {np.mean(oks):.1%} | {np.mean(counts[value]):.1%} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    if args.failures:
        with args.failures.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", "number", "read", "min_confidence"])
            for row, r, ok in zip(rows, results, right):
                if not ok:
                    low = f"{r['confidence'].min():.3f}" if len(r["confidence"]) else ""
                    writer.writerow([row["path"], row["number"], r["read"], low])


if __name__ == "__main__":
    main()
