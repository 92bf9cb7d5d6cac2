"""The fourth verification level: the uploaded sketch on a real board, over its serial port (pyserial).

`check_board(project, port)` asks the sketch for its model identity (`id`), refuses a board that runs
another sketch or another model, then sends the project's vectors and a set derived from the model (the
adversarial generator the verifier uses, another seed), compares every class and score with the NumPy
reference and collects the sketch's own timing of each inference (`us T`, from micros()).

Float rows travel as decimal text, which avr-libc's strtod does not round correctly, so only rows away
from every threshold are sent (`decimal_safe_rows`); the sketch's embedded self-test covers the edges
with exact bit patterns. Integer rows travel exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..compiler.host import as_inputs
from ..compiler.identity import identity_of_bytes
from ..compiler.project import MODEL_COPY
from ..compiler.render import BAUD
from ..errors import DWNError
from ..synthetic import adversarial_inputs
from .project import decimal_safe_rows
from .sketch_protocol import expected, parse_answer, row_line

#: Seed of the derived vectors (the build stores adversarial_inputs(model, seed=0)).
DERIVED_SEED = 1
#: A reply whose bytes are more than this share unprintable is a baud-rate mismatch, not text.
GARBLED_SHARE = 0.25


class BoardError(DWNError):
    """No board answers on the port, or it runs another sketch or another model, or at another baud rate."""


@dataclass(frozen=True)
class CheckResult:
    port: str
    identity: str
    vectors: int
    agree: int
    first_mismatch: dict | None
    micros: tuple[int, ...]  # the sketch's timing of each answered inference

    @property
    def ok(self) -> bool:
        return self.vectors > 0 and self.agree == self.vectors

    @property
    def latency_us(self) -> float | None:
        return float(np.mean(self.micros)) if self.micros else None


def check_vectors(project) -> np.ndarray:
    """The project's vectors and the derived set, as rows the sketch reads back exactly."""
    model = project.model
    derived = as_inputs(adversarial_inputs(model, seed=DERIVED_SEED), model.input_type)
    X = np.concatenate([np.asarray(project.vectors, dtype=derived.dtype), derived])
    return decimal_safe_rows(model, X)


def open_port(port: str, baud: int, serial_module=None):
    """The port opened with pyserial (8N1, no flow control); BoardError naming it when it cannot be."""
    if serial_module is None:
        try:
            import serial as serial_module
        except ImportError:
            raise BoardError("pyserial is not installed: pip install 'dwn-mcu[board]'") from None
    try:
        return serial_module.Serial(port, baud, timeout=0.05)
    except (serial_module.SerialException, OSError, ValueError) as exc:
        raise BoardError(f"{port}: cannot open the port ({exc})") from None


def _read_line(link, deadline: float, seen: bytearray) -> bytes | None:
    """One line (without its end), or None at the deadline; every byte read is appended to `seen`."""
    line = bytearray()
    while time.monotonic() < deadline:
        chunk = link.read_until(b"\n")
        seen.extend(chunk)
        line.extend(chunk)
        if line.endswith(b"\n"):
            return bytes(line).rstrip(b"\r\n")
    return None


def _garbled(data: bytes) -> bool:
    bad = sum(1 for b in data if b >= 0x80 or (b < 0x20 and b not in (9, 10, 13)))
    return bool(data) and bad > GARBLED_SHARE * len(data)


def _no_identity(port: str, seen: bytes, baud: int, project_baud: int, timeout: float) -> BoardError:
    if not seen and baud != project_baud:
        return BoardError(f"{port}: no board answered within {timeout:g} s at {baud} baud: wrong baud rate? "
                          f"(the sketch uses {project_baud})")
    if not seen:
        return BoardError(f"{port}: no board answered within {timeout:g} s (connected, and the sketch uploaded?)")
    if _garbled(seen):
        return BoardError(f"{port}: unreadable answer at {baud} baud: wrong baud rate? (the sketch uses {project_baud})")
    first = seen.decode("ascii", "replace").strip().splitlines()[-1][:60]
    return BoardError(f"{port}: the board does not answer `id` as a dwn-mcu sketch (last line {first!r}): "
                      "another sketch?")


def identify(link, port: str, name: str, identity: str, baud: int, project_baud: int, timeout: float) -> None:
    """Ask `id` (again every second: a board resets when its port opens) until the sketch answers."""
    seen, deadline = bytearray(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        link.write(b"\nid\n")
        answer_by = min(deadline, time.monotonic() + 1.0)
        while (line := _read_line(link, answer_by, seen)) is not None:
            parts = line.decode("ascii", "replace").split()
            if len(parts) == 3 and parts[0] == "id":
                if parts[1:] != [name, identity]:
                    raise BoardError(f"{port}: the board runs model {' '.join(parts[1:])[:60]!r}, not this "
                                     f"project's {name} {identity}: upload the project first")
                return
    raise _no_identity(port, bytes(seen), baud, project_baud, timeout)


def exchange(link, model, X, port: str, timeout: float):
    """Send each row, read its answer line: (agree, first mismatch, timings)."""
    agree, first, micros = 0, None, []
    for i, (row, exp) in enumerate(zip(X, expected(model, X))):
        link.write(row_line(model, row).encode("ascii"))
        line = _read_line(link, time.monotonic() + timeout, bytearray())
        if line is None:
            raise BoardError(f"{port}: no answer to vector {i} within {timeout:g} s")
        text = line.decode("ascii", "replace")
        answer = parse_answer(text, model.num_classes)
        if answer is not None and answer.micros is not None:
            micros.append(answer.micros)
        if answer is not None and answer.values() == exp:
            agree += 1
        elif first is None:
            first = {"index": i, "features": row.tolist(), "expected": exp, "got": text[:120]}
    return agree, first, tuple(micros)


def check_board(project, port: str, baud: int | None = None, timeout: float = 5.0, answer_timeout: float = 2.0,
                serial_module=None) -> CheckResult:
    """Run the check on the board at `port` (see the module's docstring)."""
    identity = identity_of_bytes((project.root / MODEL_COPY).read_bytes())
    X = check_vectors(project)
    link = open_port(port, BAUD if baud is None else baud, serial_module)
    try:
        identify(link, port, project.name, identity, BAUD if baud is None else baud, BAUD, timeout)
        agree, first, micros = exchange(link, project.model, X, port, answer_timeout)
    finally:
        link.close()
    return CheckResult(port, identity, int(X.shape[0]), agree, first, micros)
