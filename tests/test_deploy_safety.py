"""Deploying and rolling back never loses a model: kills at every step, full disks, FIFOs, races."""

from __future__ import annotations

import io

import pytest


# ---------------------------------------------------------------------------- progress


@pytest.mark.parametrize("epochs, seconds, logs", [
    (100, 3600, {"loss": 0.0438, "accuracy": 0.9865, "val_loss": 0.0412, "val_accuracy": 0.988}),
    (30, 54, {"loss": 2.3026, "accuracy": 0.1, "val_loss": 2.3026, "val_accuracy": 0.1}),
    (30, 54, {"loss": 0.0438, "accuracy": 0.9865}),
])
def test_the_progress_line_reads_whole_at_80_columns(epochs, seconds, logs):
    from rich.console import Console
    from rich.progress import Progress

    from digitcli import cli

    assert cli._epoch_line(3, 30, {"loss": 0.0438, "accuracy": 0.9865, "val_loss": 0.0412,
                                   "val_accuracy": 0.988}, 54) == (
        "epoch 3/30 loss 0.0438 acc 98.65% val 0.0412/98.80% 54s")
    line = cli._epoch_line(epochs, epochs, logs, seconds)
    assert len("2026-11-26T07:19:20 " + line) <= 80  # the plain, timestamped line of cron logs
    screen = io.StringIO()
    console = Console(file=screen, width=80, force_terminal=True, color_system=None)
    progress = Progress(*cli._progress_columns(), console=console)
    task = progress.add_task("train", total=epochs, status=line)
    progress.update(task, completed=epochs - 1)
    console.print(progress.make_tasks_table(progress.tasks))
    rendered = screen.getvalue().splitlines()
    assert len(rendered) == 1 and line in rendered[0], rendered
    assert len(rendered[0].rstrip()) <= 80
