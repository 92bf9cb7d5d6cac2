"""What the calibration benches (calibrate_latency.py, calibrate_inline_size.py) share: the command line
that reruns them, written into the constants module they generate, and printing or writing that module."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def rerun_command(script: str, argv=None) -> str:
    """The command line that reruns `script` (a path under bench/) with this run's arguments (`argv`, or
    the process's own), with DWN_MCU_DATA where it is set."""
    data = f"DWN_MCU_DATA={os.environ['DWN_MCU_DATA']} " if os.environ.get("DWN_MCU_DATA") else ""
    return " ".join([f"{data}PYTHONPATH=$PWD python {script}", *(sys.argv[1:] if argv is None else argv)])


def print_or_write(text: str, path: Path, dry_run: bool, say, t0: float) -> None:
    """Print the generated module `text` (`dry_run`) or write it to `path`, saying so with the seconds
    since `t0` (a `time.monotonic()`)."""
    if dry_run:
        print(text)
    else:
        path.write_text(text)
        say(f"wrote {path} ({time.monotonic() - t0:.0f} s)")
