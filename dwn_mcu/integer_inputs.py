"""Integer-input models: the same DWN, fed the integers a sensor or ADC delivers.

A float model compares `feature > t` in float32. A sensor gives an integer `k` of a small type (int8,
uint8, int16, uint16) that stands for the feature `feature(k) = float32(k * scale + offset)` (computed in
float64, rounded once to float32). With `scale > 0`, `feature(k)` never decreases as `k` grows, so the
set of `k` where `feature(k) > t` is every `k` above one integer `T`: the largest `k` of the type with
`feature(k) <= t`, or `min - 1` when there is none. `to_integer_model` finds `T` for every threshold by
evaluating `feature` on the whole domain of the type (at most 65,536 values), so that the integer model
gives, for every integer input, exactly the float model's answer on `feature(k)`. Two float thresholds
that fall between the same integers become one bit: the readers of the dropped bit read its twin.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import DWNError
from .frozen import INPUT_TYPES, FrozenDWN, LutLayer


@dataclasses.dataclass(frozen=True, eq=False)
class Quantization:
    """How the integers of `input_type` stand for the features: `feature(k) = float32(k * scale + offset)`
    (per feature). One object for the rows and the models, so that both use the same scaling."""

    input_type: str
    scale: np.ndarray
    offset: np.ndarray

    @classmethod
    def fit(cls, X_train: np.ndarray, input_type: str) -> "Quantization":
        return cls(input_type, *fit_quantization(X_train, input_type))

    def rows(self, X: np.ndarray) -> np.ndarray:
        return quantize(X, self.input_type, self.scale, self.offset)

    def features(self, K: np.ndarray) -> np.ndarray:
        return dequantize(K, self.scale, self.offset)

    def model(self, model: FrozenDWN) -> FrozenDWN:
        """`model` fed these integers (`to_integer_model`); a model that already takes them as it is."""
        if model.input_type == self.input_type:
            return model
        return to_integer_model(model, self.input_type, self.scale, self.offset)


def type_range(input_type: str) -> tuple[int, int]:
    limits = INPUT_TYPES.get(input_type)
    if limits is None:
        raise DWNError(f"input type {input_type!r} is not an integer type ({', '.join(list(INPUT_TYPES)[1:])})")
    return limits


def fit_quantization(X_train: np.ndarray, input_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature scale and offset mapping the training range of each feature onto the type's range."""
    lo, hi = type_range(input_type)
    X = np.asarray(X_train, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        fmin = np.nanmin(np.where(np.isfinite(X), X, np.nan), axis=0)
        fmax = np.nanmax(np.where(np.isfinite(X), X, np.nan), axis=0)
    fmin = np.nan_to_num(fmin, nan=0.0)
    fmax = np.nan_to_num(fmax, nan=0.0)
    span = fmax - fmin
    scale = np.where(span > 0, span / (hi - lo), 1.0)
    offset = fmin - lo * scale
    return scale, offset


def quantize(X: np.ndarray, input_type: str, scale, offset) -> np.ndarray:
    """Features to integers of `input_type`: `round((x - offset) / scale)` clipped to the type, NaN to its
    minimum (the rule of `FrozenDWN.quantize`, for data before there is a model). Returns int64."""
    lo, hi = type_range(input_type)
    with np.errstate(invalid="ignore"):
        q = np.round((np.asarray(X, dtype=np.float64) - offset) / scale)
    return np.where(np.isnan(q), lo, np.clip(q, lo, hi)).astype(np.int64)


def dequantize(K: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """`feature(k) = float32(k * scale + offset)`: the float input an integer stands for."""
    return (np.asarray(K, dtype=np.float64) * scale + offset).astype(np.float32)


def to_integer_model(model: FrozenDWN, input_type: str, scale, offset) -> FrozenDWN:
    """The integer-input model equal to `model` on `feature(k)` for every integer `k` of `input_type`."""
    if model.input_type != "float32":
        raise DWNError(f"the model already takes {model.input_type} inputs")
    lo, hi = type_range(input_type)
    F = model.num_features
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (F,)).copy()
    offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), (F,)).copy()
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(offset))) or np.any(scale <= 0):
        raise DWNError("input scale must be positive and finite, offset finite")
    domain = np.arange(lo, hi + 1, dtype=np.int64)
    new_thresholds, new_counts, remap = [], [], np.empty(model.num_input_bits, dtype=np.int64)
    bit = 0
    for f, t in enumerate(model.feature_thresholds):
        values = dequantize(domain, scale[f], offset[f])  # non-decreasing in k
        T = lo - 1 + np.searchsorted(values, t, side="right")  # largest k with feature(k) <= t
        unique, first = np.unique(T, return_index=True)
        inverse = np.searchsorted(unique, T)
        remap[bit : bit + t.size] = sum(new_counts) + inverse
        bit += t.size
        new_thresholds.append(unique.astype(np.float32))
        new_counts.append(unique.size)
    first_layer = model.layers[0]
    layers = (
        LutLayer(first_layer.n_inputs, remap[first_layer.mapping], first_layer.tables),
        *model.layers[1:],
    )
    metadata = dict(model.metadata, input_quantization={"type": input_type, "rule": "feature = float32(k * scale + offset)"})
    return dataclasses.replace(
        model,
        thresholds=np.concatenate(new_thresholds) if new_thresholds else np.zeros(0, np.float32),
        bits_per_feature=np.asarray(new_counts, dtype=np.int64),
        layers=layers,
        metadata=metadata,
        input_type=input_type,
        input_scale=scale,
        input_offset=offset,
    ).validate()
