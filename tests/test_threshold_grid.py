"""The float16 threshold grid: snapping, and the proof that the 16-bit key comparison equals the float32
comparison `x > t` for every float32 x and every finite float16 threshold t."""

import numpy as np
import pytest

from dwn_mcu.threshold_grid import (
    ceil_key16,
    fits_float16_grid,
    float16_key,
    snap_feature_thresholds,
    snap_thermometer_to_float16,
    snap_to_float16,
)

F32 = np.float32


def all_float16_thresholds():
    """Every finite float16 value except -0, as float32, increasing."""
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    h = h[np.isfinite(h) & ~((h == 0) & np.signbit(h))]
    return np.sort(h.astype(F32))


def float32_probe():
    """Float32 inputs that stress every branch: every float16 value and one float32 ulp either side,
    every float32 exponent with edge mantissas, both signs, specials, and random bit patterns."""
    t = all_float16_thresholds()
    near = np.concatenate([t, np.nextafter(t, F32(np.inf)), np.nextafter(t, F32(-np.inf))])
    exp = np.arange(256, dtype=np.uint32) << 23
    mant = np.array([0, 1, 0x1000, 0x1FFF, 0x2000, 0x3FFFFF, 0x400000, 0x7FFFFF], dtype=np.uint32)
    edges = (exp[:, None] | mant[None, :]).reshape(-1)
    edges = np.concatenate([edges, edges | np.uint32(0x80000000)]).view(F32)
    rand = np.random.default_rng(0).integers(0, 1 << 32, 1 << 20, dtype=np.uint64).astype(np.uint32).view(F32)
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 65504, -65504, 65520, -65520,
                         np.finfo(F32).max, -np.finfo(F32).max, 2.0**-24, -(2.0**-24), 2.0**-25, 2.0**-14], F32)
    return np.concatenate([near, edges, rand, specials]).astype(F32)


def test_key16_orders_float16_values():
    t = all_float16_thresholds()
    keys = float16_key(t).astype(np.int64)
    assert np.all(np.diff(keys) > 0)
    assert keys.min() == 0x0400  # -65504: above the NaN key 0
    assert float16_key(np.array([0.0], F32))[0] == 0x8000


def test_key_comparison_equals_float32_comparison_for_every_threshold():
    # For each x, the thresholds below it form a prefix of the sorted list both ways; equal prefix
    # lengths for every x mean x > t and key(x) > key(t) agree for every (x, t) pair.
    t = all_float16_thresholds()
    keys = float16_key(t)
    x = float32_probe()
    with np.errstate(invalid="ignore"):
        by_float = np.where(np.isnan(x), 0, np.searchsorted(t, x, side="left"))
    by_key = np.searchsorted(keys, ceil_key16(x), side="left")
    bad = np.flatnonzero(by_float != by_key)
    assert bad.size == 0, f"x={x[bad[:5]]} float count {by_float[bad[:5]]} key count {by_key[bad[:5]]}"


def test_ceil_key16_is_the_smallest_float16_not_below_x():
    x = float32_probe()
    x = x[~np.isnan(x)]
    with np.errstate(over="ignore", invalid="ignore"):
        h = x.astype(np.float16)
        h = np.where(h.astype(F32) < x, np.nextafter(h, np.float16(np.inf)), h)
    want = float16_key(h.astype(F32))
    # -0 and +0 are the same ceiling; keys differ by one there and both compare the same.
    zero = h == 0
    np.testing.assert_array_equal(ceil_key16(x)[~zero], want[~zero])
    assert np.all(np.isin(ceil_key16(x)[zero], [0x7FFF, 0x8000]))
    assert ceil_key16(np.array([np.nan], F32))[0] == 0


def test_snap_to_float16():
    t = np.array([0.1, 0.10000001, -0.0, 1e6, -1e6, 3.14159, 1e-9], F32)
    s = snap_to_float16(t)
    assert s.dtype == F32 and np.all(np.diff(s) > 0)
    assert fits_float16_grid(s)
    assert s.tolist() == sorted({float(np.float16(v)) for v in [0.1, -65504, 65504, 3.14159, 0.0]})
    assert not np.signbit(s[s == 0]).any()
    assert [a.size for a in snap_feature_thresholds([t, t[:2]])] == [5, 1]
    with pytest.raises(ValueError):
        snap_to_float16([np.nan])
    flat, counts = snap_thermometer_to_float16(np.concatenate([t[:2], [-1.0, 2.0]]).astype(F32), [2, 0, 2])
    assert counts.tolist() == [1, 0, 2] and flat.tolist() == [float(np.float16(0.1)), -1.0, 2.0]


def test_fits_float16_grid():
    assert fits_float16_grid(np.array([0.5, 1024.0, -65504.0], F32))
    assert not fits_float16_grid(np.array([0.1], F32))
    assert not fits_float16_grid(np.array([70000.0], F32))
    assert not fits_float16_grid(np.array([-0.0], F32))
