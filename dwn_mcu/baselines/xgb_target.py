"""Prove an exported XGBoost model on the emulated ATmega328P (simavr) and measure it there: every
vector's class and margins against the expected ones (bit for bit), exact cycles per inference, and the
model's share of flash and RAM (the firmware with the model minus the same firmware without it).

Uses the targets' toolchain, firmware build and simavr harness (`dwn_mcu.targets`), with a testbench of
its own (`firmware_templates/xgboost/testbench_avr.c.j2`) because this model's outputs are float margins.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compiler.cgen import c_identifier, environment
from . import BaselineError
from .xgb_export import XGBTables, predict_tables


@dataclass
class AvrResult:
    vectors: int
    agree: int
    first_mismatch: dict | None
    cycles: list = field(default_factory=list)  # per inference, exact, markers calibrated out
    model_flash: int | None = None
    model_ram: int | None = None
    stack_measured: int | None = None
    model_data_symbols: dict = field(default_factory=dict)  # model symbols in .data (RAM): a defect

    @property
    def ok(self) -> bool:
        return self.vectors > 0 and self.agree == self.vectors

    def cycles_summary(self) -> dict:
        if not self.cycles:
            return {}
        return {"min": min(self.cycles), "median": statistics.median(self.cycles), "max": max(self.cycles)}


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
                  measure_model_share: bool = True, timeout: float = 300.0) -> AvrResult:
    """Build the testbench with the model's C (`render_sources`), run every row of `X` in simavr, and
    compare with `expected` = (classes, float32 margins) (default: the tables' NumPy walk, which the
    tests hold equal to xgboost's own predictions)."""
    from ..targets.elf_size import elf_size, symbols_in_section
    from ..targets.simavr import run_avr
    from ..targets.testbench import build_firmware
    from ..targets.toolchains import get_target
    from ..targets.verify import require_toolchain

    target = get_target("avr")
    require_toolchain(target)
    X = np.asarray(X, dtype=np.float32)
    ref_class, ref_margin = expected if expected is not None else predict_tables(tables, X)
    ref_bits = np.asarray(ref_margin, np.float32).reshape(X.shape[0], -1).view(np.uint32)
    M = tables.num_margins
    n = X.shape[0]
    with tempfile.TemporaryDirectory(prefix="xgb_avr_") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)

        def build(lo, hi, with_model=True):
            main_c = render_testbench(name, X[lo:hi], M, with_model=with_model)
            fw = build_firmware(target, sources, main_c, root / f"fw{'' if with_model else '_bare'}_{lo}",
                                with_model=with_model)
            size = elf_size(fw.elf, target.flash_sections, target.ram_sections)
            if size.flash > target.flash:
                raise BaselineError(f"avr: the test firmware with {hi - lo} vectors needs {size.flash} bytes "
                                    f"of flash, the ATmega328P has {target.flash}")
            return fw, size

        first = min(n, 16)
        fw, size = build(0, first)
        result = AvrResult(vectors=n, agree=0, first_mismatch=None)
        if measure_model_share:
            bare_fw, bare = build(0, first, with_model=False)
            result.model_flash = size.flash - bare.flash
            result.model_ram = size.ram - bare.ram
            before = symbols_in_section(bare_fw.elf, ".data")
            result.model_data_symbols = {s: b for s, b in symbols_in_section(fw.elf, ".data").items()
                                         if s not in before}
        room = (target.flash - target.flash_slack - size.flash) // (4 * X.shape[1])
        chunk = max(first, first + room)
        spans = [(0, first)] + [(lo, min(n, lo + chunk)) for lo in range(first, n, chunk)]
        got, stacks = {}, []
        for lo, hi in spans:
            elf = fw.elf if lo == 0 else build(lo, hi)[0].elf
            out = run_avr(elf, timeout=timeout)
            res = _parse(out.text, M)
            if len(res) != hi - lo or len(out.regions) != hi - lo + 1:
                raise BaselineError(f"avr: the firmware printed {len(res)} results and {len(out.regions)} "
                                    f"regions for {hi - lo} vectors")
            result.cycles.extend(r - out.regions[0] for r in out.regions[1:])
            stacks.extend(out.region_stacks[1:])
            got.update({lo + i: v for i, v in res.items()})
    for i in range(n):
        exp = (int(ref_class[i]), tuple(int(b) for b in ref_bits[i]))
        if got.get(i) == exp:
            result.agree += 1
        elif result.first_mismatch is None:
            result.first_mismatch = {"index": i, "features": X[i].tolist(), "expected": exp, "got": got.get(i)}
    result.stack_measured = max(stacks) if stacks else None
    return result
