"""Pass: fold LUTs whose table is constant (every entry 0, or every entry 1; n = 0 included).

* Earlier layers: each reader of a constant LUT fixes that input to the constant and loses the input
  (`netlist.restrict`); the constant LUT, now unread, is removed. (A layer keeps at least one LUT, so
  a fully constant layer keeps its first LUT, unread.)
* Last layer: the LUTs form C contiguous groups of equal size G, and the score of class c is the
  popcount of group c plus `class_bias[c]`. A constant-v LUT in group c adds v to the score, so it
  becomes a zero LUT (n = 0, table [0]: no input, one table bit) with `class_bias[c] += v`. Zero LUTs
  then go, k from every group at once, where k is the fewest zero LUTs any group holds (at most G - 1,
  so groups never empty): groups stay contiguous and equal, so the format and the compiler's popcount
  stay as they are. The zero LUTs left over (groups with more constants than others) cost one table
  bit each and no mapping; removing them would need unequal groups, a format change not worth a few
  bits. Within a group the order of LUTs does not matter (a popcount), so the zero LUTs left over
  are placed after the group's other LUTs.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN
from .netlist import join_layer, keep_luts, replace, restrict, split_layer


def _constant(table) -> int | None:
    return int(table[0]) if np.all(table == table[0]) else None


def _fold_last_layer(model: FrozenDWN) -> FrozenDWN:
    luts = split_layer(model.layers[-1])
    C, G = model.num_classes, model.group_size
    bias = model.class_bias.copy()
    groups = []
    for c in range(C):
        live, zeros = [], 0
        for inp, tab in luts[c * G : (c + 1) * G]:
            v = _constant(tab)
            if v is None:
                live.append((inp, tab))
            else:
                bias[c] += v
                zeros += 1
        groups.append((live, zeros))
    k = min(min(z for _, z in groups), G - 1)
    zero = (np.zeros(0, np.int64), np.zeros(1, np.uint8))
    new = [lut for live, z in groups for lut in live + [zero] * (z - k)]
    return replace(model, layers=model.layers[:-1] + (join_layer(new),), class_bias=bias)


def fold_constant_luts(model: FrozenDWN) -> FrozenDWN:
    for l in range(len(model.layers) - 1):
        values = [_constant(tab) for _, tab in split_layer(model.layers[l])]
        if all(v is None for v in values):
            continue
        readers = []
        for inp, tab in split_layer(model.layers[l + 1]):
            for slot in reversed(range(len(inp))):  # from the top so slot numbers stay valid
                v = values[inp[slot]]
                if v is not None:
                    inp, tab = restrict(inp, tab, slot, v)
            readers.append((inp, tab))
        layers = list(model.layers)
        layers[l + 1] = join_layer(readers)
        model = replace(model, layers=tuple(layers))
        keep = np.array([j for j, v in enumerate(values) if v is None], dtype=np.int64)
        model = keep_luts(model, l, keep if keep.size else np.zeros(1, np.int64))
    return _fold_last_layer(model)
