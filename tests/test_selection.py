"""Selection that values speed (`dwn_mcu.selection`), and both searches under a latency budget: every
fitting candidate is priced within it, and the chosen one is the most accurate, for the DWN and XGBoost
alike (without a latency budget: the fastest within one standard error of the most accurate)."""

import numpy as np
import pytest

from dwn_mcu.selection import choose, most_accurate, standard_error


def test_selection_picks_the_fastest_within_one_standard_error():
    rows = 100  # best 0.90: SE 0.03, so 0.87 qualifies and 0.86 does not
    items = [(0.90, 5000, 900), (0.87, 3000, 800), (0.86, 1000, 500), (0.89, 4000, 700)]
    assert standard_error(0.90, rows) == pytest.approx(0.03)
    assert most_accurate(items) == 0 and choose(items, rows) == 1
    assert choose(items, 10000) == 0  # many rows: a tight error, only the best qualifies
    assert choose([(0.9, None, 900), (0.89, None, 100)], rows) == 0  # unpriced: accuracy alone
    assert choose([(0.8, 1000, 900), (0.8, 1000, 100)], rows) == 1  # equal speed and accuracy: the smaller
    assert choose(items, rows, latency_budget=5000) == 0  # a latency budget the user set: the most accurate


def _rows(seed=0, n=300, F=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, F)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] > 0).astype(np.int64)
    return X[:200], y[:200], X[200:], y[200:]


def _check_rule(candidates, chosen, leader, latency_budget):
    """`chosen` is the rule's pick among the fitting candidates, the most accurate, and all of them are
    within the budget."""
    assert all(c.latency is not None and c.latency <= latency_budget for c in candidates)
    assert leader.val_accuracy == max(c.val_accuracy for c in candidates) and chosen == leader


def test_xgboost_search_holds_the_latency_budget_and_picks_the_most_accurate():
    pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
    from dwn_mcu.baselines.xgb_plan import planned_flash
    from dwn_mcu.baselines.xgb_train import train_xgboost
    from dwn_mcu.latency import xgb_latency

    Xt, yt, Xv, yv = _rows()
    price = lambda t: xgb_latency(t, "avr")  # noqa: E731
    free = train_xgboost(Xt, yt, Xv, yv, 2, 4000, size_fn=planned_flash("nano"), latency_fn=price, max_trials=6)
    budget = int(np.median([c.latency for c in free.candidates if c.fits]))
    r = train_xgboost(Xt, yt, Xv, yv, 2, 4000, size_fn=planned_flash("nano"), latency_fn=price,
                      latency_budget=budget, max_trials=6)
    fitting = [c for c in r.candidates if c.fits]
    assert len(fitting) < len([c for c in free.candidates if c.fits])  # the budget removed some
    _check_rule(fitting, r.best, r.most_accurate, budget)
    assert price(r.tables) == r.best.latency  # the exported model is the one priced


def test_dwn_search_holds_the_latency_budget():
    pytest.importorskip("torch")
    from dwn_mcu.budget_search import DWNShape, search_dwn

    Xt, yt, Xv, yv = _rows(1)
    shapes = [DWNShape(6, (60,), 16), DWNShape(4, (10,), 8), DWNShape(6, (16,), 8)]
    r = search_dwn(Xt, yt, Xv, yv, 2, "nano", shapes=shapes, epochs=2, seed=0, latency_budget=1500)
    trained = [c for c in r.candidates if c.trained]
    assert trained and all(c.fits == (c.latency <= 1500) for c in trained)
    assert any(not c.fits for c in r.candidates)  # the 60-LUT shape is priced over 1500 cycles (2006 with layer 1 reading the ranks)
    _check_rule([c for c in trained if c.fits], r.best, r.most_accurate, 1500)
    assert r.latency_budget == 1500 and r.best.latency <= 1500
