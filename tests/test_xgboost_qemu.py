"""XGBoost's C on the QEMU targets (Cortex-M0+, M3, M4F, RV32), run in the targets' own testbench
through the shim: every row's class and float32 margins agree with xgboost's own, bit for bit, NaN
included, and the planner's flash and stack hold the measured model above them."""

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")

from dwn_mcu.baselines.xgb_export import pack, parse_booster, render_sources  # noqa: E402
from dwn_mcu.baselines.xgb_plan import lower_xgboost  # noqa: E402
from dwn_mcu.baselines.xgb_target import verify_on_target  # noqa: E402
from target_tools import require_target  # noqa: E402

BOARD = {"cortex-m0plus": "pico", "cortex-m3": "bluepill", "cortex-m4f": "nucleo_f401re", "rv32": "esp32c3"}


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.argmax(X @ rng.normal(size=(6, 3)), axis=1)
    params = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1,
              "objective": "multi:softmax", "num_class": 3}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), 5)
    Xt = rng.normal(size=(40, 6)).astype(np.float32)
    Xt[rng.random(Xt.shape) < 0.15] = np.nan
    d = xgb.DMatrix(Xt)
    margins = np.asarray(booster.predict(d, output_margin=True), np.float32).reshape(len(Xt), -1)
    return pack(parse_booster(booster)), Xt, (booster.predict(d).astype(np.int64), margins)


CASES = [(t, "table") for t in BOARD] + [(t, "inline") for t in BOARD if t != "rv32"]  # inline: not measured on RV32


@pytest.mark.parametrize("target,layout", CASES)
def test_xgboost_agrees_bit_for_bit_on_qemu(model, target, layout):
    require_target(target)
    tables, Xt, expected = model
    r = verify_on_target(tables, target, render_sources(tables, "xq", layout), "xq", Xt, expected=expected)
    assert r.ok and r.vectors == len(Xt), r.first_mismatch
    assert r.latency_unit == "instructions" and min(r.latency) > 0
    plan = lower_xgboost(tables, BOARD[target], layout=layout).plan
    assert r.model_size.flash <= plan.model_flash  # the planner is never below the chip
    assert layout == "inline" or tables.table_bytes < r.model_size.flash
    assert r.stack_measured <= plan.model_ram
