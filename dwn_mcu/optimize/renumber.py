"""Pass: put the netlist in a canonical order; mapping indices stay as small as possible.

After the other passes every bit of every layer is read (unused thresholds and dead LUTs are gone), so
mapping indices already run over the fewest bits. This pass fixes the order, which changes no score:

* within a LUT, inputs are sorted by bit index (the table permuted to match);
* in an earlier layer, LUTs are sorted by (number of inputs, inputs, table), readers repointed, so
  LUTs of equal n are contiguous and the compiler can emit one loop per run;
* in the last layer, LUTs are sorted the same way within each class group (a popcount ignores order).
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN, LutLayer
from .netlist import join_layer, permute_inputs, replace, split_layer


def _sorted_luts(luts):
    luts = [permute_inputs(inp, tab, np.argsort(inp, kind="stable")) for inp, tab in luts]
    keys = [(len(inp), tuple(inp.tolist()), tab.tobytes()) for inp, tab in luts]
    order = sorted(range(len(luts)), key=lambda j: keys[j])
    return [luts[j] for j in order], np.array(order, dtype=np.int64)


def renumber(model: FrozenDWN) -> FrozenDWN:
    layers = list(model.layers)
    for l in range(len(layers) - 1):
        luts, order = _sorted_luts(split_layer(layers[l]))
        layers[l] = join_layer(luts)
        new_index = np.empty_like(order)
        new_index[order] = np.arange(order.size)
        nxt = layers[l + 1]
        layers[l + 1] = LutLayer(nxt.n_inputs.copy(), new_index[nxt.mapping], nxt.tables.copy())
    last, G = split_layer(layers[-1]), model.group_size
    groups = [_sorted_luts(last[c * G : (c + 1) * G])[0] for c in range(model.num_classes)]
    layers[-1] = join_layer([lut for group in groups for lut in group])
    return replace(model, layers=tuple(layers))
