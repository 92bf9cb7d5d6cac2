"""Target proofs with a model library: every vector on every emulated target agrees with the NumPy
reference, sizes come from the ELF, and a wrong answer is reported with both results."""

import numpy as np
import pytest

from dwn_mcu.synthetic import adversarial_inputs, random_model
from dwn_mcu.targets.testing import require_target
from dwn_mcu.targets.verify import verify_on_target
from fixtures.standin.render import render_standin

TARGETS = ["avr", "cortex-m0plus", "cortex-m3", "cortex-m4f", "rv32"]


@pytest.fixture(scope="module")
def model():
    # LUT counts that are not multiples of 8, two layers, three classes.
    return random_model(seed=3, num_features=6, bits_per_feature=5, luts=(45, 21), n=6, num_classes=3)


@pytest.mark.parametrize("target", TARGETS)
def test_standin_agrees_on_every_target(model, target):
    require_target(target)
    X = adversarial_inputs(model, seed=1, random_rows=16)  # NaN, infinities, thresholds +-1 ulp, ...
    result = verify_on_target(model, target, X, render_standin(model, "tm"), "tm")
    assert result.first_mismatch is None
    assert result.agree == result.vectors == X.shape[0]
    assert len(result.latency) == X.shape[0] and min(result.latency) > 0
    # the model adds flash; the firmware's flash includes at least the packed tables
    table_bytes = sum((layer.tables.size + 7) // 8 for layer in model.layers)
    assert result.model_size.flash > table_bytes
    assert result.size.flash > result.model_size.flash
    assert result.stack_static > 0


def test_avr_reports_a_mismatch_with_both_answers(model):
    require_target("avr")
    X = adversarial_inputs(model, seed=2, random_rows=8)[-12:]
    other = random_model(seed=4, num_features=6, bits_per_feature=5, luts=(45, 21), n=6, num_classes=3)
    # firmware built from `other`, checked against `model`: the answers must differ somewhere
    result = verify_on_target(model, "avr", X, render_standin(other, "tm"), "tm", measure_model_share=False)
    assert not result.ok
    i = result.first_mismatch["index"]
    assert result.first_mismatch["expected"]["scores"] == model.scores(X[i : i + 1])[0].tolist()
    assert result.first_mismatch["got"]["scores"] == other.scores(X[i : i + 1])[0].tolist()


def test_avr_finds_model_data_in_ram_and_measures_stack(model):
    require_target("avr")
    X = np.zeros((4, model.num_features), np.float32)
    result = verify_on_target(model, "avr", X, render_standin(model, "tm"), "tm")
    # the stand-in keeps its per-layer pointer arrays and class biases in .data (RAM): detected
    assert {"nluts", "bias"} <= set(result.model_data_symbols)
    assert result.model_size.ram >= sum(result.model_data_symbols.values())
    # the harness measures the deepest stack of each inference; the static frames are close to it
    assert result.stack_measured is not None and result.stack_measured >= result.stack_static
