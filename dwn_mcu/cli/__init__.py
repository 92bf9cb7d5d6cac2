"""The `dwn-mcu` command line: a thin layer over the Python API.

Each module in this package that defines `register(subparsers)` adds one subcommand; its handler takes
the parsed arguments and returns an exit code. `main` is the single error boundary, and it covers
start-up too (the subcommands, numpy and torch are imported inside it): every `DWNError` and every
`OSError` becomes one line on stderr and exit 2, Ctrl-C one line and exit 130, and a closed stdout
(`dwn-mcu boards | head -1`) a quiet exit 1, as the Python documentation recommends for SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from .. import interrupts, launch
from ..errors import DWNError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the whole usage first)
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """`--data PATH | --dataset NAME` and `--target COL`: where a command's rows come from
    (`dwn_mcu.data.load_data`)."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="PATH", help="a CSV file (with --target) or a .npz dataset")
    src.add_argument("--dataset", metavar="NAME", help="a bundled dataset or NAME.npz in $DWN_MCU_DATA")
    parser.add_argument("--target", metavar="COL", help="the label column of a CSV")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dwn-mcu", description="Train DWNs and deploy them to microcontrollers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def entry() -> int:
    """The process's entry point (the `dwn-mcu` script, `python -m dwn_mcu`): Ctrl-C stays the CLI's until
    the process ends, not only while `main` runs."""
    interrupts.install()
    return main()


def main(argv=None) -> int:
    with interrupts.handled():  # Ctrl-C: one line and exit 130 at any moment (dwn_mcu/interrupts.py)
        return _main(argv)


def _main(argv) -> int:
    prog = "dwn-mcu"
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help, --version or a usage error: what argparse printed must reach the pipe
            sys.stdout.flush()
            raise
        prog = f"dwn-mcu {args.command}"
        interrupts.name_command(prog)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the boundary, not at interpreter exit
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except DWNError as exc:
        return _fail(prog, f"error: {exc}", 2)
    except OSError as exc:
        return _fail(prog, f"error: {os_message(exc)}", 2)
    except KeyboardInterrupt:  # raised where Python's handler was still in place, or after a deferred write
        return _fail(prog, "interrupted", 130)


def os_message(exc: OSError) -> str:
    """One line for an operating-system error: the path(s) it names and the system's reason."""
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    reason = exc.strerror or str(exc)
    return f"{' -> '.join(map(os.fsdecode, paths))}: {reason}" if paths else " ".join(reason.split())


def _fail(prog: str, message: str, code: int) -> int:
    # under torchrun every rank fails alike on a bad input: rank 0 prints the line, every rank exits `code`
    if launch.reports():
        print(f"{prog}: {message}", file=sys.stderr)
    return code


def _stdout_closed() -> int:
    # Python's documented recipe (signal module, "Note on SIGPIPE"): point stdout at devnull so that the
    # interpreter's final flush cannot fail again, and exit 1.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is not a file (embedded, captured)
        pass
    return 1
