"""The planner's score type holds every score the model can produce: the narrowest type that does, or a
one-line PlanError when none does; extreme but representable biases run under UBSan with the
reference's answers."""

import dataclasses
import shutil

import numpy as np
import pytest

from dwn_mcu import save
from dwn_mcu.cli import main
from dwn_mcu.compiler import compile_host, get_board, make_plan
from dwn_mcu.compiler.host import compare
from dwn_mcu.compiler.plan import PlanError, score_type
from dwn_mcu.frozen import FrozenDWN
from dwn_mcu.synthetic import adversarial_inputs, random_model, random_reduction_model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
I32 = (1 << 31) - 1


def popcount(bias):
    model = random_model(1, num_features=3, luts=(24, 12), n=4, num_classes=3)  # groups of 4
    return dataclasses.replace(model, class_bias=np.asarray(bias, dtype=np.int64))


def reduction(bias):  # K = 5 score bits: scores 0 .. 31 plus the bias
    model = random_reduction_model(seed=2, head=(5,), n=3, num_classes=2, group_size=4, num_features=3,
                                   bits_per_feature=4)
    return dataclasses.replace(model, class_bias=np.asarray(bias, dtype=np.int64))


@pytest.fixture(autouse=True)
def unbounded_bias(monkeypatch):
    """The model's validation bounds class_bias (|bias| <= 2^30); the planner's check must hold without
    it, so these tests switch validation off and give the planner biases up to and past int32."""
    monkeypatch.setattr(FrozenDWN, "validate", lambda self: self)


@pytest.mark.parametrize("bias, want", [
    ([0, 0, 0], "int16_t"),
    ([32767 - 4, 0, -32767], "int16_t"),
    ([32767 - 3, 0, 0], "int32_t"),  # 32764 + 4 ones: one past int16_t
    ([0, -32768, 0], "int32_t"),
    ([I32 - 4, 0, -I32], "int32_t"),
    ([1 << 30, -(1 << 30), 0], "int32_t"),
])
def test_narrowest_type_that_holds_every_score(bias, want):
    model = popcount(bias)
    lo, hi = model.score_range
    assert lo <= min(bias) and hi >= max(bias) + model.group_size
    assert score_type(model) == want == make_plan(model, get_board("nano")).score_ctype


@pytest.mark.parametrize("model", [popcount([I32, 0, 0]), popcount([I32 - 3, 0, 0]), popcount([0, -(1 << 31), 0]),
                                   popcount([1 << 40, 0, 0]), reduction([I32 - 30, 0])],
                         ids=["2^31-1", "2^31-1-3", "-2^31", "2^40", "reduction"])
def test_no_type_holds_the_scores_one_line_plan_error(model):
    with pytest.raises(PlanError, match="beyond int32_t") as info:
        make_plan(model, get_board("nano"))
    assert "\n" not in str(info.value)


def test_reduction_bound_is_2k_minus_1_plus_bias():
    assert score_type(reduction([I32 - 31, 0])) == "int32_t"
    assert score_type(reduction([32767 - 31, 0])) == "int16_t"
    assert score_type(reduction([32767 - 30, 0])) == "int32_t"


def test_cli_build_refuses_in_one_line(tmp_path, capsys):
    """Through the model file: refused by the planner here, or by a loader that bounds class_bias;
    either way one line, exit 2, nothing written."""
    path = tmp_path / "m.dwn"
    save(popcount([I32, 0, 0]), path)
    out = tmp_path / "out"
    assert main(["build", str(path), "--board", "nano", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err and not out.exists()


@needs_gcc
@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("model", [popcount([I32 - 4, -I32, 7]), popcount([1 << 30, -(1 << 30), -(1 << 30)]),
                                   popcount([32767 - 4, -32767, 0]), reduction([I32 - 31, -I32]),
                                   reduction([-(1 << 30), 1 << 30])],
                         ids=["int32-edges", "2^30", "int16-edges", "reduction-int32-edges", "reduction-2^30"])
def test_extreme_biases_run_under_ubsan_with_the_references_answers(model, layout):
    X = adversarial_inputs(model, 0, random_rows=64)
    with compile_host(model, layout=layout, build="sanitize") as host:
        classes, scores = host.run(X)
    result = compare(model, X, classes, scores, "sanitize")
    assert result.ok, f"{result.mismatches} mismatches, first {result.first}"
    assert scores.max() >= int(model.class_bias.max()) and scores.min() <= max(int(model.class_bias.min()), 0)
