"""The budget search's shape list (no training): each family's largest width that fits, its halves, and
the order they are trained in."""

from dwn_mcu.budget_search import MAX_LUTS, DWNShape, default_shapes, estimate, family_shapes


def test_family_shapes_finds_the_largest_width_that_fits_then_halves():
    fits = lambda s: sum(s.luts) <= 100  # noqa: E731
    assert [s.luts for s in family_shapes(6, 16, 1, 3, fits)] == [(99,), (48,), (24,), (12,)]
    assert [s.luts for s in family_shapes(6, 16, 2, 3, fits)] == [(66, 33), (30, 15), (12, 6), (6, 3)]
    assert family_shapes(4, 8, 1, 7, lambda s: sum(s.luts) <= 14) == [DWNShape(4, (14,), 8), DWNShape(4, (7,), 8)]
    assert family_shapes(6, 16, 1, 3, lambda s: False) == []
    assert family_shapes(6, 16, 1, 10, lambda s: True)[0].luts == (MAX_LUTS // 10 * 10,)


def test_default_shapes_fit_and_are_the_largest_that_do():
    F, C, flash, ram = 5, 2, 2048, 1828
    shapes = default_shapes(F, C, "nano", flash, ram)
    assert shapes and all(estimate(s, F, C, "nano", flash, ram)[3] for s in shapes)
    # the first shapes are every one-layer family at its largest fit: one class more of LUTs does not fit
    firsts = shapes[:4]
    assert {(s.lut_inputs, s.bits) for s in firsts} == {(n, b) for n in (6, 4) for b in (64, 32)}
    for s in firsts:
        wider = DWNShape(s.lut_inputs, (s.luts[0] + C,), s.bits)
        assert len(s.luts) == 1 and not estimate(wider, F, C, "nano", flash, ram)[3]
    # two-layer shapes come after the one-layer families' halves
    first_two = next(i for i, s in enumerate(shapes) if len(s.luts) == 2)
    assert first_two >= 8 and len(set(shapes)) == len(shapes)


def test_a_tight_ram_budget_prices_the_plain_table_loop():
    # 160 input bits: on the Nano the table layout's AVR fast path spreads them into 160 bytes of RAM; a RAM
    # budget below that must get the plain loop (what the planner falls back to), not a rejection.
    s = DWNShape(6, (64,), 32)
    layout, _, ram, fits = estimate(s, 5, 2, "nano", 2300, 1828)
    assert layout == "table" and fits and ram > 160
    layout, _, ram, fits = estimate(s, 5, 2, "nano", 2300, 120)
    assert layout == "table" and fits and ram <= 120


def test_none_fits_names_the_limit_that_excludes_the_smallest_shape():
    import re

    import pytest

    from dwn_mcu.budget_search import _order
    from dwn_mcu.compiler import BudgetError, get_board

    board = get_board("nano")
    with pytest.raises(BudgetError) as err:  # ample flash, a latency no DWN meets
        _order(None, 5, 2, board, 30000, 1828, "float16", [], latency_budget=5)
    need = re.search(r"needs (.*)\)$", str(err.value)).group(1)
    assert re.fullmatch(r"\d+ cycles", need), str(err.value)
    with pytest.raises(BudgetError) as err:  # no latency budget, too little flash
        _order(None, 5, 2, board, 64, 1828, "float16", [])
    assert re.search(r"needs \d+ bytes of flash\)$", str(err.value)), str(err.value)
    with pytest.raises(BudgetError, match=r"the smallest, 8 LUTs .* needs \d+ bytes of flash\)$"):  # shapes given
        _order([DWNShape(6, (8,), 16), DWNShape(6, (64,), 16)], 5, 2, board, 64, 1828, "float16", [])


def test_an_integer_input_shape_is_priced_as_the_integer_model_it_becomes():
    from dwn_mcu.budget_search import _price_forms, _stand_in
    from dwn_mcu.compiler import get_board

    s, nano = DWNShape(6, (20,), 32), get_board("nano")
    as_float, as_int = _stand_in(s, 19, 2, "float16"), _stand_in(s, 19, 2, "float16", "int16")
    assert as_int.input_type == "int16" and list(as_int.bits_per_feature) == list(as_float.bits_per_feature)
    for flash in (2048, 8192):  # no float key per feature: never slower (the planner may spend the flash saved)
        f_lat, i_lat = (_price_forms(m, nano, flash, 1828)[5] for m in (as_float, as_int))
        assert i_lat <= f_lat if flash == 8192 else i_lat < 0.9 * f_lat, (flash, f_lat, i_lat)
    assert estimate(s, 19, 2, nano, 2048, 1828, input_type="int16")[3]


def test_a_search_on_integer_inputs_returns_the_integer_model_equal_to_the_float_one():
    import numpy as np

    from dwn_mcu.budget_search import search_dwn
    from dwn_mcu.integer_inputs import Quantization

    rng = np.random.default_rng(3)
    X = rng.normal(size=(240, 4)) * [1.0, 50.0, 0.01, 3.0]
    y = (X[:, 0] + X[:, 1] / 50 > 0).astype(np.int64)
    q = Quantization.fit(X[:160], "int16")
    K = q.rows(X)
    Xf = q.features(K)
    r = search_dwn(Xf[:160], y[:160], Xf[160:], y[160:], 2, "nano", 2048, shapes=[DWNShape(4, (8,), 16)],
                   epochs=2, quantization=q)
    assert r.model.input_type == "int16" and r.trained.input_type == "float32"
    assert np.array_equal(r.model.scores(K[160:]), r.trained.scores(Xf[160:]))
    assert r.best.val_accuracy == float(np.mean(r.model.predict(K[160:]) == y[160:]))


def test_a_tight_latency_budget_fills_spare_trials_with_the_fewer_input_families():
    from dwn_mcu.budget_search import FILL_LUT_INPUTS, _order
    from dwn_mcu.compiler import get_board

    board = get_board("nano")
    roomy = _order(None, 5, 2, board, 2048, 1828, "float16", [], max_trials=12)
    assert len(roomy) >= 12 and {s.lut_inputs for s in roomy} == {6, 4}  # no trials to spare: no fill
    tight = _order(None, 5, 2, board, 2048, 1828, "float16", [], latency_budget=200, max_trials=12)
    plain = [s for s in tight if s.lut_inputs not in FILL_LUT_INPUTS]
    assert len(plain) < 12 and tight[:len(plain)] == plain  # the default families first, as before
    filled = tight[len(plain):]
    assert filled and {s.lut_inputs for s in filled} <= set(FILL_LUT_INPUTS) and len(set(tight)) == len(tight)
    assert all(estimate(s, 5, 2, board, 2048, 1828, latency_budget=200)[3] for s in tight)


def test_a_trial_takes_at_least_min_steps_optimizer_steps():
    from dwn_mcu.budget_search import MIN_STEPS, schedule

    assert schedule(441, 30, 15, 128) == (270, 135)  # 4 batches an epoch: 120 steps, times 9
    assert schedule(3458, 40, 15, 128) == (40, 15)  # 28 batches an epoch: 1,120 steps already
    for rows in (1, 100, 1000, 5000):
        epochs, patience = schedule(rows, 30, 15, 128)
        assert epochs * -(-rows // 128) >= MIN_STEPS and epochs // 30 == patience // 15
