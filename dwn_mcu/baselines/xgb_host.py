"""Run a generated XGBoost C model on the host (gcc) over many rows: the host proof of equivalence.

`host_predict(sources, X)` compiles `host_tests/xgboost_runner.c` with the model's C through the DWN's host
proof (`compiler.host.compile_runner`: the same strict and sanitizer builds, warnings as errors), feeds it
the rows as float32 bit patterns and returns what the C computed: classes and margins as exact float32.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..compiler.host import compile_runner, run_rows
from . import BaselineError

RUNNER = Path(__file__).resolve().parents[2] / "host_tests" / "xgboost_runner.c"


def runner_source() -> Path:
    if not RUNNER.is_file():
        raise BaselineError(f"host runner {RUNNER} not found (it ships with a checkout of dwn-mcu)")
    return RUNNER


def host_predict(sources: dict, X, name: str, sanitize: bool = False, input_type: str = "float32") -> tuple:
    """Compile the model (`{filename: text}` from `render_sources`) with the host runner and run it on
    `X` (N, F; int16 values for an int16 model: `input_type` = its tables' `input_type`): the DWN's host
    proof (`dwn_mcu.compiler.host`: its builds, flags and runner protocol) with this family's runner. Returns (classes (N,) int64, margins (N, M) float32)."""
    from .xgb_integer import integer_inputs

    X = np.asarray(X, dtype=np.float32) if input_type == "float32" else integer_inputs(X)
    with tempfile.TemporaryDirectory(prefix="xgb_host_") as tmp:
        tmp = Path(tmp)
        for fname, text in sources.items():
            (tmp / Path(fname).name).write_text(text)
        exe = compile_runner(tmp, name, tmp / "runner", "sanitize" if sanitize else "strict", runner_source())
        stdout = run_rows(exe, X, sanitize, input_type).stdout.decode()
    lines = stdout.split("\n")[:-1]
    if len(lines) != X.shape[0]:
        raise BaselineError(f"host runner printed {len(lines)} rows for {X.shape[0]} inputs")
    fields = [line.split() for line in lines]
    classes = np.array([int(f[0]) for f in fields], dtype=np.int64)
    margins = np.array([[int(v, 16) for v in f[1:]] for f in fields], dtype=np.uint32).view(np.float32)
    return classes, margins.reshape(X.shape[0], -1)
