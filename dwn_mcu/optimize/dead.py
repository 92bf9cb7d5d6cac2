"""Pass: remove LUTs of earlier layers whose output no LUT of the next layer reads.

Walking from the last layer back to the first, a LUT that nothing reads is removed, so whatever only
it read becomes unread in turn and goes in the same walk (thresholds only it read are dropped by the
unused-thresholds pass). The last layer's LUTs are the outputs and are never dead. A layer keeps at
least one LUT (its first) even when nothing reads it.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN
from .netlist import keep_luts


def remove_dead_luts(model: FrozenDWN) -> FrozenDWN:
    for l in range(len(model.layers) - 2, -1, -1):
        read = np.zeros(model.layers[l].num_luts, dtype=bool)
        read[model.layers[l + 1].mapping] = True
        if not read.any():
            read[0] = True
        if not read.all():
            model = keep_luts(model, l, np.flatnonzero(read))
    return model
