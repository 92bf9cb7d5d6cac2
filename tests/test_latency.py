"""The planner's latency price (`dwn_mcu.latency`) against the emulators, and latency as a budget.

The price is held within 10% of the emulator's median per model on a small corpus the constants were not
fitted on (other seeds and shapes than bench/calibrate_latency.py's): simavr cycles on the ATmega328P,
QEMU instructions on the Cortex-M0+ and M3, both DWN layouts, float and integer inputs, and XGBoost on
the AVR. Emulator counts are deterministic: this is not a timed test. Then the budget: parsing, `lower`'s
one-line refusal, `build --latency-budget`, and the shape search's rejection
(the selection rule and the trained searches: tests/test_selection.py)."""

import numpy as np
import pytest

from dwn_mcu.cli import main
from dwn_mcu.compiler import Budget, BudgetError, get_board
from dwn_mcu.compiler.budget import budget_for, latency_cycles
from dwn_mcu.compiler.lower import lower
from dwn_mcu.compiler.render import render_library
from dwn_mcu.frozen import INPUT_TYPES
from dwn_mcu.integer_inputs import to_integer_model
from dwn_mcu.latency import LatencyError, dwn_features, program_latency, xgb_features, xgb_latency
from dwn_mcu.model_file import save
from dwn_mcu.synthetic import random_model
from target_tools import require_target

BOARD = {"avr": "nano", "cortex-m0plus": "pico", "cortex-m3": "bluepill"}
#: (features, bits, LUTs, n, classes, input type): not in the calibration corpus
SHAPES = [(6, 12, (44,), 6, 2, "float32"), (9, 10, (30, 15), 5, 3, "float32"), (4, 20, (32,), 4, 2, "int16"),
          (9, [0, 6, 0, 3, 0, 0, 8, 0, 2], (9,), 4, 3, "float32"),  # features without thresholds
          # the size compare picks at 2 KB and a few hundred cycles: priced by the integer-input fit
          (8, [0, 5, 1, 3, 2, 0, 4, 1], (6,), 4, 2, "int16")]


def _model(seed, F, bits, luts, n, classes, inputs):
    model = random_model(seed=seed, num_features=F, bits_per_feature=bits, luts=luts, n=n, num_classes=classes)
    X = np.random.default_rng(seed).normal(0, 1.2, size=(16, F)).astype(np.float32)
    if inputs != "float32":
        lo, hi = INPUT_TYPES[inputs]
        scale = 8.0 / (hi - lo)
        model = to_integer_model(model, inputs, scale, -4.0 - lo * scale)
        X = np.clip(np.round((X + 4.0) / scale + lo), lo, hi).astype(np.int64)
    return model, X


def _few_input(model, seed, fewest=1, most=3):
    """`model` with each LUT a random function of `fewest`..`most` of its inputs: with 1..3, small decision
    diagrams, so the unrolled layout puts many LUTs in diagram form (`plan.lut_forms`); near n, after the
    exact passes, layers of mixed input counts, as a trained model's."""
    import dataclasses

    rng = np.random.default_rng(seed)
    layers = []
    for layer in model.layers:
        tables = []
        for j in range(layer.num_luts):
            n, addr = int(layer.n_inputs[j]), np.arange(1 << int(layer.n_inputs[j]))
            keep = rng.choice(n, size=min(n, fewest + int(rng.integers(most - fewest + 1))), replace=False)
            sub = sum((((addr >> int(s)) & 1) << k for k, s in enumerate(keep)), np.zeros_like(addr))
            tables.append(rng.integers(0, 2, 1 << keep.size)[sub].astype(np.uint8))
        layers.append(dataclasses.replace(layer, tables=np.concatenate(tables)))
    return dataclasses.replace(model, layers=tuple(layers)).validate()


#: Every emulated architecture: (target, board).
ALL_TARGETS = {"avr": "nano", "cortex-m0plus": "pico", "cortex-m3": "bluepill", "cortex-m4f": "nucleo_f401re",
               "rv32": "esp32c3"}
#: Trained-like shapes (not in the calibration corpus): each LUT ignores up to 3 of its inputs, so the
#: exact passes leave layers of mixed input counts, which off AVR take the unrolled layout's C path and the
#: table layout's per-LUT count (AVR's planner pads them back to one count for its fast paths).
MIXED_SHAPES = [(5, 24, (50,), 6, 2, "float32"), (7, 10, (24, 12), 6, 3, "float32")]


