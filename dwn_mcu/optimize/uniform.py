"""Final step: give a layer back one input count when mixed counts would cost more flash than they save.

The other passes leave LUTs of one layer with different input counts. The compiler's table-driven loop
then stores each LUT's count (a byte per LUT) and walks variable-size rows, which on a layer where few
LUTs shrank costs more than the table bits saved. This step compares, per layer, the bits of the mixed
layer plus that overhead (`per_lut_bits` per LUT and `per_layer_bits` of code) with the bits of the
layer padded to its largest count N, and pads when that is not larger. Padding is exact: a LUT with
n < N inputs gets N - n more slots (the high ones) that read a bit it already reads (or, for n = 0, a
bit its layer already reads, so no threshold comes back), and its table is repeated 2**(N - n) times,
so the new slots change nothing. It runs once, after the passes reach their fixed point (the don't-care
pass would remove the padding again). A learnable reduction's layers are left as they are: the fill of
an input-less LUT could read another class's block, which the reduction's block structure forbids.
"""

from __future__ import annotations

import numpy as np

from ..frozen import FrozenDWN
from ..architectures import MIXED_LAYER_CODE_BITS, MIXED_LAYER_LUT_BITS
from .netlist import join_layer, replace, split_layer


def _pad(inputs, table, N, fill):
    n = len(inputs)
    extra = np.full(N - n, inputs[0] if n else fill, dtype=np.int64)
    return np.concatenate([inputs, extra]), np.tile(table, 1 << (N - n))


def make_layers_uniform(model: FrozenDWN, per_lut_bits: int = MIXED_LAYER_LUT_BITS,
                        per_layer_bits: int = MIXED_LAYER_CODE_BITS) -> FrozenDWN:
    layers, prev = list(model.layers), model.num_input_bits
    for l, layer in enumerate(layers[: len(model.dwn_layers)]):
        n = layer.n_inputs
        width = max(1, int(np.ceil(np.log2(max(prev, 2)))))
        if n.size and n.min() != n.max() and layer.mapping.size:
            N = int(n.max())
            mixed = layer.tables.size + layer.mapping.size * width + per_lut_bits * n.size + per_layer_bits
            uniform = n.size * ((1 << N) + N * width)
            if uniform <= mixed:
                fill = int(layer.mapping[0])
                layers[l] = join_layer([_pad(i, t, N, fill) for i, t in split_layer(layer)])
        prev = layer.num_luts
    return replace(model, layers=tuple(layers))


def input_count_forms(mixed: FrozenDWN) -> tuple[FrozenDWN, ...]:
    """The input-count forms a build chooses among (`compiler.lower.choose`), in order of preference on a
    tie: layers padded where it pays by bits (`make_layers_uniform`), every layer padded, mixed counts."""
    return (make_layers_uniform(mixed), make_layers_uniform(mixed, per_layer_bits=float("inf")), mixed)
