"""Small helpers the passes share: LUTs as (inputs, table) pairs, dropping LUTs with their readers
repointed, permuting a LUT's inputs, and which addresses of a LUT can ever occur.

A layer here is edited as a Python list of `(inputs, table)` pairs (int64 array of n bit indices,
uint8 array of 2**n entries) and turned back into the flat `LutLayer` at the end. Models are small
(thousands of LUTs at most), so clarity wins over vectorisation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..frozen import FrozenDWN, LutLayer


def split_layer(layer: LutLayer) -> list[tuple[np.ndarray, np.ndarray]]:
    """The layer's LUTs as a list of (inputs, table) pairs (copies)."""
    return [(layer.lut_inputs(j).copy(), layer.lut_table(j).copy()) for j in range(layer.num_luts)]


def join_layer(luts) -> LutLayer:
    """The flat `LutLayer` of a list of (inputs, table) pairs."""
    n = np.array([len(inp) for inp, _ in luts], dtype=np.int64)
    mapping = np.concatenate([np.asarray(i, np.int64) for i, _ in luts] + [np.zeros(0, np.int64)])
    tables = np.concatenate([np.asarray(t, np.uint8) for _, t in luts] + [np.zeros(0, np.uint8)])
    return LutLayer(n_inputs=n, mapping=mapping, tables=tables)


def replace(model: FrozenDWN, **changes) -> FrozenDWN:
    """A copy of `model` with some fields changed, validated."""
    return dataclasses.replace(model, **changes).validate()


def keep_luts(model: FrozenDWN, layer: int, keep: np.ndarray) -> FrozenDWN:
    """Keep only the LUTs `keep` (sorted indices) of layer `layer` (0-based), in that order, and point
    the next layer's mapping at their new positions. The caller guarantees nothing reads a dropped LUT."""
    layers = list(model.layers)
    old = split_layer(layers[layer])
    layers[layer] = join_layer([old[j] for j in keep])
    if layer + 1 < len(layers):
        new_index = np.full(len(old), -1, dtype=np.int64)
        new_index[keep] = np.arange(len(keep))
        nxt = layers[layer + 1]
        mapping = new_index[nxt.mapping]
        assert mapping.size == 0 or mapping.min() >= 0, "a dropped LUT is still read"
        layers[layer + 1] = LutLayer(nxt.n_inputs.copy(), mapping, nxt.tables.copy())
    return replace(model, layers=tuple(layers))


def permute_inputs(inputs: np.ndarray, table: np.ndarray, order: np.ndarray):
    """The same LUT with its input slots reordered: new slot i is old slot `order[i]`."""
    n = len(inputs)
    addr = np.arange(1 << n)
    old_addr = np.zeros_like(addr)
    for i, k in enumerate(order):
        old_addr |= ((addr >> i) & 1) << int(k)
    return np.asarray(inputs)[order], np.asarray(table)[old_addr]


def restrict(inputs: np.ndarray, table: np.ndarray, slot: int, value: int):
    """The LUT with input `slot` fixed to `value` (0 or 1) and removed: n shrinks by one."""
    n = len(inputs)
    rest = np.arange(1 << (n - 1))
    low = rest & ((1 << slot) - 1)
    addr = low | ((rest >> slot) << (slot + 1)) | (int(value) << slot)
    return np.delete(np.asarray(inputs), slot), np.asarray(table)[addr]


def reachable(model: FrozenDWN, layer: int, inputs: np.ndarray) -> np.ndarray:
    """Which of the 2**n addresses of a LUT in layer `layer` (0-based) reading `inputs` can occur.

    Two facts are used, both exact: a bit read in two slots has the same value in both; and in the
    first layer, thermometer bits of one feature are ordered (`x > T[b]` implies `x > T[a]` for a < b,
    and NaN sets neither), so slot i reading a higher threshold of the same feature than slot k
    implies slot k. For the first layer this set is exactly the reachable one; for deeper layers it may
    contain addresses that never occur, which only costs missed simplifications.
    """
    inputs = np.asarray(inputs)
    n = len(inputs)
    addr = np.arange(1 << n)
    ok = np.ones(1 << n, dtype=bool)
    feature = model.feature_of_bit if layer == 0 else None
    for i in range(n):
        for k in range(n):
            if i == k:
                continue
            p, q = inputs[i], inputs[k]
            implies = p == q or (feature is not None and feature[p] == feature[q] and p > q)
            if implies:  # bit i set and bit k clear cannot happen
                ok &= ~((((addr >> i) & 1) == 1) & (((addr >> k) & 1) == 0))
    return ok
