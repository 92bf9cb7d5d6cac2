"""Run AVR firmware in simavr through the harness in `host_tests/simavr/` (never the bare `simavr`
command, which waits for a debugger when a program crashes): a cycle limit, the exit status, the
console output, and exact cycle counts between the GPIOR1 markers (and at the phase marks inside them)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .toolchains import HARNESS_BIN, HARNESS_SRC, TargetError

_END = re.compile(r"@END state=(\S+) exit=(\d+) cycles=(\d+) max_stack=(\d+)")
_REGION = re.compile(r"@REGION (\d+)(?: (\d+))?")
_MARK = re.compile(r"@MARK (\d+) (\d+)")


@dataclass(frozen=True)
class RunOutput:
    """What one emulator run produced."""

    text: str  # the firmware's output, marker lines removed
    regions: tuple[int, ...]  # count per measured region (cycles on AVR, raw counter ticks elsewhere)
    region_stacks: tuple[int, ...]  # deepest stack per region, bytes (AVR only)
    state: str  # done | idle
    total: int  # total cycles or instructions, when known
    max_stack: int | None = None
    # per region, the phase marks inside it: ((mark, count from the region's start), ...) in order
    region_marks: tuple[tuple[tuple[int, int], ...], ...] = ()


def harness_path() -> Path:
    """The harness binary, built (with make, so only when its source changed) if needed."""
    proc = subprocess.run(["make", "-s", "-C", str(HARNESS_SRC), f"BUILD={HARNESS_BIN.parent}"],
                          capture_output=True, text=True)
    if proc.returncode or not HARNESS_BIN.is_file():
        raise TargetError(f"cannot build the simavr harness: {proc.stderr.strip()[:300]}")
    return HARNESS_BIN


def split_markers(raw: str):
    """Separate marker lines ("@MARK ...", "@REGION ...", "@END ...") from the firmware's own output. Phase
    marks come before the line of the region they belong to. Returns (text, regions, stacks, end, marks)."""
    text, regions, stacks, end, marks, pending = [], [], [], None, [], []
    for line in raw.splitlines(keepends=True):
        m = _MARK.match(line)
        if m:
            pending.append((int(m.group(1)), int(m.group(2))))
            continue
        m = _REGION.match(line)
        if m:
            regions.append(int(m.group(1)))
            marks.append(tuple(pending))
            pending = []
            if m.group(2) is not None:
                stacks.append(int(m.group(2)))
            continue
        m = _END.match(line)
        if m:
            end = m
            continue
        text.append(line)
    return "".join(text), regions, stacks, end, marks


def run_avr(elf, mcu: str = "atmega328p", freq: int = 16_000_000, max_cycles: int = 2_000_000_000,
            uart_in=None, idle_cycles: int = 0, timeout: float = 300.0, uart_lines: bool = False,
            uart_wait_lines: int = 0, uart_start_cycles: int = 0) -> RunOutput:
    """Run `elf` to completion in simavr (see host_tests/simavr/avr_run.c for the UART options). Raises TargetError on a crash, the cycle limit, a non-zero
    exit status from the firmware, or the wall-clock timeout."""
    cmd = [str(harness_path()), str(elf), "--mcu", mcu, "--freq", str(freq), "--max-cycles", str(max_cycles)]
    if uart_in is not None:
        cmd += ["--uart-in", str(uart_in)]
    if idle_cycles:
        cmd += ["--idle-cycles", str(idle_cycles)]
    if uart_lines:
        cmd += ["--uart-lines", "--uart-wait-lines", str(uart_wait_lines), "--uart-start-cycles", str(uart_start_cycles)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TargetError(f"simavr: {elf} ran longer than {timeout:.0f} s") from None
    raw = proc.stdout.decode("latin-1")
    text, regions, stacks, end, marks = split_markers(raw)
    if end is None:
        raise TargetError(f"simavr harness failed on {elf}: {proc.stderr.decode(errors='replace').strip()[:300]}")
    state, status, cycles, max_stack = end.group(1), int(end.group(2)), int(end.group(3)), int(end.group(4))
    if state not in ("done", "idle"):
        raise TargetError(f"simavr: {elf} stopped with state {state} after {cycles} cycles")
    if status:
        raise TargetError(f"simavr: {elf} exited with status {status}")
    return RunOutput(text, tuple(regions), tuple(stacks), state, cycles, max_stack, tuple(marks))
