"""Prove an exported XGBoost model on the emulated ATmega328P (simavr) and measure it there: every
vector's class and margins against the expected ones (bit for bit), exact cycles per inference, and the
model's share of flash and RAM (the firmware with the model minus the same firmware without it).

The targets' one verification path (`dwn_mcu.targets.verify.verify_program`: toolchain, firmware build,
simavr harness, ELF accounting) runs it; this family brings only a testbench of its own
(`firmware_templates/xgboost/testbench_avr.c.j2`, because its outputs are float margins) and its parser.
"""

from __future__ import annotations

import numpy as np

from ..compiler.cgen import c_identifier, environment
from . import BaselineError
from .xgb_export import XGBTables


def render_testbench(name: str, X: np.ndarray, num_margins: int, with_model: bool = True) -> str:
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or not 0 < X.shape[0] <= 65535:
        raise BaselineError(f"test vectors must be a (N, F) array with 1..65535 rows, got {X.shape}")
    c_identifier(name, "model name", BaselineError)
    env = environment("xgboost", trim_blocks=True)
    rows = [", ".join(f"0x{v:08x}UL" for v in row) for row in X.view(np.uint32)]
    return env.get_template("testbench_avr.c.j2").render(
        name=name, NAME=name.upper(), with_model=with_model, vectors=rows, num_vectors=X.shape[0],
        num_features=X.shape[1], num_margins=num_margins)


def _parse(text: str, num_margins: int) -> dict:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 + num_margins and parts[0] == "R":
            out[int(parts[1])] = (int(parts[2]), tuple(int(v, 16) for v in parts[3:]))
    return out


def verify_on_avr(tables: XGBTables, sources: dict, name: str, X, expected=None, workdir=None,
                  measure_model_share: bool = True, timeout: float = 300.0):
    """Build the testbench with the model's C (`render_sources`), run every row of `X` in simavr, and
    compare with `expected` = (classes, float32 margins) (default: the tables' NumPy walk, which the
    tests hold equal to xgboost's own predictions). The build, run and measurement are the targets' own
    (`dwn_mcu.targets.verify.verify_program`); this family brings its testbench and its outputs only
    (`families.XGBoostFamily`). Returns a `TargetResult` (latency in cycles)."""
    from ..families import XGBoostFamily
    from ..targets.verify import verify_program

    X = np.asarray(X, dtype=np.float32)
    program = XGBoostFamily(tables, expected).test_program(sources, name, X)
    return verify_program(program, "avr", X, workdir, measure_model_share, timeout)
