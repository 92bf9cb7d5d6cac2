"""Run an emlearn model's C on the host (gcc, the DWN's strict and sanitizer builds and its runner,
`compiler.host`): the host proof that the C computes emlearn's own predict on every row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..compiler.host import compile_runner, run_runner
from .emlearn_export import INPUT_TYPE


def host_predict(sources: dict, Xq, name: str, num_classes: int, build: str = "strict") -> tuple:
    """Compile the library (`emlearn_export.render_sources`) with `host_tests/dwn_runner.c` and run it on
    the int16 rows `Xq`. Returns (classes (N,), scores (N, C)) as int64."""
    with tempfile.TemporaryDirectory(prefix="eml_host_") as tmp:
        tmp = Path(tmp)
        for fname, text in sources.items():
            (tmp / Path(fname).name).write_text(text)
        exe = compile_runner(tmp, name, tmp / "runner", build)
        return run_runner(exe, np.asarray(Xq, np.int64), num_classes, sanitize=build == "sanitize",
                          input_type=INPUT_TYPE)
