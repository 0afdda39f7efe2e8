"""Progress for people on stderr: a Rich bar on a terminal, plain lines otherwise (cron logs)."""

from __future__ import annotations

import sys
import time

def with_progress(results, total: int):
    """Show a progress bar on stderr for large batches, only when stderr is a terminal."""
    if total < 50 or not sys.stderr.isatty():
        yield from results
        return
    from rich.progress import Progress

    from digitcli.output import tables

    with Progress(console=tables.console(sys.stderr), transient=True) as progress:
        task = progress.add_task("predicting", total=total)
        for result in results:
            progress.advance(task)
            yield result


class EpochReporter:
    """Per-epoch progress: a Rich bar on a terminal, one plain line per epoch otherwise."""

    def __init__(self, epochs: int, quiet: bool):
        self.epochs, self.quiet = epochs, quiet
        self.progress = None
        self.started = time.perf_counter()

    def __enter__(self):
        if not self.quiet and sys.stderr.isatty():
            from rich.progress import Progress

            from digitcli.output import tables

            self.progress = Progress(*progress_columns(), console=tables.console(sys.stderr),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("train", total=self.epochs, status="")
        return self.report

    def report(self, epoch: int, logs: dict) -> None:
        line = epoch_line(epoch, self.epochs, logs, time.perf_counter() - self.started)
        if self.progress is not None:
            self.progress.update(self.task, advance=1, status=line)
        elif not self.quiet:
            # One write: a Ctrl-C between the line and its newline would glue the error onto it.
            print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n", end="", file=sys.stderr,
                  flush=True)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False


def progress_columns():
    """A short bar, the epoch line, the time left: about 75 columns, so 80 shows it whole."""
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    return (BarColumn(bar_width=10), TextColumn("{task.fields[status]}"), TimeRemainingColumn())


def epoch_line(epoch: int, epochs: int, logs: dict, seconds: float) -> str:
    """`epoch 3/30 loss 0.0438 acc 98.65% val 0.0412/98.80% 54s`: 75 columns with a timestamp."""
    parts = [f"epoch {epoch}/{epochs}", f"loss {logs.get('loss', float('nan')):.4f}",
             f"acc {logs.get('accuracy', float('nan')):.2%}"]
    if "val_loss" in logs:
        parts.append(f"val {logs['val_loss']:.4f}/{logs['val_accuracy']:.2%}")
    parts.append(f"{seconds:.0f}s")
    return " ".join(parts)
