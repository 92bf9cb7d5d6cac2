"""Pass: remove the inputs a LUT's table does not depend on.

Input slot k of a LUT is a don't-care when, for every setting of the other slots, the table gives the
same bit whether slot k is 0 or 1, counting only addresses that can occur (`netlist.reachable`: a bit
read twice, or two thermometer bits of one feature in the first layer, rule some addresses out). Such a
slot is removed: n shrinks by one and the table halves, taking at each address the entry that can occur.
Entries at addresses that can never occur are set to 0, so that equal functions get equal tables (the
duplicate pass relies on it). A LUT constant on its reachable addresses ends with n = 0: one entry.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN
from .netlist import join_layer, reachable, replace, restrict, split_layer


def _simplify(inputs, table, ok):
    k = 0
    while k < len(inputs):
        in0, t0 = restrict(inputs, table, k, 0)
        _, t1 = restrict(inputs, table, k, 1)
        _, r0 = restrict(inputs, ok, k, 0)
        _, r1 = restrict(inputs, ok, k, 1)
        if np.all(~r0 | ~r1 | (t0 == t1)):
            inputs, table, ok = in0, np.where(r0, t0, t1).astype(np.uint8), r0 | r1
            k = 0  # a removal can make an earlier slot removable too (it changes what can occur)
        else:
            k += 1
    return inputs, np.where(ok, table, 0).astype(np.uint8)


def remove_dont_care_inputs(model: FrozenDWN) -> FrozenDWN:
    layers = []
    for l, layer in enumerate(model.layers):
        luts = [_simplify(inp, tab, reachable(model, l, inp)) for inp, tab in split_layer(layer)]
        layers.append(join_layer(luts))
    return replace(model, layers=tuple(layers))
