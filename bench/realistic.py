"""Accuracy on realistic digit pictures, overall and per condition, beside MNIST test accuracy.

Generates a seeded set with digitcli's own generator (never seen in training), runs it through
the same pipeline as `digitcli predict`, and writes a Markdown report. A picture reported as
"no digit found" counts as wrong. Run:

    DIGITCLI_DATA=path/to/mnist python bench/realistic.py --count 2000 --seed 1
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from digitcli import data, store
from digitcli.metrics import evaluate
from digitcli.predict import collect, default_workers, predict
from digitcli.synth import write_dataset

CONDITIONS = ("kind", "capture", "background", "ink", "size", "rotation", "lighting", "noise",
              "blur", "format")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=store.bundled_model_path())
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("REALISTIC.md"))
    args = parser.parse_args()

    network = store.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        labels_csv = write_dataset(Path(tmp), args.count, args.seed)
        rows = list(csv.DictReader(open(labels_csv)))
        folder = labels_csv.parent
        items = collect([str(folder)], recursive=True)
        results = {os.path.relpath(p.path, folder): p
                   for p in predict(items, network, workers=default_workers())}
    right = [results[row["path"]].digit == int(row["label"]) for row in rows]
    errors = sum(results[row["path"]].status != "ok" for row in rows)

    lines = [f"# Accuracy on realistic pictures\n",
             f"Model `{args.model.name}`; {len(rows):,} generated pictures, seed {args.seed} "
             f"(`python bench/realistic.py --count {args.count} --seed {args.seed}`).\n",
             "| set | accuracy |", "| --- | ---: |",
             f"| realistic pictures | {sum(right) / len(rows):.2%} ({errors} not found) |"]
    if os.environ.get("DIGITCLI_DATA"):
        test = data.load_split(None, "test")
        lines.append(f"| MNIST test set | {evaluate(network, test.x, test.y).accuracy:.2%} |")
    for condition in CONDITIONS:
        groups: dict[str, list[bool]] = defaultdict(list)
        for row, ok in zip(rows, right):
            groups[row[condition]].append(ok)
        lines += ["", f"**{condition}**", "", "| value | pictures | accuracy |", "| --- | ---: | ---: |"]
        for value, oks in sorted(groups.items(), key=lambda kv: sum(kv[1]) / len(kv[1])):
            lines.append(f"| {value} | {len(oks)} | {sum(oks) / len(oks):.1%} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
