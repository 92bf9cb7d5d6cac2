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
