"""Thresholds on the float16 grid, and the exact 16-bit comparison that grid allows.

Training option. After the thermometer is fitted and before training, snap each feature's thresholds
with `snap_to_float16`, or the flat arrays at once: `thresholds, counts =
snap_thermometer_to_float16(thresholds, counts)` right after `thermometer.fit_thresholds`. The values
stay float32, but every one is exactly a float16 value; repeats are merged, so a feature may lose bits. The model is then trained and frozen with those thresholds, so the
snapping is part of the model, not an approximation of it: `FrozenDWN.encode` still compares in float32.

Compiler. `fits_float16_grid(model.thresholds)` says whether a model qualifies. Then each threshold is
stored as the 16-bit key `float16_key(t)`, and the bit `x > t` (float32, NaN false) is computed exactly
as `ceil_key16(x) > float16_key(t)`, an unsigned 16-bit comparison, with `ceil_key16(x)` computed once
per feature from x's float32 bit pattern by integer operations alone (no float arithmetic, no float16
hardware):

    key16(h)      = h ^ 0xFFFF if h's sign bit is set, else h | 0x8000   (h: float16 bit pattern)
                    -- orders float16 values as unsigned integers; -0 sorts just below +0.
    ceil_key16(x) = 0 if x is NaN, else key16(c) with c the smallest float16 value >= x
                    (+inf if x > 65504; -65504 if -inf < x < -65504).

Why it is exact, for float32 x not NaN and t a finite float16 value other than -0:
x > t  <=>  c > t, because c >= x > t, and conversely if x <= t then c <= t (t is itself a float16
value >= x, and c is the smallest). And c > t <=> key16(c) > key16(t) because key16 is increasing on
float16 values (with -0 below +0: c = -0 is not > t = +0, as wanted; thresholds of -0 are stored as +0).
NaN gets key 0, below every threshold's key (the smallest is key16(-65504) = 0x0400), so its bits are 0.

`ceil_key16` below is written with the same integer steps a C version would take (see the comments),
so it is the reference to hold such C against; `tests/test_threshold_grid.py` holds it against
a float16 rounding reference and the float32 comparison itself.
"""

from __future__ import annotations

import numpy as np

FLOAT16_MAX = 65504.0


def snap_to_float16(thresholds) -> np.ndarray:
    """One feature's thresholds moved to the nearest float16 value (clipped to +-65504, -0 made +0),
    sorted, repeats removed. float32 array."""
    t = np.clip(np.asarray(thresholds, dtype=np.float64), -FLOAT16_MAX, FLOAT16_MAX)
    if not np.all(np.isfinite(t)):
        raise ValueError("thresholds must be finite")
    snapped = t.astype(np.float16).astype(np.float32) + np.float32(0.0)  # -0 + 0 = +0
    return np.unique(snapped)


def snap_feature_thresholds(per_feature) -> list[np.ndarray]:
    """`snap_to_float16` for every feature of a thermometer (a list of 1-D arrays)."""
    return [snap_to_float16(t) for t in per_feature]


def snap_thermometer_to_float16(thresholds, bits_per_feature) -> tuple[np.ndarray, np.ndarray]:
    """The flat form: feature-major `thresholds` with `bits_per_feature` counts in, the snapped flat
    thresholds (float32) and the new counts (int64; a feature may lose repeats) out."""
    counts = np.asarray(bits_per_feature, dtype=np.int64)
    parts = np.split(np.asarray(thresholds, dtype=np.float32), np.cumsum(counts)[:-1]) if counts.size else []
    snapped = snap_feature_thresholds(parts)
    flat = np.concatenate(snapped).astype(np.float32) if snapped else np.zeros(0, np.float32)
    return flat, np.array([t.size for t in snapped], dtype=np.int64)


def fits_float16_grid(thresholds) -> bool:
    """Whether every threshold is a finite float16 value and none is -0 (so 16-bit keys are exact)."""
    t = np.asarray(thresholds, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        h = t.astype(np.float16)
        same = h.astype(np.float32) == t
    return bool(np.all(same & np.isfinite(h) & ~((t == 0) & np.signbit(t))))


def float16_key(t) -> np.ndarray:
    """uint16 keys of float16-representable values (float32 in), increasing with the value."""
    h = np.asarray(t, dtype=np.float32).astype(np.float16).view(np.uint16)
    return np.where(h & 0x8000, h ^ 0xFFFF, h | 0x8000).astype(np.uint16)


def ceil_key16(x) -> np.ndarray:
    """uint16 key of the smallest float16 value >= x (0 for NaN), from float32 bits by integer steps."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.int64)
    sign = u >> 31
    mag = u & 0x7FFFFFFF
    exp = mag >> 23
    mant = mag & 0x7FFFFF
    # Magnitude truncated to float16 (toward zero), and whether anything was cut off.
    # Normal float16 range (exp >= 113, i.e. >= 2**-14): rebias the exponent, keep the top 10 bits.
    normal = ((exp - 112) << 10) | (mant >> 13)
    normal_cut = (mant & 0x1FFF) != 0
    # Below 2**-14: a float16 subnormal counts units of 2**-24: (1.mant * 2**(exp-127)) / 2**-24.
    full = np.where(exp > 0, mant | 0x800000, mant)
    shift = np.clip(126 - exp, 0, 31)  # C: shifts of 32 or more are undefined, so cap (result 0)
    sub = np.where(shift < 25, full >> shift, 0)
    sub_cut = np.where(shift < 25, (full & ((1 << shift) - 1)) != 0, mag != 0)
    h = np.where(exp >= 113, normal, sub)
    cut = np.where(exp >= 113, normal_cut, sub_cut)
    # Above 65504 (and below 2**16 or beyond): truncates to 65504 (0x7BFF) with a remainder.
    big = (mag > 0x477FE000) & (mag < 0x7F800000)
    h = np.where(big, 0x7BFF, h)
    cut = np.where(big, True, cut)
    h = np.where(mag == 0x7F800000, 0x7C00, h)  # infinity
    cut = np.where(mag == 0x7F800000, False, cut)
    # Ceiling: a positive value with a remainder goes one float16 step up (the carry into the exponent
    # is right: 0x3FF + 1 is the smallest normal, 0x7BFF + 1 is +inf); a negative one, truncated, is it.
    h = h + ((sign == 0) & cut)
    bits = (sign << 15) | h
    key = np.where(sign == 1, bits ^ 0xFFFF, bits | 0x8000)
    nan = mag > 0x7F800000
    return np.where(nan, 0, key).astype(np.uint16)
