"""The model-family interface: DWN and XGBoost each give reference outputs, lower for a board and a
budget (the shared accounting and the compiler's BudgetError), render C, and a test program; the C they
render reproduces their reference on the host, and a target proof runs either through one path."""

import numpy as np
import pytest

from dwn_mcu.compiler import Budget, BudgetError, compile_host
from dwn_mcu.compiler.budget import Sizes
from dwn_mcu.compiler.program import Lowered
from dwn_mcu.families import DWNFamily, XGBoostFamily
from dwn_mcu.synthetic import adversarial_inputs, random_model

xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
from dwn_mcu.baselines.xgb_export import pack, parse_booster  # noqa: E402
from dwn_mcu.baselines.xgb_host import host_predict  # noqa: E402


@pytest.fixture(scope="module")
def families():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    booster = xgb.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "nthread": 1, "seed": 0},
                        xgb.DMatrix(X, label=np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])), 5)
    model = random_model(seed=3, num_features=5, bits_per_feature=6, luts=(30,), n=4, num_classes=3)
    return DWNFamily(model), XGBoostFamily(pack(parse_booster(booster))), X[:40]


def test_each_family_lowers_with_the_shared_accounting(families):
    for family in families[:2]:
        program = family.lower("nano")
        assert isinstance(program, Lowered) and isinstance(program.plan, Sizes), family.name
        assert program.budget is None
        sizes = program.plan
        assert 0 < sizes.model_flash < sizes.flash_total and sizes.problems() == []
        with pytest.raises(BudgetError, match=r"model flash \d+ > budget 100 bytes"):
            family.lower("nano", Budget(100, 1000))


def test_rendered_c_reproduces_each_familys_reference_on_the_host(families):
    dwn, xgbf, X = families
    X = np.concatenate([X, adversarial_inputs(dwn.model)[:, :5]])
    with compile_host(dwn.model, board="nano", name="fam") as c:
        got = [(int(k), tuple(int(v) for v in s)) for k, s in zip(c.predict(X), c.scores(X))]
    assert got == dwn.reference(X)
    classes, margins = host_predict(xgbf.render("famx"), X, "famx")
    got = [(int(k), tuple(int(b) for b in m)) for k, m in zip(classes, margins.view(np.uint32))]
    assert got == xgbf.reference(X)


def test_test_programs_carry_the_reference_and_read_their_firmwares_lines(families):
    dwn, xgbf, X = families
    p = dwn.test_program(dwn.render("fam", "nano"), "fam", X)
    assert p.expected == dwn.reference(X) and set(p.sources) == {"fam.h", "fam.c"}
    c, s = p.expected[0]
    assert p.parse(f"R 0 {c} " + " ".join(map(str, s)) + "\nnoise\n") == {0: (c, s)}
    q = xgbf.test_program(xgbf.render("famx"), "famx", X)
    k, bits = q.expected[1]
    assert q.parse(f"R 1 {k} " + " ".join(f"{b:08x}" for b in bits) + "\n") == {1: (k, bits)}
