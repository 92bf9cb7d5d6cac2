"""The generated sketch's line protocol (`firmware_templates/main.cpp.j2`), host side: how a feature row
is written as a line and how an answer line reads back. One place for both, used by the simavr sketch
proof, the PlatformIO tests and `dwn-mcu check` on a real board.

    host:   <f0>,<f1>,...\\n           sketch: class <C> scores <S0> <S1> ... [us <T>]
    host:   id\\n                      sketch: id <name> <identity>
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def float_text(v) -> str:
    """Shortest decimal that reads back as the same float32 (`nan`, `inf`, `-inf` as the sketch accepts)."""
    v = np.float32(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return np.format_float_scientific(v, unique=True, trim="-")


def row_line(model, row) -> str:
    """One feature row as the line the sketch reads (with its newline)."""
    text = float_text if model.input_type == "float32" else (lambda v: str(int(v)))
    return ",".join(text(v) for v in row) + "\n"


@dataclass(frozen=True)
class Answer:
    cls: int
    scores: tuple[int, ...]
    micros: int | None  # the sketch's own timing of the inference, when it reports one

    def values(self) -> list[int]:
        return [self.cls, *self.scores]


def parse_answer(line: str, num_classes: int) -> Answer | None:
    """`class C scores S0 .. S{n-1} [us T]`, or None for any other line."""
    parts = line.split()
    if len(parts) < 3 + num_classes or parts[0] != "class" or parts[2] != "scores":
        return None
    tail = parts[3 + num_classes:]
    if tail and (len(tail) != 2 or tail[0] != "us"):
        return None
    try:
        numbers = [int(p) for p in [parts[1], *parts[3:3 + num_classes], *tail[1:]]]
    except ValueError:
        return None
    return Answer(numbers[0], tuple(numbers[1:1 + num_classes]), numbers[1 + num_classes] if tail else None)


def expected(model, X) -> list[list[int]]:
    """The reference's `[class, score...]` for each row."""
    classes, scores = model.predict(X), model.scores(X)
    return [[int(c), *[int(s) for s in row]] for c, row in zip(classes, scores)]
