"""Learnable reduction: the NumPy reference of its frozen semantics (`FrozenDWN.reduction_layers`, `.dwn`
format version 3; see docs/learnable-reduction.md).

A reduction replaces the popcount at the output with further LUT layers, separately per class, ending in
`K` bits per class that are read as an unsigned binary number. It is stored as ordinary `LutLayer`s over
the concatenation of every class's vector, with two rules:

* Block structure. The last DWN layer's bits are `C` contiguous groups of `G` bits (group `c` is class
  `c`'s). Reduction layer `r` has `C * L_r` LUTs: LUT `c * L_r + j` belongs to class `c` and its mapping
  reads only class `c`'s block of the previous vector, `[c * L_{r-1}, (c + 1) * L_{r-1})` (with
  `L_0 = G`). Every class's head has the same shape; tables and mappings differ.
* Score. The last reduction layer has `C * K` LUTs; class `c`'s score is
  `s_c = sum_k bit[c * K + k] << k + class_bias[c]` (bit `k` of the unsigned score is LUT `c * K + k`;
  least significant first), `0 <= s_c - class_bias[c] <= 2**K - 1`. The prediction is the argmax of
  `s`, ties to the lowest class index, exactly as with popcount scores.

Evaluation inside each LUT is the frozen format's (`LutLayer.forward`), so nothing new is needed there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import DWNFormatError
from .frozen import LutLayer


def validate_reduction(layers: Sequence[LutLayer], num_classes: int, group_size: int) -> int:
    """Check the block structure of reduction `layers` over `num_classes` groups of `group_size` bits;
    return `K`, the score bits per class. Raises DWNFormatError naming the layer and LUT."""
    C = int(num_classes)
    if C < 2 or group_size < 1:
        raise DWNFormatError(f"reduction: need at least 2 classes and 1 bit per group (got {C}, {group_size})")
    if not layers:
        raise DWNFormatError("reduction: no layers")
    prev = int(group_size)
    for r, layer in enumerate(layers, start=1):
        if layer.num_luts % C:
            raise DWNFormatError(f"reduction layer {r}: {layer.num_luts} LUTs is not a multiple of {C} classes")
        per_class = layer.num_luts // C
        if layer.mapping.size:
            owner = np.repeat(np.arange(layer.num_luts) // per_class, layer.n_inputs)  # class of each entry
            lo, hi = owner * prev, (owner + 1) * prev
            bad = np.flatnonzero((layer.mapping < lo) | (layer.mapping >= hi))
            if bad.size:
                lut = int(np.searchsorted(layer.mapping_offsets, bad[0], side="right") - 1)
                raise DWNFormatError(
                    f"reduction layer {r}: LUT {lut} (class {lut // per_class}) reads bit "
                    f"{int(layer.mapping[bad[0]])}, outside its class's bits {int(lo[bad[0]])}..{int(hi[bad[0]]) - 1}"
                )
        prev = per_class
    if prev > 62:
        raise DWNFormatError(f"reduction: {prev} score bits per class do not fit an int64 score")
    return prev


def binary_scores(bits: np.ndarray, num_classes: int) -> np.ndarray:
    """Scores (N, C) int64 from the last reduction layer's bits (N, C*K): LUT c*K + k is bit k of s_c."""
    N, total = bits.shape
    K = total // num_classes
    weights = np.int64(1) << np.arange(K, dtype=np.int64)
    return bits.reshape(N, num_classes, K).astype(np.int64) @ weights


def reduction_scores(
    group_bits: np.ndarray,
    layers: Sequence[LutLayer],
    num_classes: int,
    class_bias: np.ndarray | None = None,
) -> np.ndarray:
    """Scores (N, C) int64 of a learnable reduction applied to the last DWN layer's bits (N, C*G)."""
    group_bits = np.asarray(group_bits, dtype=np.uint8)
    if group_bits.ndim != 2 or group_bits.shape[1] % num_classes:
        raise DWNFormatError(f"reduction: input bits of shape {group_bits.shape} do not split into {num_classes} groups")
    validate_reduction(layers, num_classes, group_bits.shape[1] // num_classes)
    bits = group_bits
    for layer in layers:
        bits = layer.forward(bits)
    scores = binary_scores(bits, num_classes)
    if class_bias is not None:
        scores = scores + np.asarray(class_bias, dtype=np.int64)[None, :]
    return scores


def predict(scores: np.ndarray) -> np.ndarray:
    """Argmax of the scores, ties to the lowest class index (the same rule as popcount scores)."""
    return np.argmax(scores, axis=1)
