"""A simulated board on a serial port, for tests (not shipped): the simavr harness runs a Nano firmware
with UART0 bridged to a pseudo-terminal (`avr_run --uart-pty`), at the board's own clock pace, so that
`dwn-mcu check` talks to it through pyserial exactly as to a board on USB. After the run, `cycles` holds
the exact cycles of each inference the sketch bracketed with its GPIOR1 markers."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field

from dwn_mcu.targets.simavr import harness_path, split_markers


@dataclass
class SimBoard:
    port: str
    cycles: list[int] = field(default_factory=list)


@contextmanager
def simulated_board(elf):
    proc = subprocess.Popen([str(harness_path()), str(elf), "--mcu", "atmega328p", "--freq", "16000000",
                             "--uart-pty", "--max-cycles", str(10**15)], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().split()
        assert first[:1] == ["@PTY"], f"the harness did not open a pseudo-terminal: {first}"
        board = SimBoard(first[1])
        yield board
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    _, regions, _, end, _ = split_markers(out)
    assert end is not None and end.group(1) == "idle", out[-500:]
    board.cycles = regions
