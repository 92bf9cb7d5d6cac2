"""Run Cortex-M firmware in qemu-system-arm (mps2-an385 for M0+/M3, mps2-an386 for M4F) and RV32
firmware in qemu-system-riscv32 (-M virt -bios none), always under a timeout, with semihosting for
output and the exit status.

Latency is counted in instructions, never cycles: QEMU is not cycle-accurate. Under `-icount shift=S`
QEMU's virtual clock advances exactly 2**S ns per executed instruction, so any counter derived from it
counts instructions:

* Cortex-M: SysTick on the CPU clock (25 MHz on both mps2 boards: one tick per 40 ns). With S = 7 an
  instruction is 128 ns = 3.2 ticks, so `round(ticks * 128 / 40)` is exact (a read is off by at most one
  tick, 0.31 instruction), and the 24-bit counter wraps only after 5.2 M instructions.
* RV32: `minstret`, which QEMU derives from the same clock; with S = 0 it is the instruction count.

Measured on QEMU 7.2 with N `nop`s between two counter reads, the raw difference is N + 1 on both
(the first read is counted; ARM: for N >= 2), so a region's instructions are the raw count minus one:
the instructions executed strictly between the two reads. Checked against a single-step execution trace
(`-singlestep -d exec,nochain`) of one Cortex-M3 inference: 7309 instructions from the first read to the
second one included, 7308 here. The very first read after SysTick starts is one instruction late; the
test firmware's first region is an empty one, so that this never touches an inference. A phase mark
("@MARK k ticks", printed by a profile firmware before its region's line) is a third read of the same
counter, converted the same way: the instructions from the region's first read to the mark's read.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction

from .simavr import RunOutput, split_markers
from .toolchains import TargetError

ARM_ICOUNT_SHIFT = 7
MPS2_SYSCLK_NS = 40  # 25 MHz
RV32_ICOUNT_SHIFT = 0
MAX_REGION_INSTRUCTIONS = (1 << 24) * MPS2_SYSCLK_NS >> ARM_ICOUNT_SHIFT  # SysTick wraps after 5.2 M

_SEMIHOST = ["-nographic", "-monitor", "none", "-serial", "null", "-semihosting-config", "enable=on,target=native"]


def _run(cmd, elf, timeout: float, scale: Fraction) -> RunOutput:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TargetError(f"{cmd[0]}: {elf} ran longer than {timeout:.0f} s") from None
    # Semihosting console output arrives on stderr; QEMU's own errors too, so keep both.
    raw = proc.stderr.decode("latin-1") + proc.stdout.decode("latin-1")
    text, regions, stacks, _, marks = split_markers(raw)
    if proc.returncode:
        tail = text.strip().splitlines()[-1:] or [""]
        raise TargetError(f"{cmd[0]}: {elf} exited with status {proc.returncode} {tail[0][:200]}".rstrip())
    if "@DONE" not in text:
        raise TargetError(f"{cmd[0]}: {elf} ended without finishing its vectors")
    if "@WRAPPED" in text:
        raise TargetError(f"{cmd[0]}: an inference ran past the counter's range ({MAX_REGION_INSTRUCTIONS} "
                          "instructions on Cortex-M): no latency figure")
    count = lambda raw: int(round(raw * scale)) - 1  # noqa: E731  (a phase mark counts like a region)
    return RunOutput(text, tuple(count(r) for r in regions), tuple(stacks), "done", 0,
                     region_marks=tuple(tuple((k, count(v)) for k, v in region) for region in marks))


def run_cortex_m(elf, machine: str = "mps2-an385", timeout: float = 120.0) -> RunOutput:
    """Run a Cortex-M test firmware; regions come back in instructions (see the module docstring)."""
    cmd = ["qemu-system-arm", "-M", machine, *_SEMIHOST, "-icount", f"shift={ARM_ICOUNT_SHIFT}",
           "-kernel", str(elf)]
    return _run(cmd, elf, timeout, Fraction(MPS2_SYSCLK_NS, 1 << ARM_ICOUNT_SHIFT))


def run_rv32(elf, timeout: float = 120.0) -> RunOutput:
    """Run an RV32 test firmware; regions come back in instructions."""
    cmd = ["qemu-system-riscv32", "-M", "virt", "-bios", "none", *_SEMIHOST, "-icount",
           f"shift={RV32_ICOUNT_SHIFT}", "-kernel", str(elf)]
    return _run(cmd, elf, timeout, Fraction(1, 1 << RV32_ICOUNT_SHIFT))
