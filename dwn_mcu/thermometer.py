"""Thermometer encoders: per-feature thresholds fitted on training data (NumPy only, no torch).

A feature `f` with thresholds `T[f]` becomes the bits `x[f] > T[f][b]`, compared in float32 (NaN gives
0). This is exactly the encoder of `FrozenDWN` (docs/design.md): `Thermometer.thresholds` and
`bits_per_feature` are what a frozen model stores, feature-major.

Encodings (`bits` thresholds asked per feature, before repeated ones are removed):

* ``uniform``: evenly spaced between the feature's minimum and maximum, `min + (max - min) * i / (bits + 1)`
  for `i = 1..bits`.
* ``gaussian``: quantiles of a normal with the feature's mean and standard deviation,
  `mean + std * Phi^-1(i / (bits + 1))`.
* ``distributive``: empirical quantiles of the training values (the sorted values at ranks
  `floor(i * N / (bits + 1))`, as torch_dwn does), so every bit splits the training data about evenly;
  a threshold equal to the feature's maximum is dropped, since no training value exceeds it.

Thresholds are rounded to float32 and made unique, so each feature's array is strictly increasing and
finite. A feature may end with fewer than `bits` thresholds (a binary feature gets one; a feature with
no finite value gets none).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

ENCODINGS = ("distributive", "uniform", "gaussian")


def _feature_thresholds(values: np.ndarray, bits: int, encoding: str) -> np.ndarray:
    """Thresholds of one feature from its (float32) training values, float64 before rounding."""
    v = values[np.isfinite(values)].astype(np.float64)
    if v.size == 0:
        return np.empty(0)
    i = np.arange(1, bits + 1)
    if encoding == "uniform":
        lo, hi = v.min(), v.max()
        return lo + (hi - lo) * i / (bits + 1)
    if encoding == "gaussian":
        normal = NormalDist()
        z = np.array([normal.inv_cdf(q) for q in i / (bits + 1)])
        return v.mean() + v.std() * z
    if encoding == "distributive":
        s = np.sort(v)
        t = s[(i * s.size) // (bits + 1)]
        return t[t < s[-1]]
    raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")


def fit_thresholds(X, bits: int, encoding: str = "distributive") -> tuple[np.ndarray, np.ndarray]:
    """Fit `bits` thresholds per feature of `X` (N, F). Returns (`thresholds` float32 flat feature-major,
    `bits_per_feature` int64 (F,)), repeated thresholds removed."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    if int(bits) < 1:
        raise ValueError(f"bits must be at least 1, got {bits}")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array of features, got shape {X.shape}")
    per_feature = []
    for f in range(X.shape[1]):
        t = _feature_thresholds(X[:, f], int(bits), encoding)
        with np.errstate(over="ignore"):  # a float64 threshold beyond float32 range becomes inf: dropped
            t = np.unique(t.astype(np.float32))
        per_feature.append(t[np.isfinite(t)])
    counts = np.array([t.size for t in per_feature], dtype=np.int64)
    flat = np.concatenate(per_feature) if per_feature else np.empty(0)
    return flat.astype(np.float32), counts


def encode(X, thresholds: np.ndarray, bits_per_feature: np.ndarray) -> np.ndarray:
    """Bits (N, total_bits) uint8 of `X` (N, F): `x[f] > T[f][b]` in float32, NaN gives 0."""
    X = np.asarray(X, dtype=np.float32)
    bits_per_feature = np.asarray(bits_per_feature, dtype=np.int64)
    if X.ndim != 2 or X.shape[1] != bits_per_feature.size:
        raise ValueError(f"expected inputs of shape (N, {bits_per_feature.size}), got {X.shape}")
    feature_of_bit = np.repeat(np.arange(bits_per_feature.size), bits_per_feature)
    with np.errstate(invalid="ignore"):
        return (X[:, feature_of_bit] > np.asarray(thresholds, np.float32)[None, :]).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Thermometer:
    """A fitted thermometer encoder: the `thresholds`/`bits_per_feature` pair of a FrozenDWN."""

    thresholds: np.ndarray  # (total_bits,) float32, feature-major, strictly increasing per feature
    bits_per_feature: np.ndarray  # (F,) int64
    encoding: str = "distributive"

    @classmethod
    def fit(cls, X, bits: int = 32, encoding: str = "distributive") -> "Thermometer":
        thresholds, counts = fit_thresholds(X, bits, encoding)
        return cls(thresholds, counts, encoding)

    @property
    def num_bits(self) -> int:
        return int(self.thresholds.size)

    def encode(self, X) -> np.ndarray:
        return encode(X, self.thresholds, self.bits_per_feature)
