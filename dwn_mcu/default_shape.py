"""The shape `dwn-mcu train` gives a model when the command names none: sized from the data.

One rule, in `default_shape`, documented in docs/training.md ("The default shape"). A DWN's class score is
a popcount of its group of last-layer LUTs, so a class with g LUTs has only g + 1 possible scores: the
fixed 200 LUTs of the old default left a 26-class problem 8 LUTs per class, whose scores tie and cannot
rank the classes finely. The rule therefore gives every class at least `LUTS_PER_CLASS` LUTs, never fewer
LUTs in all than the old default (so a problem with few classes keeps the shape it had), caps the LUTs by
the training rows (each LUT's 2**n entries are fitted from the rows: a small set gets fewer), and lowers the
thermometer bits per feature when there are more input bits than the first layer has inputs to read them.
Explicit `--luts`, `--bits` and `--lut-inputs` win over it, one by one.
"""

from __future__ import annotations

import dataclasses

BASE_LUTS = 200        # the old fixed default, kept as the floor: 2..6 classes keep their old shape exactly
LUTS_PER_CLASS = 32    # popcount scores 0..32 per class; 26 classes: 8/16/32/64 gave 67/76/82/85% (BENCHMARKS.md)
MIN_LUTS_PER_CLASS = 8  # the rows cap never goes below this (the old default's 26-class share)
ROWS_PER_LUT = 2       # at most one LUT per this many training rows
LUT_INPUTS = 6         # inputs per LUT (the DWN paper's n = 6)
MAX_BITS = 32          # thermometer thresholds per feature, at most (repeated ones are removed anyway)
MIN_BITS = 2


@dataclasses.dataclass(frozen=True)
class Shape:
    """A model's shape: LUTs per layer, inputs per LUT, thermometer thresholds per feature; with the
    reasons the rule gave (one short clause each, printed by `train`)."""

    luts: tuple[int, ...]
    lut_inputs: int
    bits: int
    reasons: tuple[str, ...] = ()


def default_shape(rows: int, features: int, classes: int, luts=None, lut_inputs=None, bits=None) -> Shape:
    """The shape for `rows` training rows of `features` features and `classes` classes. `luts`,
    `lut_inputs` and `bits`, when given (not None), are kept as they are; only the others are chosen."""
    if min(rows, features) < 1 or classes < 2:
        raise ValueError(f"no shape for {rows} rows, {features} features, {classes} classes")
    reasons = []
    n = LUT_INPUTS if lut_inputs is None else int(lut_inputs)
    if luts is None:
        total = max(BASE_LUTS, classes * LUTS_PER_CLASS)
        if total > BASE_LUTS:
            reasons.append(f"{LUTS_PER_CLASS} LUTs per class for {classes} classes")
        cap = max(classes * MIN_LUTS_PER_CLASS, rows // ROWS_PER_LUT)
        if cap < total:
            total = cap
            reasons.append(f"at most one LUT per {ROWS_PER_LUT} of the {rows} training rows")
        luts = (-(-total // classes) * classes,)  # equal popcount groups: a multiple of the classes
    luts = tuple(int(v) for v in luts)
    if bits is None:
        bits = min(MAX_BITS, max(MIN_BITS, luts[0] * n // features))
        if bits < MAX_BITS:
            reasons.append(f"{bits} thresholds per feature: {features} features feed {luts[0] * n} LUT inputs")
    return Shape(luts, n, int(bits), tuple(reasons))
