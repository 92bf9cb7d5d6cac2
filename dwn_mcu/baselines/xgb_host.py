"""Run a generated XGBoost C model on the host (gcc) over many rows: the host proof of equivalence.

`host_predict(sources, X)` compiles `host_tests/xgboost_runner.c` with the model's C, warnings as errors
(optionally under AddressSanitizer and UndefinedBehaviorSanitizer), feeds it the rows as float32 bit
patterns and returns what the C computed: classes and margins as exact float32.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import BaselineError

RUNNER = Path(__file__).resolve().parents[2] / "host_tests" / "xgboost_runner.c"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]


def runner_source() -> Path:
    if not RUNNER.is_file():
        raise BaselineError(f"host runner {RUNNER} not found (it ships with a checkout of dwn-mcu)")
    return RUNNER


def encode_rows(X: np.ndarray) -> str:
    """One line per row, each value as the 8 hex digits of its float32 bit pattern."""
    bits = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32)
    return "".join(" ".join(f"{v:08x}" for v in row) + "\n" for row in bits)


def host_predict(sources: dict, X, name: str, sanitize: bool = False, cc: str = "gcc") -> tuple:
    """Compile the model (`{filename: text}` from `render_sources`) with the host runner and run it on
    `X` (N, F). Returns (classes (N,) int64, margins (N, M) float32)."""
    if shutil.which(cc) is None:
        raise BaselineError(f"host C compiler {cc!r} not found")
    X = np.asarray(X, dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="xgb_host_") as tmp:
        tmp = Path(tmp)
        for fname, text in sources.items():
            (tmp / fname).write_text(text)
        exe = tmp / "runner"
        cmd = [cc, *STRICT, *(SANITIZE if sanitize else []), f"-DMODEL={name}", f"-DMODEL_UPPER={name.upper()}",
               f'-DMODEL_HEADER="{name}.h"', f"-I{tmp}", str(runner_source()), str(tmp / f"{name}.c"), "-o", str(exe)]
        build = subprocess.run(cmd, capture_output=True, text=True)
        if build.returncode != 0:
            raise BaselineError(f"host build of {name}.c failed: {build.stderr.strip()[:2000]}")
        run = subprocess.run([str(exe)], input=encode_rows(X), capture_output=True, text=True)
        if run.returncode != 0:
            raise BaselineError(f"host run of {name} failed ({run.returncode}): {run.stderr.strip()[:2000]}")
    lines = run.stdout.split("\n")[:-1]
    if len(lines) != X.shape[0]:
        raise BaselineError(f"host runner printed {len(lines)} rows for {X.shape[0]} inputs")
    fields = [line.split() for line in lines]
    classes = np.array([int(f[0]) for f in fields], dtype=np.int64)
    margins = np.array([[int(v, 16) for v in f[1:]] for f in fields], dtype=np.uint32).view(np.float32)
    return classes, margins.reshape(X.shape[0], -1)
