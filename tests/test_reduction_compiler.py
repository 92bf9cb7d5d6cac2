"""The generated C forms each class's score from a learnable reduction's last-layer bits, bit for bit
as the reference does (host strict and sanitized builds, both layouts, and one AVR run)."""

import shutil

import numpy as np
import pytest

from dwn_mcu.compiler import compile_host, render_model_sources
from dwn_mcu.compiler.host import compare
from dwn_mcu.synthetic import adversarial_inputs, random_reduction_model

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")

CASES = [
    # (seed, head, n, classes, group, bias): K from 1 to 16 bits, negative and large bias
    (0, (3, 2), 3, 3, 6, None),
    (1, (1,), 4, 2, 5, [3, -2]),
    (2, (5, 9), 2, 4, 4, [0, 7, -40, 1]),
    (3, (16,), 6, 2, 8, [-30000, 5]),  # 2^16 - 1 + bias: an int32 score
]


@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("build", ["strict", "sanitize"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"head{c[1]}")
def test_host_build_agrees_with_the_reference(case, layout, build):
    seed, head, n, C, G, bias = case
    model = random_reduction_model(seed=seed, head=head, n=n, num_classes=C, group_size=G, class_bias=bias,
                                   num_features=4, bits_per_feature=5)
    X = adversarial_inputs(model, seed, random_rows=400)
    with compile_host(model, layout=layout, build=build) as host:
        classes, scores = host.run(X)
        result = compare(model, X, classes, scores, host.build)
        assert result.ok, f"{result.mismatches} mismatches, first {result.first}"
    # the scores really are binary numbers over the whole range (not a popcount of K bits)
    assert model.scores(X).max() - model.class_bias.max() > model.score_bits or model.score_bits == 1


def test_score_type_is_sized_for_the_binary_score():
    small = random_reduction_model(seed=0, head=(3, 2))
    wide = random_reduction_model(seed=3, head=(16,), n=6, num_classes=2, group_size=8, class_bias=[-30000, 5])
    h_small = render_model_sources(small, "nano", check_budget=False)["dwn_model.h"]
    h_wide = render_model_sources(wide, "nano", check_budget=False)["dwn_model.h"]
    assert "typedef int16_t dwn_model_score_t" in h_small and "DWN_MODEL_SCORE_BITS 2u" in h_small
    assert "typedef int32_t dwn_model_score_t" in h_wide and "-30000 .. 65540" in h_wide


@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_avr_simavr_agrees_with_the_reference(layout):
    from target_tools import require_target
    from dwn_mcu.targets.verify import verify_on_target

    require_target("avr")
    model = random_reduction_model(seed=5, head=(4, 3), n=4, num_classes=3, group_size=6, class_bias=[1, 0, -2],
                                   num_features=4, bits_per_feature=5, luts=(40,))
    X = adversarial_inputs(model, 5, random_rows=40)
    sources = render_model_sources(model, "nano", "rm", layout)
    result = verify_on_target(model, "avr", X, sources, "rm")
    assert result.first_mismatch is None
    assert result.agree == result.vectors == X.shape[0]
