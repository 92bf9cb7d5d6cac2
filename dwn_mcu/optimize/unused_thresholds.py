"""Pass: drop the thermometer thresholds that no first-layer LUT reads.

A threshold whose bit nobody reads changes nothing, so removing it (and renumbering the first layer's
mapping onto the bits that remain) is exact. A feature left with no threshold is no longer read at all;
the model still takes it as input (the API keeps its width) and `ignored_features` lists it.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN, LutLayer
from .netlist import replace


def drop_unused_thresholds(model: FrozenDWN) -> FrozenDWN:
    first = model.layers[0]
    keep = np.zeros(model.num_input_bits, dtype=bool)
    keep[first.mapping] = True
    if keep.all():
        return model
    new_index = np.cumsum(keep) - 1
    layer = LutLayer(first.n_inputs.copy(), new_index[first.mapping], first.tables.copy())
    return replace(
        model,
        thresholds=model.thresholds[keep],
        bits_per_feature=np.bincount(model.feature_of_bit[keep], minlength=model.num_features),
        layers=(layer,) + model.layers[1:],
    )


def ignored_features(model: FrozenDWN) -> list[str]:
    """Names of the features no LUT reads (after `drop_unused_thresholds`: those with no threshold)."""
    read = np.zeros(model.num_features, dtype=bool)
    read[model.feature_of_bit[model.layers[0].mapping]] = True
    return [name for name, r in zip(model.feature_names, read) if not r]