@pytest.mark.parametrize("target", list(ALL_TARGETS))
def test_trained_like_mixed_counts_priced_within_10_percent_of_the_emulator(target):
    require_target(target)
    from dwn_mcu.targets.verify import verify_on_target

    from dwn_mcu.optimize import optimize

    for i, shape in enumerate(MIXED_SHAPES):
        model, X = _model(80 + i, *shape)
        model = _few_input(model, 90 + i, 3, 6)
        assert all(np.unique(layer.n_inputs).size > 1 for layer in optimize(model, uniform=False)[0].layers)
        for layout in ("unrolled", "table"):
            program = lower(model, ALL_TARGETS[target], name="lt", layout=layout, check_budget=False)  # as build
            assert target == "avr" or any(lp.uniform_n is None for lp in program.plan.layers)
            r = verify_on_target(program.model, target, X, render_library(program), "lt", measure_model_share=False)
            assert r.ok
            measured, priced = float(np.median(r.latency)), program_latency(program)
            assert abs(priced - measured) <= 0.10 * measured, (target, shape, layout, priced, measured)


@pytest.mark.parametrize("target", list(BOARD))
def test_dwn_price_of_the_diagram_form_within_10_percent_of_the_emulator(target):
    require_target(target)
    from dwn_mcu.targets.verify import verify_on_target

    for i, shape in enumerate(SHAPES[:2]):
        model, X = _model(60 + i, *shape)
        model = _few_input(model, i)
        program = lower(model, BOARD[target], name="lt", layout="unrolled", optimize=False, check_budget=False)
        assert sum(sum(lp.diagram_luts) for lp in program.plan.layers) > 0
        r = verify_on_target(program.model, target, X, render_library(program), "lt", measure_model_share=False)
        assert r.ok
        measured, priced = float(np.median(r.latency)), program_latency(program)
        assert abs(priced - measured) <= 0.10 * measured, (target, shape, priced, measured)


#: The held-out cases the linear price misses by more than 10%, each with its measured figures: a known
#: gap, not a tolerance (strict: the test fails once the price holds there, so this list stays true).
PRICE_MISSES = {("cortex-m0plus", 3, "unrolled"): "priced 217 against 185 measured (+17.3%): 3 classes at "
                "the fit's ~24 instructions each where the 9-LUT model's scores and argmax take ~25 in all"}


def _price_cases():
    for target in BOARD:
        for i in range(len(SHAPES)):
            for layout in ("table", "unrolled"):
                miss = PRICE_MISSES.get((target, i, layout))
                marks = [pytest.mark.xfail(strict=True, reason=miss)] if miss else []
                yield pytest.param(target, i, layout, marks=marks, id=f"{target}-{i}-{layout}")


@pytest.mark.parametrize("target, i, layout", list(_price_cases()))
def test_dwn_price_within_10_percent_of_the_emulator(target, i, layout):
    require_target(target)
    from dwn_mcu.targets.verify import verify_on_target

    model, X = _model(40 + i, *SHAPES[i])
    program = lower(model, BOARD[target], name="lt", layout=layout, optimize=False, check_budget=False)
    r = verify_on_target(program.model, target, X, render_library(program), "lt", measure_model_share=False)
    assert r.ok
    measured, priced = float(np.median(r.latency)), program_latency(program)
    assert abs(priced - measured) <= 0.10 * measured, (target, SHAPES[i], layout, priced, measured)


def _xgb_models(xgb, seed: int):
    """(rows, packed tables) of two small boosters, binary and three-class, trained on random problems."""
    from dwn_mcu.baselines.xgb_export import pack, parse_booster

    rng = np.random.default_rng(seed)
    for F, classes, depth, rounds in [(6, 2, 3, 12), (7, 3, 4, 6)]:
        X = rng.normal(size=(300, F)).astype(np.float32)
        y = np.argmax(X @ rng.normal(size=(F, classes)), axis=1)
        params = {"max_depth": depth, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1, "verbosity": 0}
        params.update({"objective": "binary:logistic"} if classes == 2 else
                      {"objective": "multi:softmax", "num_class": classes})
        yield X, pack(parse_booster(xgb.train(params, xgb.DMatrix(X, label=y), rounds)))


def test_xgboost_price_within_10_percent_of_simavr():
    require_target("avr")
    xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
    from dwn_mcu.baselines.xgb_export import render_sources
    from dwn_mcu.baselines.xgb_target import verify_on_avr

    for X, tables in _xgb_models(xgb, 5):
        r = verify_on_avr(tables, render_sources(tables, "xl"), "xl", X[:16], measure_model_share=False)
        assert r.ok
        measured, priced = float(np.median(r.latency)), xgb_latency(tables, "avr")
        assert abs(priced - measured) <= 0.10 * measured, (F, classes, depth, rounds, priced, measured)


