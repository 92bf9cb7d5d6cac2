"""Ctrl-C on the command line: one line and exit 130 at any moment, never a traceback or an abort.

Python's own SIGINT handler raises KeyboardInterrupt at the next bytecode, and that may be inside a
Python function that C++ code called (torch's pybind11 bindings, its autograd engine): there the
exception cannot unwind and the process aborts (`std::terminate`, exit -6). So the CLI handles SIGINT
itself (`handled`): outside a write it prints the line and leaves at once; inside a write (`deferred`: a
temporary file or folder being filled and moved into place) it waits until the write is done or cleaned
up, then raises KeyboardInterrupt in ordinary code, so nothing half-written or temporary is left behind.
The Python API keeps Python's default behaviour: only `dwn_mcu.cli.main` installs the handler."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

_state = {"prog": "dwn-mcu", "active": False, "writes": 0, "pending": False}


def _on_sigint(signum, frame) -> None:
    if _state["writes"]:
        _state["pending"] = True
        return
    try:
        os.write(2, f"{_state['prog']}: interrupted\n".encode())
    finally:
        os._exit(130)


def install() -> None:
    """The handler for the rest of the process (the command line's entry points): a Ctrl-C while the
    interpreter shuts down, where torch's exit hooks run Python code, is the same one line."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


@contextlib.contextmanager
def handled():
    """SIGINT handled as above for the duration (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    _state.update(active=True, prog="dwn-mcu", pending=False)
    try:
        yield
    finally:
        _state["active"] = False
        signal.signal(signal.SIGINT, previous)


def name_command(prog: str) -> None:
    """The name the interrupted line starts with (`dwn-mcu train`), once the command is known."""
    _state["prog"] = prog


@contextlib.contextmanager
def deferred():
    """A Ctrl-C during the block is taken when it ends (as KeyboardInterrupt), not in the middle of it."""
    _state["writes"] += 1
    try:
        yield
    finally:
        _state["writes"] -= 1
        if not _state["writes"] and _state["pending"]:
            _state["pending"] = False
            raise KeyboardInterrupt
