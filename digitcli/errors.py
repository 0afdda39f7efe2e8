"""One exception hierarchy and the exit codes it maps to (the only place exit codes are defined)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in `--help` and the README."""

    OK = 0
    INTERNAL = 1  # a bug: please report it (run with --debug for the traceback)
    USAGE = 2  # bad option or argument value
    INPUT = 3  # an input image or path could not be used (nothing succeeded)
    DATA = 4  # a dataset could not be found, read or validated
    MODEL = 5  # a model file is missing, damaged, unsafe or of an unknown version
    PARTIAL = 6  # a batch finished, but some inputs failed (see the error records)
    BELOW_THRESHOLD = 7  # evaluate --fail-under: accuracy lower than asked
    NOT_PROMOTED = 8  # train --promote: the candidate was trained and kept, but failed the gate
    LOCKED = 9  # another training run holds the lock on the same target
    OUTPUT = 10  # an output could not be written (disk full, read-only, permissions)
    INTERRUPTED = 130  # Ctrl-C / SIGINT (128 + 2, as shells report it)
    TERMINATED = 143  # SIGTERM (128 + 15): `kill`, a service manager, a CI timeout


EXIT_CODE_HELP = """**Exit codes:**
0 ok ·
1 internal error ·
2 bad usage ·
3 input unusable ·
4 dataset error ·
5 model file error ·
6 some inputs failed ·
7 accuracy below --fail-under ·
8 trained but not promoted ·
9 locked by another run ·
10 cannot write an output ·
130 interrupted ·
143 terminated (SIGTERM)"""


class DigitcliError(Exception):
    """An expected failure: a one-line message for people and an exit code for scripts."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(DigitcliError):
    exit_code = ExitCode.USAGE


class InputError(DigitcliError):
    """An input path or image that cannot be used."""

    exit_code = ExitCode.INPUT


class NoDigitError(InputError):
    """The picture holds no ink that could be a digit."""


class DataError(DigitcliError):
    exit_code = ExitCode.DATA


class ModelError(DigitcliError):
    exit_code = ExitCode.MODEL


class Interrupted(DigitcliError):
    """Ctrl-C (SIGINT): stopped, with every record written so far complete."""

    exit_code = ExitCode.INTERRUPTED


class Terminated(Interrupted):
    """SIGTERM: stopped like Ctrl-C, with its own exit code."""

    exit_code = ExitCode.TERMINATED


class OutputError(DigitcliError):
    """An output file or stream could not be written: the disk is full, read-only, or the like."""

    exit_code = ExitCode.OUTPUT


NO_DIGIT = "no digit found (the picture is blank or has too little contrast)"