def test_price_is_a_pure_function_of_the_program():
    model, _ = _model(1, *SHAPES[1])
    a = lower(model, "nano", layout="table", check_budget=False)
    b = lower(model, "nano", layout="table", check_budget=False)
    assert dwn_features(a) == dwn_features(b) and program_latency(a) == program_latency(b) > 0
    unrolled = lower(model, "nano", layout="unrolled", check_budget=False)
    assert program_latency(unrolled) < program_latency(a)  # the unrolled layout is the fast one
    wider, _ = _model(1, 9, 10, (60, 15), 5, 3, "float32")
    assert program_latency(lower(wider, "nano", layout="table", check_budget=False)) > program_latency(a)


def test_xtensa_has_no_price_and_says_so():
    model, _ = _model(1, *SHAPES[0])
    assert get_board("esp32").arch == "xtensa"
    program = lower(model, "esp32", check_budget=False)
    with pytest.raises(LatencyError, match="not been calibrated"):
        program_latency(program)


def test_latency_budget_in_cycles_or_microseconds():
    nano = get_board("nano")  # 16 MHz
    assert latency_cycles("2000", nano) == 2000 and latency_cycles(2000, nano) == 2000
    assert latency_cycles("150us", nano) == 2400 and latency_cycles("150US", nano) == 2400
    assert budget_for(nano, 2048, None, "150us").latency == 2400 and budget_for(nano).latency is None
    for bad in ("fast", "-5", "0", "nanus", "infus"):
        with pytest.raises(BudgetError, match="latency budget"):
            latency_cycles(bad, nano)


def test_lower_refuses_a_program_over_the_latency_budget_in_one_line():
    model, _ = _model(2, *SHAPES[0])
    budget = budget_for(get_board("nano"))
    price = program_latency(lower(model, "nano", budget))
    assert program_latency(lower(model, "nano", Budget(budget.flash, budget.ram, price))) == price  # at: fits
    with pytest.raises(BudgetError) as err:
        lower(model, "nano", Budget(budget.flash, budget.ram, price - 1))
    msg = str(err.value)
    assert "\n" not in msg and f"latency {price} > budget {price - 1} cycles" in msg


