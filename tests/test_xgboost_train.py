"""The budget-fitted XGBoost search: inside the budget, every candidate recorded, seeded, clear errors."""

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")

from dwn_mcu.baselines import BaselineError  # noqa: E402
from dwn_mcu.baselines.xgb_export import pack, parse_booster  # noqa: E402
from dwn_mcu.baselines.xgb_train import train_xgboost  # noqa: E402
from dwn_mcu.data import stratified_split  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402


def _split(name):
    ds = shared_dataset(name)
    X, y = ds.train_split()
    val = stratified_split(y, 0.2, seed=0)
    return ds, X[~val], y[~val], X[val], y[val]


@pytest.fixture(scope="module")
def banana_search():
    ds, Xt, yt, Xv, yv = _split("banana")
    kwargs = dict(depths=(2, 4), learning_rates=(0.3, 1.0), max_bins=(16, 256), max_trials=6, seed=0)
    return (ds, Xv, yv, kwargs, train_xgboost(Xt, yt, Xv, yv, 2, 1500, **kwargs),
            train_xgboost(Xt, yt, Xv, yv, 2, 1500, **kwargs))


def test_best_fits_and_is_the_best_recorded_candidate(banana_search):
    ds, Xv, yv, _, result, _ = banana_search
    assert result.trials == 6
    assert result.best.fits and result.best.size_bytes <= 1500
    assert result.tables.table_bytes == result.best.table_bytes <= 1500
    fitting = [c for c in result.candidates if c.fits]
    assert all(c.size_bytes <= 1500 for c in fitting)
    assert all(c.size_bytes > 1500 for c in result.candidates if not c.fits)
    assert result.best.val_accuracy == max(c.val_accuracy for c in fitting)
    # the chosen booster really has that many rounds, that accuracy and that size
    assert result.booster.num_boosted_rounds() == result.best.rounds
    acc = np.mean((result.booster.predict(xgb.DMatrix(Xv)) > 0.5) == yv)
    assert acc == pytest.approx(result.best.val_accuracy)
    assert pack(parse_booster(result.booster)).table_bytes == result.best.table_bytes
    assert result.best.val_accuracy > 0.85  # banana is easy for trees; a weak search would not get here


def test_search_is_deterministic(banana_search):
    *_, a, b = banana_search
    assert a.table() == b.table()
    assert bytes(a.booster.save_raw("json")) == bytes(b.booster.save_raw("json"))


def test_custom_size_function_is_the_budget_rule(banana_search):
    ds, Xv, yv, kwargs, result, _ = banana_search
    _, Xt, yt, Xv, yv = _split("banana")
    overhead = 700
    r = train_xgboost(Xt, yt, Xv, yv, 2, 1500, size_fn=lambda t: t.table_bytes + overhead, **kwargs)
    assert r.best.size_bytes == r.best.table_bytes + overhead <= 1500
    assert r.best.table_bytes <= 1500 - overhead


def test_multiclass_search_fits():
    ds, Xt, yt, Xv, yv = _split("segment")
    r = train_xgboost(Xt, yt, Xv, yv, ds.num_classes, 2048, depths=(2, 3), learning_rates=(0.5,),
                      max_bins=(16,), max_trials=2)
    assert r.best.size_bytes <= 2048 and r.best.trees == 7 * r.best.rounds
    assert r.best.val_accuracy > 0.8


def test_impossible_budget_and_one_class_are_clear_errors():
    _, Xt, yt, Xv, yv = _split("banana")
    with pytest.raises(BaselineError, match="no XGBoost model fits in 8 bytes"):
        train_xgboost(Xt, yt, Xv, yv, 2, 8, depths=(1,), learning_rates=(0.3,), max_bins=(16,))
    with pytest.raises(BaselineError, match="two classes"):
        train_xgboost(Xt, np.zeros_like(yt), Xv, yv, 2, 1000)
    # under a latency budget the error says what the fastest model tried is priced, the binding budget
    with pytest.raises(BaselineError, match=r"within 50 \(priced latency\): the smallest tried takes \d+ bytes, "
                                            r"the fastest 120 priced$"):
        train_xgboost(Xt, yt, Xv, yv, 2, 100_000, depths=(1, 2), learning_rates=(0.3,), max_bins=(16,),
                      latency_fn=lambda tables: 100 + 20 * tables.num_trees, latency_budget=50)
