"""The integer form of an exported XGBoost model: the same trees, fed the int16 values a sensor or ADC
delivers, exactly equal to xgboost on the float values those integers stand for.

An int16 `k` of feature f stands for `v(k) = float32(k * scale[f] + offset[f])` (`integer_inputs`'
rule: computed in float64, rounded once), and `v` never decreases as `k` grows. So xgboost's test
`v(k) < s` (float32) holds exactly for the `k` below one integer `K = -32768 + #{k : v(k) < s}`, which
`searchsorted(v, s, side="left")` over the whole int16 domain finds (65,536 values per feature):

* `k < K` replaces `x < s`: an int16 compare against an int16 threshold, no key computation.
* Split values that fall between the same integers give one K: each feature keeps its sorted unique Ks
  and the nodes' ranks are remapped onto them (`bin <= rank` is then `k < K[rank]`, as in the float form).
* K = 32768 (every int16 goes left) does not fit an int16: it is not stored, and its nodes get the rank
  one past the feature's last stored threshold, which no bin exceeds (`bin <= rank` always holds). The
  inline layout prunes such constant nodes instead (`xgb_inline`); K = -32768 (always right) is stored
  (`k < -32768` never holds) or pruned alike.
* int16 rows have no NaN, so the integer firmware has no NaN bin and never takes a default child.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..integer_inputs import Quantization, dequantize
from . import BaselineError
from .xgb_export import XGBTables, narrowest

INPUT_TYPE = "int16"
LO, HI = -32768, 32767
ALWAYS_LEFT = HI + 1  # the K of a split every int16 is below: not stored in an int16 table


def split_values(keys: np.ndarray) -> np.ndarray:
    """The float32 values of order-preserving uint32 keys (`compiler.pack.threshold_keys`' inverse)."""
    keys = np.asarray(keys, dtype=np.uint32)
    sign = np.uint32(0x80000000)
    return np.where(keys & sign, keys ^ sign, ~keys).astype(np.uint32).view(np.float32)


@functools.lru_cache(maxsize=512)
def _domain(scale: float, offset: float) -> np.ndarray:
    """v(k) for every int16 k, ascending k (cached: the search prices many prefixes of one model)."""
    return dequantize(np.arange(LO, HI + 1, dtype=np.int64), scale, offset)


def thresholds(splits: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """K per float32 split value: `v(k) < s` iff `k < K`; K runs -32768 .. 32768 (int64)."""
    return LO + np.searchsorted(_domain(float(scale), float(offset)), np.asarray(splits, np.float32), side="left")


def integer_inputs(X) -> np.ndarray:
    """Rows of int16 values as int64 (BaselineError for anything else: the C would silently wrap them)."""
    X = np.asarray(X)
    if X.dtype.kind not in "iu":
        if not np.all(np.isfinite(X)) or not np.array_equal(X, np.round(X)):
            raise BaselineError("an int16 XGBoost model takes integer inputs")
    X = X.astype(np.int64)
    if X.size and (X.min() < LO or X.max() > HI):
        raise BaselineError(f"inputs outside the int16 range {LO}..{HI}")
    return X


def integer_tables(tables: XGBTables, quantization: Quantization) -> XGBTables:
    """`tables` (float32 inputs) as the int16-input model equal to it on `quantization.features(k)` for
    every int16 row `k`; int16 tables as they are."""
    if not tables.is_float:
        return tables
    if quantization.input_type != INPUT_TYPE:
        raise BaselineError(f"XGBoost's integer form takes {INPUT_TYPE} inputs, not {quantization.input_type}")
    F = tables.num_features
    scale = np.broadcast_to(np.asarray(quantization.scale, np.float64), (F,)).copy()
    offset = np.broadcast_to(np.asarray(quantization.offset, np.float64), (F,)).copy()
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(offset))) or np.any(scale <= 0):
        raise BaselineError("input scale must be positive and finite, offset finite")
    feat = tables.node_feat.astype(np.int64) >> 2
    old_rank = tables.node_rank.astype(np.int64)
    ranks, stored = np.zeros_like(old_rank), []
    for f in range(F):
        K = thresholds(split_values(tables.thr_keys[int(tables.thr_start[f]): int(tables.thr_start[f + 1])]),
                       scale[f], offset[f])
        unique = np.unique(K)  # ascending; ALWAYS_LEFT, when present, is the last and is not stored
        stored.append(unique[unique <= HI])
        sel = feat == f
        ranks[sel] = np.searchsorted(unique, K[old_rank[sel]])
    start = np.concatenate([[0], np.cumsum([k.size for k in stored])]).astype(np.int64)
    return dataclasses.replace(
        tables,
        thr_keys=(np.concatenate(stored) if stored else np.zeros(0)).astype(np.int16),
        thr_start=start.astype(narrowest(int(start[-1]))),
        node_rank=ranks.astype(narrowest(max([k.size for k in stored] + [0]))),  # bins run 0..count
        input_type=INPUT_TYPE, input_scale=scale, input_offset=offset)


def constant_side(tables: XGBTables, node: int) -> str | None:
    """"left" or "right" when every int16 input takes that side at `node` (K = 32768 or K = -32768),
    else None. Only for int16 tables."""
    f = int(tables.node_feat[node]) >> 2
    start, end = int(tables.thr_start[f]), int(tables.thr_start[f + 1])
    rank = int(tables.node_rank[node])
    if start + rank >= end:
        return "left"
    return "right" if int(tables.thr_keys[start + rank]) == LO else None


def node_threshold(tables: XGBTables, node: int) -> int:
    """The int16 K of a non-constant node of int16 tables."""
    f = int(tables.node_feat[node]) >> 2
    return int(tables.thr_keys[int(tables.thr_start[f]) + int(tables.node_rank[node])])
