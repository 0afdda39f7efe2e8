"""digitcli as a process in a shell: one-line errors with their exit codes, Ctrl-C and SIGTERM,
closed pipes and full disks, all mapped in one place (Group.main)."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import traceback

import typer
# Typer ≥ 0.26 carries its own copy of Click; its exceptions are the ones raised for bad options.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from digitcli import files
from digitcli.errors import DigitcliError, ExitCode, Interrupted, Terminated

_debug = False


class Group(TyperGroup):
    """Maps every failure to a one-line message and its documented exit code, in one place."""

    def __init__(self, **attrs):
        super().__init__(**attrs)
        for command in self.commands.values():  # `digitcli predict x.png --debug` works too
            command.params.append(TyperOption(
                param_decls=["--debug"], is_flag=True, default=False, expose_value=False,
                callback=_set_debug, help="Show tracebacks for errors."))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:  # Typer would end it with a silent exit 130
            raise _stopped(exc) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        previous = _catch_sigterm()
        try:
            try:
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
                with files.writing("standard output"):
                    sys.stdout.flush()  # here, where a failure is still mapped; not at exit
            except NoArgsIsHelpError as exc:  # plain `digitcli`: the help is the answer
                exc.show()
                sys.exit(ExitCode.USAGE)
            except ClickException as exc:  # bad options: Click's own message, on one line
                _fail(f"{exc.format_message()} (see --help)", ExitCode.USAGE)
            except KeyboardInterrupt as exc:
                _fail(str(_stopped(exc)), _stopped(exc).exit_code)
            except typer.Abort:
                _fail("interrupted", ExitCode.INTERRUPTED)
            except DigitcliError as exc:
                if _debug:
                    traceback.print_exc()
                _fail(str(exc), exc.exit_code)
            except BrokenPipeError:
                raise
            except Exception as exc:
                stop = _interrupt_behind(exc)
                if stop is not None:  # Ctrl-C that a library wrapped (e.g. while importing)
                    _fail(str(_stopped(stop)), _stopped(stop).exit_code)
                if _unwrapped_stdout_full(exc):  # help text, printed by Typer itself
                    _fail(f"cannot write standard output: {exc.strerror}; free some space and "
                          "run again", ExitCode.OUTPUT)
                if _debug:
                    traceback.print_exc()
                _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
                      ExitCode.INTERNAL)
            except SystemExit as exc:
                # Typer and Rich end a closed pipe with exit 1, raised while handling it.
                if isinstance(exc.__context__, BrokenPipeError):
                    raise exc.__context__ from None
                raise
        except BrokenPipeError:  # `digitcli … | head`: the reader has all it wants
            _discard_stdout()
            sys.exit(ExitCode.OK)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        sys.exit(code or ExitCode.OK)


def _unwrapped_stdout_full(exc: Exception) -> bool:
    """A full disk met by a write that digitcli did not make itself: Typer's help on stdout (every
    file digitcli writes is wrapped in files.writing and names itself)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) and \
        exc.filename is None


class _SigTerm(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same clean-ups run."""


def _on_sigterm(signum, frame):
    raise _SigTerm()


def _catch_sigterm():
    """Turn SIGTERM into _SigTerm; return the handler it replaces (None: left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set handlers (some test runners use others)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        return None  # started as `nohup`-like: the caller wants SIGTERM ignored
    return signal.signal(signal.SIGTERM, _on_sigterm)


def _stopped(exc: KeyboardInterrupt) -> Interrupted:
    return Terminated("terminated (SIGTERM)") if isinstance(exc, _SigTerm) else Interrupted("interrupted")


def _interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM that caused `exc`, if one did (Python wraps an interrupt raised in
    some places, class creation among them, in a RuntimeError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def show_tracebacks(on: bool) -> None:
    """--debug before the command (which sets it either way, first) or after it (which only turns it on)."""
    global _debug
    _debug = on


def _set_debug(ctx, param, value: bool) -> None:
    if value:
        show_tracebacks(True)


def _fail(message: str, code: ExitCode) -> None:
    try:
        sys.stdout.flush()  # what was written comes before the message
    except OSError:  # the output is what failed (a closed pipe, a full disk)
        _discard_stdout()
    sys.stderr.write(f"digitcli: error: {message}\n")  # one write: nothing can split it
    sys.exit(code)


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so Python's last flush at exit does not fail a second time."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real file (a test runner's buffer)
        return
    os.dup2(os.open(os.devnull, os.O_WRONLY), fd)


class Command(TyperCommand):
    """A command whose usage line names its arguments as Click does: `PATH...`, not `{paths}...`."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or param.name.upper() + ("..." if param.nargs != 1 else "")
                optional = not param.required and not name.startswith("[")
                pieces.append(f"[{name}]" if optional else name)
        return pieces


def run(app) -> None:
    """Run the Typer app as a process: its exit code is the documented one, even after a Ctrl-C."""
    try:
        app()
    except SystemExit as exc:
        if exc.code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
            # Python kills itself with SIGINT at exit when a Ctrl-C once passed through code it ran
            # for a library, even though we handled it: leave now, with the documented code.
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(exc.code)
        raise
