"""Thermometer encoders: thresholds per encoding, uniqueness, float32 strict `>`, agreement with FrozenDWN."""

import numpy as np
import pytest
from statistics import NormalDist

from dwn_mcu import FrozenDWN, LutLayer
from dwn_mcu.thermometer import ENCODINGS, Thermometer, encode, fit_thresholds


def test_uniform_is_evenly_spaced_between_min_and_max():
    X = np.array([[0.0], [10.0], [3.0]], np.float32)
    t, counts = fit_thresholds(X, 4, "uniform")
    assert counts.tolist() == [4]
    np.testing.assert_allclose(t, [2.0, 4.0, 6.0, 8.0])
    assert t.dtype == np.float32


def test_gaussian_uses_normal_quantiles_of_mean_and_std():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, size=(1000, 1)).astype(np.float32)
    t, _ = fit_thresholds(x, 3, "gaussian")
    m, s = x.astype(np.float64).mean(), x.astype(np.float64).std()
    expect = [m + s * NormalDist().inv_cdf(q) for q in (0.25, 0.5, 0.75)]
    np.testing.assert_allclose(t, expect, rtol=1e-6)


def test_distributive_splits_training_data_evenly():
    x = np.arange(1000, dtype=np.float32)[:, None]
    t, counts = fit_thresholds(x, 9, "distributive")
    assert counts.tolist() == [9]
    bits = encode(x, t, counts)
    # each threshold sends about (i / 10) of the rows below it
    frac_on = bits.mean(axis=0)
    np.testing.assert_allclose(frac_on, 1 - np.arange(1, 10) / 10, atol=0.002)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_repeated_thresholds_removed_and_constant_features(encoding):
    X = np.stack(
        [
            np.r_[np.zeros(90), np.ones(10)],  # binary feature
            np.full(100, 3.5),  # constant
            np.full(100, np.nan),  # never finite
            np.linspace(-1, 1, 100),
        ],
        axis=1,
    ).astype(np.float32)
    th = Thermometer.fit(X, 16, encoding)
    parts = np.split(th.thresholds, np.cumsum(th.bits_per_feature)[:-1])
    for t in parts:
        assert np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)
    assert th.bits_per_feature[1] <= 1 and th.bits_per_feature[2] == 0
    assert th.bits_per_feature[3] == 16
    if encoding == "distributive":
        assert parts[0].tolist() == [0.0]  # the one useful split of a binary feature


def test_encode_is_strict_float32_and_nan_is_zero():
    t = np.array([0.1], np.float32)  # 0.1 rounds to float32 0.100000001490116...
    X = np.array([[0.1], [np.float64(0.1) + 1e-12], [np.nextafter(np.float32(0.1), np.float32(1))], [np.nan]])
    assert encode(X, t, [1]).ravel().tolist() == [0, 0, 1, 0]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_matches_frozen_model_encoder(encoding):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4)).astype(np.float32) * [1, 10, 1e-3, 1e6]
    X[rng.random(X.shape) < 0.05] = np.nan
    th = Thermometer.fit(X, 8, encoding)
    bits = th.num_bits
    layer = LutLayer.uniform(np.zeros((2, 1), np.int64), np.zeros((2, 2), np.uint8))
    model = FrozenDWN(th.thresholds, th.bits_per_feature, (layer,), num_classes=2).validate()
    Xt = rng.normal(size=(300, 4)).astype(np.float32) * [1, 10, 1e-3, 1e6]
    Xt[0] = np.inf
    Xt[1] = -np.inf
    Xt[2] = np.nan
    assert bits == model.num_input_bits
    np.testing.assert_array_equal(th.encode(Xt), model.encode(Xt))


def test_bad_arguments():
    with pytest.raises(ValueError, match="encoding"):
        fit_thresholds(np.zeros((3, 1)), 4, "quantile")
    with pytest.raises(ValueError, match="bits"):
        fit_thresholds(np.zeros((3, 1)), 0)
