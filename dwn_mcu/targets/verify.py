"""Prove a model on an emulated target: build the test firmware with the model's generated C, run
every vector in the emulator, and compare class and scores with the NumPy reference, bit for bit.

    result = verify_on_target(model, "avr", X, sources)   # sources: render_model_sources(...)
    result.agreement, result.first_mismatch, result.latency_summary(), result.model_size
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .elf_size import ElfSize, elf_size, stack_bound, stack_usage, symbols_in_section
from .qemu import run_cortex_m, run_rv32
from .simavr import RunOutput, run_avr
from .testbench import TestProgram, build_firmware, render_profile_header
from .toolchains import Target, TargetError, get_target, install_hint, missing_tools

#: Vectors in a firmware on the larger targets (their emulated flash is 4 MiB; this keeps builds quick).
MAX_VECTORS_PER_FIRMWARE = 4000
#: Vectors in the profile firmware (the first rows): its medians per phase.
PROFILE_VECTORS = 256


@dataclass
class TargetResult:
    target: str
    latency_unit: str  # cycles (AVR, exact) or instructions (QEMU)
    vectors: int
    agree: int
    first_mismatch: dict | None
    size: ElfSize  # the whole test firmware (first chunk of vectors)
    model_size: ElfSize | None  # firmware with the model minus the same firmware without it
    stack_static: int  # bytes: -fstack-usage frames of the model's own functions, summed (no library calls)
    stack_measured: int | None  # bytes: deepest stack during an inference, measured in the emulator
    latency: list = field(default_factory=list)  # per vector, calibrated
    model_data_symbols: dict = field(default_factory=dict)  # model symbols in AVR .data (RAM)
    profile: dict = field(default_factory=dict)  # per-phase latency from a profile firmware (`profile_phases`)

    @property
    def agreement(self) -> float:
        return self.agree / self.vectors if self.vectors else 0.0

    @property
    def ok(self) -> bool:
        return self.vectors > 0 and self.agree == self.vectors

    def latency_summary(self) -> dict:
        if not self.latency:
            return {}
        return {"min": min(self.latency), "median": statistics.median(self.latency), "max": max(self.latency)}

    def as_dict(self) -> dict:
        return {
            "target": self.target, "vectors": self.vectors, "agree": self.agree,
            "agreement": self.agreement, "first_mismatch": self.first_mismatch,
            "flash": self.size.flash, "ram": self.size.ram,
            "model_flash": self.model_size.flash if self.model_size else None,
            "model_ram": self.model_size.ram if self.model_size else None,
            "stack_static": self.stack_static, "stack_measured": self.stack_measured,
            "latency_unit": self.latency_unit, "latency": self.latency_summary(),
            "model_data_symbols": self.model_data_symbols, "phases": self.profile,
        }


def require_toolchain(target: Target) -> None:
    missing = missing_tools(target)
    if missing:
        raise TargetError(f"target {target.name}: {install_hint(missing)}")


def run_firmware(target: Target, elf, timeout: float = 300.0) -> RunOutput:
    if target.runner == "simavr":
        return run_avr(elf, mcu=target.machine, timeout=timeout)
    if target.runner == "qemu-arm":
        return run_cortex_m(elf, target.machine, timeout=timeout)
    return run_rv32(elf, timeout=timeout)


def parse_results(text: str, num_classes: int) -> dict:
    """{vector index: (class, scores)} from the firmware's "R i class s0 .. sC-1" lines."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 + num_classes and parts[0] == "R":
            vals = [int(p) for p in parts[1:]]
            out[vals[0]] = (vals[1], tuple(vals[2:]))
    return out


def _firmware_builder(target: Target, program: TestProgram, X, root: Path):
    def build(lo, hi, with_model=True, tag="", profile=False):
        if profile:
            main_c = program.testbench(target, X[lo:hi], with_model, marks=len(program.phases) - 1)
            header = render_profile_header(target, program.name)
        else:
            main_c, header = program.testbench(target, X[lo:hi], with_model), None
        fw = build_firmware(target, program.sources, main_c, root / f"fw{tag}_{lo}", with_model=with_model,
                            profile_header=header)
        size = elf_size(fw.elf, target.flash_sections, target.ram_sections)
        if target.flash and size.flash > target.flash:
            raise TargetError(f"{target.name}: firmware with {hi - lo} vectors needs {size.flash} bytes of flash, "
                              f"the emulated chip has {target.flash}")
        return fw, size
    return build


def _model_share(target: Target, build, fw, size, first: int):
    """The firmware with the model minus the same without it; on AVR, the model's symbols in .data."""
    bare_fw, bare = build(0, first, with_model=False, tag="_nomodel")
    data_syms = {}
    if target.runner == "simavr":  # what the model added to .data costs RAM on AVR: a defect
        before = symbols_in_section(bare_fw.elf, ".data")
        data_syms = {s: b for s, b in symbols_in_section(fw.elf, ".data").items()
                     if s not in before and not s.startswith("tb_")}  # tb_: the testbench's own
    return size - bare, data_syms


def _run_spans(target: Target, program: TestProgram, build, fw, spans, timeout: float):
    got, latency, stacks = {}, [], []
    for lo, hi in spans:
        elf = fw.elf if lo == 0 else build(lo, hi)[0].elf
        out = run_firmware(target, elf, timeout=timeout)
        res = program.parse(out.text)
        if len(res) != hi - lo or len(out.regions) != hi - lo + 1:
            raise TargetError(f"{target.name}: firmware printed {len(res)} results and {len(out.regions)} "
                              f"latency regions for {hi - lo} vectors")
        # AVR: the harness counts the markers too, so the first (empty) region calibrates them;
        # QEMU: the runner already returns instructions between the two counter reads.
        empty = out.regions[0] if target.runner == "simavr" else 0
        latency.extend(r - empty for r in out.regions[1:])
        stacks.extend(out.region_stacks[1:])
        for i, v in res.items():
            got[lo + i] = v
    return got, latency, stacks


