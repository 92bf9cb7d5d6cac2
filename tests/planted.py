"""Random models with waste planted on purpose, and inputs that cover every encoder cell, for the
optimizer's tests and benchmark.

`planted_model` returns the model and a record of what was planted where: unread thresholds and a
feature no LUT reads, constant LUTs, LUTs with a don't-care input, LUTs that read one bit twice,
duplicate LUTs (inputs shuffled, table permuted to match), and dead LUTs (nothing reads them).
"""

from __future__ import annotations

import itertools

import numpy as np

from dwn_mcu.frozen import FrozenDWN
from dwn_mcu.optimize.netlist import join_layer, permute_inputs


def planted_model(
    seed: int = 0,
    num_features: int = 4,
    bits_per_feature: int = 4,
    luts: tuple[int, ...] = (24,),
    n: int = 3,
    num_classes: int = 2,
    rate: float = 0.15,
) -> tuple[FrozenDWN, dict]:
    """A valid model of `luts[l]` LUTs of `n` inputs per layer (the last a multiple of `num_classes`),
    with about `rate` of the LUTs of each kind of waste. Returns (model, planted) where planted maps a
    kind to a list of (layer, lut) pairs, plus "ignored_feature" and "unread_bits"."""
    rng = np.random.default_rng(seed)
    F, B = num_features, bits_per_feature
    thresholds = np.concatenate([np.sort(rng.choice(np.arange(-20, 20), B, replace=False)) / 4.0
                                 for _ in range(F)]).astype(np.float32)
    ignored = int(rng.integers(F))
    readable = [b for b in range(F * B) if b // B != ignored and rng.random() > 0.2]
    readable = readable or [(ignored + 1) % F * B]  # at least one bit is read
    planted = {"constant": [], "dont_care": [], "repeat": [], "duplicate": [], "dead": [],
               "ignored_feature": ignored, "unread_bits": sorted(set(range(F * B)) - set(readable))}
    layers, sources = [], np.array(readable)
    for l, count in enumerate(luts):
        last = l == len(luts) - 1
        layer = []
        for j in range(count):
            inp = rng.choice(sources, size=n)
            tab = rng.integers(0, 2, size=1 << n).astype(np.uint8)
            kind = rng.choice(["constant", "dont_care", "repeat", "duplicate", "plain"],
                              p=[rate, rate, rate / 2, 0 if last or j == 0 else rate, 1 - 3.5 * rate
                                 + (rate if last or j == 0 else 0)])
            if kind == "repeat" and n == 1:
                kind = "plain"
            if kind == "constant":
                tab[:] = rng.integers(0, 2)
            elif kind == "dont_care":
                k = rng.integers(n)
                addr = np.arange(1 << n)
                tab = tab[addr & ~(1 << k)]  # entry with slot k cleared: slot k never matters
            elif kind == "repeat":
                inp[1] = inp[0]
            elif kind == "duplicate":
                inp, tab = layer[rng.integers(j)]
                inp, tab = permute_inputs(inp, tab, rng.permutation(n))
            if kind != "plain":
                planted[kind].append((l, j))
            layer.append((np.asarray(inp, np.int64), tab))
        layers.append(join_layer(layer))
        dead = [j for j in range(count) if not last and rng.random() < rate]
        planted["dead"] += [(l, j) for j in dead]
        sources = np.array([j for j in range(count) if j not in dead] or [0])
    model = FrozenDWN(thresholds=thresholds, bits_per_feature=np.full(F, B), layers=tuple(layers),
                      num_classes=num_classes, class_bias=rng.integers(-2, 3, num_classes))
    return model.validate(), planted


def cell_inputs(model: FrozenDWN, limit: int = 20000) -> np.ndarray:
    """One input per encoder cell: for each feature, a value in each interval its thresholds cut, and
    every combination across features. Every float32 input (NaN included: it encodes like the lowest
    interval) gives the same bits as one of these rows, so agreeing on them is agreeing everywhere.
    Raises ValueError when there would be more than `limit` rows."""
    per_feature = []
    for t in model.feature_thresholds:
        top = np.nextafter(t[-1], np.float32(np.inf)) if t.size else np.float32(0)
        per_feature.append(np.concatenate([t, [top]]).astype(np.float32))
    rows = int(np.prod([v.size for v in per_feature]))
    if rows > limit:
        raise ValueError(f"{rows} encoder cells, more than {limit}")
    return np.array(list(itertools.product(*per_feature)), dtype=np.float32).reshape(rows, -1)


def quantile_model(X: np.ndarray, seed: int = 0, bits_per_feature: int = 16, luts: tuple[int, ...] = (100,),
                   n: int = 6, num_classes: int = 2) -> FrozenDWN:
    """A random-structured model whose thresholds are empirical quantiles of the data `X` (a
    distributive thermometer, repeats removed), with random mapping and random tables: what the
    optimizer meets before a trainer exists. Not a trained model."""
    rng = np.random.default_rng(seed)
    qs = (np.arange(1, bits_per_feature + 1) / (bits_per_feature + 1))
    per_feature = []
    for f in range(X.shape[1]):
        col = X[:, f][np.isfinite(X[:, f])]
        per_feature.append(np.unique(np.quantile(col, qs).astype(np.float32)) if col.size else
                           np.zeros(0, np.float32))
    bpf = np.array([t.size for t in per_feature], dtype=np.int64)
    layers, prev = [], int(bpf.sum())
    for count in luts:
        layers.append(join_layer([(rng.integers(0, prev, n), rng.integers(0, 2, 1 << n).astype(np.uint8))
                                  for _ in range(count)]))
        prev = count
    return FrozenDWN(np.concatenate(per_feature), bpf, tuple(layers), num_classes).validate()
