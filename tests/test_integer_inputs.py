"""Integer-input models: exactly the float model on the value each integer stands for."""

import numpy as np
import pytest

from dwn_mcu import DWNError, DWNFormatError, load, save
from dwn_mcu.integer_inputs import dequantize, fit_quantization, to_integer_model
from dwn_mcu.model_file import from_bytes, to_bytes
from dwn_mcu.synthetic import random_model
from dwn_mcu.frozen import INPUT_TYPES


def _sweep(input_type, num_features, seed):
    """Every integer of the type in every feature (columns permuted independently), plus both ends."""
    lo, hi = INPUT_TYPES[input_type]
    rng = np.random.default_rng(seed)
    domain = np.arange(lo, hi + 1)
    K = np.stack([rng.permutation(domain) for _ in range(num_features)], axis=1)
    return np.concatenate([K, np.full((1, num_features), lo), np.full((1, num_features), hi)])


@pytest.mark.parametrize("input_type", ["int8", "uint8", "int16", "uint16"])
def test_integer_model_equals_float_model_on_every_integer(input_type):
    # Thresholds near zero with a fine scale: many fall between the same integers and must merge.
    model = random_model(seed=7, num_features=4, bits_per_feature=[12, 3, 20, 1], luts=(40, 10), n=[6, 4])
    lo, hi = INPUT_TYPES[input_type]
    scale = np.array([4.0 / (hi - lo), 0.37, 1e-3, 2.0])
    offset = np.array([-2.0 - lo * scale[0], 0.1, -0.5, 0.0])
    imodel = to_integer_model(model, input_type, scale, offset)
    K = _sweep(input_type, 4, seed=1)
    X = dequantize(K, scale, offset)
    assert np.array_equal(imodel.scores(K), model.scores(X))
    assert np.array_equal(imodel.predict(K), model.predict(X))
    # Merged thresholds: feature 0 has 12 distinct float thresholds in [-2, 2] over 256 steps at most.
    assert imodel.num_input_bits <= model.num_input_bits
    assert imodel.thresholds.dtype == np.float32 and np.array_equal(imodel.thresholds, np.round(imodel.thresholds))


def test_thresholds_that_collide_become_one_bit():
    model = random_model(seed=2, num_features=1, bits_per_feature=16, luts=(8,), n=3)
    imodel = to_integer_model(model, "int8", scale=10.0, offset=0.0)  # integers 10 apart: few bits left
    assert imodel.num_input_bits < 16
    K = _sweep("int8", 1, seed=0)
    assert np.array_equal(imodel.scores(K), model.scores(dequantize(K, np.array([10.0]), np.array([0.0]))))


def test_round_trip_and_version(tmp_path):
    model = random_model(seed=3, num_features=3, luts=(20,))
    imodel = to_integer_model(model, "int16", *fit_quantization(np.random.default_rng(0).normal(size=(100, 3)), "int16"))
    p = tmp_path / "m.dwn"
    save(imodel, p)
    back = load(p)
    assert back.input_type == "int16"
    assert np.array_equal(back.input_scale, imodel.input_scale)
    K = _sweep("int16", 3, seed=4)[:5000]
    assert np.array_equal(back.scores(K), imodel.scores(K))


def test_version_1_cannot_hold_integer_inputs():
    from test_model_file import _with_header

    data = to_bytes(to_integer_model(random_model(seed=1), "uint8", 0.1, 0.0))
    with pytest.raises(DWNFormatError, match="format version 1"):
        from_bytes(_with_header(data, version=1))


def test_fit_quantization_spans_the_type():
    X = np.array([[0.0, 5.0], [10.0, 5.0], [np.nan, 5.0]], np.float32)
    scale, offset = fit_quantization(X, "uint8")
    assert np.allclose(dequantize([0, 255], scale[0], offset[0]), [0.0, 10.0])
    assert scale[1] == 1.0  # a constant feature keeps scale 1


def test_inputs_outside_the_type_are_refused():
    imodel = to_integer_model(random_model(seed=1), "int8", 0.01, 0.0)
    with pytest.raises(ValueError, match="range"):
        imodel.scores(np.full((1, imodel.num_features), 200))
    with pytest.raises(ValueError, match="integer"):
        imodel.scores(np.full((1, imodel.num_features), 0.5))


def test_quantize_matches_dequantize():
    imodel = to_integer_model(random_model(seed=1, num_features=2), "int16", [0.01, 0.5], [1.0, -3.0])
    K = np.array([[-5, 7], [32767, -32768]])
    assert np.array_equal(imodel.quantize(dequantize(K, imodel.input_scale, imodel.input_offset)), K)
    assert imodel.quantize(np.array([[np.nan, 1e30]])).tolist() == [[-32768, 32767]]


def test_bad_arguments():
    model = random_model(seed=1)
    with pytest.raises(DWNError, match="not an integer type"):
        to_integer_model(model, "float32", 1.0, 0.0)
    with pytest.raises(DWNError, match="positive"):
        to_integer_model(model, "int8", -1.0, 0.0)