def phase_counts(total: int, marks, empty: int = 0) -> list[int]:
    """One region's count per phase: from the region's start to the first mark less the markers' own
    cost (`empty`, the empty region's count), from mark to mark, and from the last mark to the stop
    marker; they sum to the region's calibrated count. Each phase includes its own end mark."""
    ends = [count for _, count in marks] + [total]
    return [ends[0] - empty] + [b - a for a, b in zip(ends, ends[1:])]


def profile_phases(target: Target, program: TestProgram, build, plain: list, timeout: float) -> dict:
    """Build and run a profile firmware (the first len(plain) rows, phase marks in the model) and
    summarise: {"unit", "vectors", "median": {phase: median count}, "total_median": the profile's own
    median per inference, marks included, "marks_cost_median": the median over rows of its count less
    `plain`'s, the same rows' counts without marks}. It is checked against the reference too."""
    first = len(plain)
    fw, _ = build(0, first, tag="_profile", profile=True)
    out = run_firmware(target, fw.elf, timeout=timeout)
    res = program.parse(out.text)
    want = len(program.phases) - 1
    regions = list(zip(out.regions[1:], out.region_marks[1:]))
    if len(res) != first or len(regions) != first or any(len(m) != want for _, m in regions):
        raise TargetError(f"{target.name}: the profile firmware printed {len(res)} results and {len(regions)} "
                          f"regions with marks for {first} vectors and {want} marks each")
    if any(res.get(i) != program.expected[i] for i in range(first)):
        raise TargetError(f"{target.name}: the profile firmware disagrees with the reference")
    empty = out.regions[0] if target.runner == "simavr" else 0
    per_phase = list(zip(*(phase_counts(total, marks, empty) for total, marks in regions)))
    totals = [total - empty for total, _ in regions]
    return {"unit": target.latency_unit, "vectors": first,
            "median": {name: statistics.median(c) for name, c in zip(program.phases, per_phase)},
            "total_median": statistics.median(totals),
            "marks_cost_median": statistics.median(t - p for t, p in zip(totals, plain))}


def _compare(program: TestProgram, X, got: dict) -> tuple[int, dict | None]:
    agree, mismatch = 0, None
    for i, exp in enumerate(program.expected):
        if got.get(i) == exp:
            agree += 1
        elif mismatch is None:
            mismatch = {"index": i, "features": X[i].tolist(), "expected": program.show(exp),
                        "got": program.show(got[i]) if i in got else None}
    return agree, mismatch


def verify_program(program: TestProgram, target_name: str, X, workdir=None, measure_model_share: bool = True,
                   timeout: float = 300.0) -> TargetResult:
    """Build the test firmware with the program's library, run every row of `X` on the emulated target in
    as few firmwares as its flash allows, and compare each output with the reference's."""
    target = get_target(target_name)
    require_toolchain(target)
    n = X.shape[0]
    with tempfile.TemporaryDirectory(prefix=f"dwn_{target.name}_") as tmp:
        build = _firmware_builder(target, program, X, Path(workdir) if workdir is not None else Path(tmp))
        first = min(n, 32 if target.runner == "simavr" else MAX_VECTORS_PER_FIRMWARE)
        fw, size = build(0, first)
        if target.flash:
            room = (target.flash - target.flash_slack - size.flash) // (4 * X.shape[1])
            chunk = max(first, first + room)
        else:
            chunk = MAX_VECTORS_PER_FIRMWARE
        stack_static = stack_bound(stack_usage(fw.su_files), f"{program.name}_predict", set(fw.model_functions))
        model_size, data_syms = _model_share(target, build, fw, size, first) if measure_model_share else (None, {})
        spans = [(0, first)] + [(lo, min(n, lo + chunk)) for lo in range(first, n, chunk)]
        got, latency, stacks = _run_spans(target, program, build, fw, spans, timeout)
        rows = min(first, PROFILE_VECTORS)
        # profiled only where the plain firmware agrees (a wrong firmware is reported, not profiled)
        agrees = all(got.get(i) == program.expected[i] for i in range(rows))
        profile = profile_phases(target, program, build, latency[:rows], timeout) if program.phases and agrees else {}
    agree, mismatch = _compare(program, X, got)
    return TargetResult(
        target=target.name, latency_unit=target.latency_unit, vectors=n, agree=agree, first_mismatch=mismatch,
        size=size, model_size=model_size, stack_static=stack_static,
        stack_measured=max(stacks) if stacks else None, latency=latency, model_data_symbols=data_syms,
        profile=profile,
    )


def verify_on_target(model, target_name: str, X, sources: dict, name: str, workdir=None,
                     measure_model_share: bool = True, timeout: float = 300.0) -> TargetResult:
    """Build, run and compare a DWN. `sources` is the model library ({file name: text}) for model `name`."""
    from ..families import DWNFamily

    X = np.asarray(X, dtype=np.float32 if model.input_type == "float32" else np.int64)
    program = DWNFamily(model).test_program(sources, name, X)
    return verify_program(program, target_name, X, workdir, measure_model_share, timeout)