def test_build_latency_budget_is_one_line_and_writes_nothing(tmp_path, capsys):
    model, _ = _model(3, *SHAPES[0])
    path, out = tmp_path / "m.dwn", tmp_path / "out"
    save(model, path)
    assert main(["build", str(path), "--board", "nano", "-o", str(out), "--latency-budget", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "latency" in err and "> budget 10 cycles" in err
    assert not out.exists()
    assert main(["build", str(path), "--board", "nano", "-o", str(out), "--latency-budget", "1000000us"]) == 0
    assert main(["build", str(path), "--board", "nano", "-o", str(tmp_path / "o2"), "--latency-budget", "x"]) == 2
    assert "latency budget 'x'" in capsys.readouterr().err


def test_search_estimate_rejects_shapes_over_the_latency_budget():
    from dwn_mcu.budget_search import DWNShape, estimate

    s = DWNShape(6, (40,), 16)
    flash, ram = budget_for(get_board("nano")).flash, 1000
    assert estimate(s, 5, 2, "nano", flash, ram)[3]
    assert not estimate(s, 5, 2, "nano", flash, ram, latency_budget=100)[3]


def test_train_board_latency_budget_is_stored_and_build_holds_it(tmp_path, capsys):
    pytest.importorskip("torch")
    import json

    from dwn_mcu.model_file import load

    out = tmp_path / "m.dwn"
    assert main(["train", "--dataset", "phoneme", "--board", "nano", "--flash-budget", "2048", "--latency-budget",
                 "250us", "--trials", "1", "--epochs", "1", "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "most accurate " in printed and "chosen " in printed and "cycles (priced)" in printed
    model = load(out)
    assert model.metadata["latency_budget"] == 4000  # 250 us at 16 MHz
    assert main(["build", str(out), "--board", "nano", "-o", str(tmp_path / "p")]) == 0
    report = json.loads((tmp_path / "p" / "dwn_report.json").read_text())
    assert report["budget"]["latency"] == 4000 and report["latency"]["priced"] <= 4000
    assert report["latency"]["unit"] == "cycles"
    assert main(["train", "--dataset", "phoneme", "--latency-budget", "10", "-o", str(tmp_path / "x.dwn")]) == 2
    assert "need --board" in capsys.readouterr().err


def test_xgboost_inline_price_within_10_percent_of_simavr():
    require_target("avr")
    xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
    from dwn_mcu.baselines.xgb_export import render_sources
    from dwn_mcu.baselines.xgb_target import verify_on_avr

    for X, tables in _xgb_models(xgb, 6):
        r = verify_on_avr(tables, render_sources(tables, "xl", "inline"), "xl", X[:16], measure_model_share=False)
        assert r.ok
        measured, priced = float(np.median(r.latency)), xgb_latency(tables, "avr", "inline")
        assert abs(priced - measured) <= 0.10 * measured, (F, classes, depth, rounds, priced, measured)
        assert priced < xgb_latency(tables, "avr", "table")


@pytest.mark.parametrize("layout", ["table", "inline"])
def test_xgboost_int16_price_within_10_percent_of_simavr(layout):
    """The int16 form's own price (`latency.xgb_family`: xgboost_int16, xgboost_inline_int16) against
    simavr, on boosters trained on the quantized rows' features and run on the int16 rows, as compare does."""
    require_target("avr")
    xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
    from dwn_mcu.baselines.xgb_export import pack, parse_booster, render_sources
    from dwn_mcu.baselines.xgb_integer import integer_tables
    from dwn_mcu.baselines.xgb_target import verify_on_avr
    from dwn_mcu.integer_inputs import Quantization
    from dwn_mcu.latency import xgb_family

    rng = np.random.default_rng(9)
    for F, classes, depth, rounds in [(6, 2, 3, 12), (7, 3, 4, 6), (19, 7, 3, 5)]:
        X = rng.normal(size=(300, F)).astype(np.float32)
        y = np.argmax(X @ rng.normal(size=(F, classes)), axis=1)
        q = Quantization.fit(X, "int16")
        params = {"max_depth": depth, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1, "verbosity": 0}
        params.update({"objective": "binary:logistic"} if classes == 2 else
                      {"objective": "multi:softmax", "num_class": classes})
        booster = xgb.train(params, xgb.DMatrix(q.features(q.rows(X)), label=y), rounds)
        tables = integer_tables(pack(parse_booster(booster)), q)
        assert xgb_family(tables, layout) == ("xgboost_int16" if layout == "table" else "xgboost_inline_int16")
        rows = q.rows(rng.normal(size=(16, F)).astype(np.float32))
        r = verify_on_avr(tables, render_sources(tables, "xl", layout), "xl", rows, measure_model_share=False)
        assert r.ok
        measured, priced = float(np.median(r.latency)), xgb_latency(tables, "avr", layout)
        assert abs(priced - measured) <= 0.10 * measured, (F, classes, depth, rounds, priced, measured)


@pytest.mark.parametrize("family", ["emlearn", "forest"])
def test_inline_tree_price_within_15_percent_of_simavr(family):
    """The tree families' price (weighted path, trees, classes) against simavr on rows like the training
    rows (the weights come from them)."""
    require_target("avr")
    import importlib.util

    if importlib.util.find_spec(family if family == "emlearn" else "sklearn") is None:
        pytest.skip(f"{family} is not installed")  # emlearn not imported here: it sets numpy.seterr(all="raise")
    from sklearn.ensemble import RandomForestClassifier

    from dwn_mcu.families import EmlearnFamily, ForestFamily
    from dwn_mcu.latency import tree_latency
    from dwn_mcu.targets.verify import verify_program

    if family == "emlearn":
        from dwn_mcu.baselines.emlearn_export import convert
    else:
        from dwn_mcu.baselines.forest_export import convert
    rng = np.random.default_rng(7)
    for F, classes, trees, depth in [(6, 2, 4, 5), (5, 3, 3, 4)]:
        X = rng.integers(-20000, 20000, size=(640, F)).astype(np.int16)
        y = np.argmax(X.astype(float) @ rng.normal(size=(F, classes)) + 8000 * rng.normal(size=(640, classes)), axis=1)
        model = convert("forest", RandomForestClassifier(trees, max_depth=depth, random_state=0).fit(X[:600], y[:600]),
                        F, classes)
        fam = (EmlearnFamily if family == "emlearn" else ForestFamily)(model)
        r = verify_program(fam.test_program(fam.render("tl"), "tl", X[600:]), "avr", X[600:], measure_model_share=False)
        assert r.ok
        measured, priced = float(np.median(r.latency)), tree_latency(model, "avr", family)
        assert abs(priced - measured) <= 0.15 * measured, (family, F, classes, priced, measured)
