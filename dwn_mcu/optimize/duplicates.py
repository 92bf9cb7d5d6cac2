"""Pass: merge LUTs of one earlier layer that compute the same function of the same inputs.

Two LUTs are duplicates when they compute the same function of the same bits, whatever the order of
their input slots and even if one reads a bit twice (`canonical_key`). The first survives; readers of the others read it
instead, and the others are removed. Readers that now read one bit twice lose the repeat in the
don't-care pass.

The last layer is left alone: its outputs are counted, so two equal LUTs add 2 to a score (or 1 to each
of two scores) and one LUT cannot stand for both without a per-LUT weight, which would turn the
compiler's popcount into a weighted sum. Exact merging there is not worth that cost.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN, LutLayer
from .netlist import keep_luts, replace, split_layer


def canonical_key(inputs, table) -> tuple:
    """The LUT's function as a hashable key: over its distinct input bits in increasing order (a bit
    read in several slots is one variable; the table is read where those slots agree)."""
    bits, slot_var = np.unique(np.asarray(inputs), return_inverse=True)
    addr = np.arange(1 << bits.size)
    full = np.zeros_like(addr)
    for k, v in enumerate(slot_var.reshape(-1)):
        full |= ((addr >> int(v)) & 1) << k
    return tuple(bits.tolist()), np.asarray(table)[full].tobytes()


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
