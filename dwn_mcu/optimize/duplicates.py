"""Pass: merge LUTs of one earlier layer that compute the same function of the same inputs.

Two LUTs are duplicates when, with their inputs sorted by bit index (the table permuted to match),
they have the same inputs and the same table. The first survives; readers of the others read it
instead, and the others are removed. Readers that now read one bit twice lose the repeat in the
don't-care pass.

The last layer is left alone: its outputs are counted, so two equal LUTs add 2 to a score (or 1 to each
of two scores) and one LUT cannot stand for both without a per-LUT weight, which would turn the
compiler's popcount into a weighted sum. Exact merging there is not worth that cost.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN, LutLayer
from .netlist import keep_luts, permute_inputs, replace, split_layer


def canonical_key(inputs, table) -> tuple:
    """The LUT's function as a hashable key that ignores the order of its input slots."""
    inp, tab = permute_inputs(inputs, table, np.argsort(inputs, kind="stable"))
    return tuple(inp.tolist()), tab.tobytes()


def merge_duplicate_luts(model: FrozenDWN) -> FrozenDWN:
    for l in range(len(model.layers) - 1):
        survivor, first = {}, np.arange(model.layers[l].num_luts)
        for j, (inp, tab) in enumerate(split_layer(model.layers[l])):
            first[j] = survivor.setdefault(canonical_key(inp, tab), j)
        if np.all(first == np.arange(first.size)):
            continue
        layers = list(model.layers)
        nxt = layers[l + 1]
        layers[l + 1] = LutLayer(nxt.n_inputs.copy(), first[nxt.mapping], nxt.tables.copy())
        model = replace(model, layers=tuple(layers))
        model = keep_luts(model, l, np.unique(first))
    return model
