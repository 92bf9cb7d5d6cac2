"""Random frozen models and adversarial inputs, for tests and benchmarks of everything after `freeze`."""

from __future__ import annotations

import numpy as np

from .frozen import INPUT_TYPES, FrozenDWN, LutLayer


def random_model(
    seed: int = 0,
    num_features: int = 5,
    bits_per_feature: int | list[int] = 8,
    luts: tuple[int, ...] = (60,),
    n: int | list[int] = 6,
    num_classes: int = 2,
) -> FrozenDWN:
    """A valid random model. `luts` lists the LUT count of each layer; the last must be a multiple of
    `num_classes`. `n` is the inputs per LUT for every layer, or one value per layer."""
    rng = np.random.default_rng(seed)
    bpf = np.broadcast_to(np.asarray(bits_per_feature, dtype=np.int64), (num_features,)).copy()
    thresholds = []
    for count in bpf:
        t = np.unique(rng.normal(size=int(count)).astype(np.float32))
        while t.size < count:  # collisions are vanishingly rare, but keep the count exact
            t = np.unique(np.concatenate([t, rng.normal(size=int(count - t.size)).astype(np.float32)]))
        thresholds.append(t)
    ns = [n] * len(luts) if np.isscalar(n) else list(n)
    layers, prev = [], int(bpf.sum())
    for count, k in zip(luts, ns):
        mapping = rng.integers(0, prev, size=(count, k))
        tables = rng.integers(0, 2, size=(count, 1 << k))
        layers.append(LutLayer.uniform(mapping, tables))
        prev = count
    model = FrozenDWN(
        thresholds=np.concatenate(thresholds) if thresholds else np.zeros(0, np.float32),
        bits_per_feature=bpf,
        layers=tuple(layers),
        num_classes=num_classes,
    )
    return model.validate()


def random_reduction_model(
    seed: int = 0,
    head: tuple[int, ...] = (3, 2),
    n: int = 3,
    num_classes: int = 3,
    group_size: int = 6,
    class_bias=None,
    **kwargs,
) -> FrozenDWN:
    """A random model (`random_model(**kwargs)` whose last layer has `num_classes * group_size` LUTs)
    followed by a random learnable reduction of per-class shape `head` (L_1, ..., L_R): every LUT of
    class `c` reads `n` random bits of class `c`'s block of the previous layer."""
    rng = np.random.default_rng(seed + 7919)
    C = num_classes
    luts = tuple(kwargs.pop("luts", (40,))) + (C * group_size,)
    base = random_model(seed=seed, luts=luts, num_classes=C, **kwargs)
    layers, prev = list(base.layers), group_size
    for per_class in head:
        owner = np.repeat(np.arange(C), per_class)[:, None]  # class of each LUT
        mapping = owner * prev + rng.integers(0, prev, size=(C * per_class, n))
        layers.append(LutLayer.uniform(mapping, rng.integers(0, 2, size=(C * per_class, 1 << n))))
        prev = per_class
    model = FrozenDWN(
        thresholds=base.thresholds,
        bits_per_feature=base.bits_per_feature,
        layers=tuple(layers),
        num_classes=C,
        class_bias=class_bias,
        reduction_layers=len(head),
    )
    return model.validate()


def adversarial_inputs(model: FrozenDWN, seed: int = 0, random_rows: int = 64) -> np.ndarray:
    """Inputs that probe the comparisons: NaN, +-inf, +-FLT_MAX, subnormals, zeros of both signs, every
    threshold exactly and one ulp either side, plus random rows. Shape (rows, F), float32.

    Integer models get integers of their type instead, (rows, F) int64: the type's minimum and maximum,
    every threshold and one either side (clipped to the type), and random integers over the whole type."""
    rng = np.random.default_rng(seed)
    F = model.num_features
    limits = INPUT_TYPES[model.input_type]
    if limits is not None:
        return _integer_adversarial(model, rng, limits, random_rows)
    f32 = np.float32
    specials = np.array(
        [np.nan, np.inf, -np.inf, np.finfo(f32).max, -np.finfo(f32).max, np.finfo(f32).smallest_subnormal,
         -np.finfo(f32).smallest_subnormal, np.finfo(f32).tiny, 0.0, -0.0],
        dtype=f32,
    )
    rows = [np.full(F, s, dtype=f32) for s in specials]
    for f, t in enumerate(model.feature_thresholds):
        for value in t:
            for v in (value, np.nextafter(value, f32(-np.inf)), np.nextafter(value, f32(np.inf))):
                row = rng.normal(size=F).astype(f32)
                row[f] = v
                rows.append(row)
    mixed = rng.choice(specials, size=(16, F))
    rows.extend(mixed)
    rows.extend(rng.normal(scale=2.0, size=(random_rows, F)).astype(f32))
    return np.stack(rows).astype(f32)


def _integer_adversarial(model: FrozenDWN, rng, limits, random_rows: int) -> np.ndarray:
    lo, hi = limits
    F = model.num_features
    ends = np.array([lo, hi, lo + 1, hi - 1, 0], dtype=np.int64).clip(lo, hi)
    rows = [np.full(F, v, dtype=np.int64) for v in ends]
    for f, t in enumerate(model.feature_thresholds):
        for value in t.astype(np.int64):
            for v in (value - 1, value, value + 1):
                row = rng.integers(lo, hi, size=F, endpoint=True)
                row[f] = min(max(v, lo), hi)
                rows.append(row)
    rows.extend(rng.choice(ends, size=(16, F)))
    rows.extend(rng.integers(lo, hi, size=(random_rows, F), endpoint=True))
    return np.stack(rows).astype(np.int64)
