"""compare --engine ray: the DWN candidates come from the search engine's trials (the same trials, seeds
and metrics as `dwn-mcu search` on the same rows), chosen by `dwn_mcu.selection`, the smaller budget's
choice an incumbent at the larger (priced first); built and emulated like the in-process search's; bad engine options
are one-line errors. Ray runs as a local instance on 127.0.0.1 that each search starts and stops."""

import json
import socket

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")
pytest.importorskip("xgboost", reason="compare's CLI checks XGBoost's measurements on the board")
pytest.importorskip("torch", reason="training needs torch")

from dwn_mcu.cli import main  # noqa: E402
from dwn_mcu.compare import compare  # noqa: E402
from dwn_mcu.compiler import BudgetError  # noqa: E402
from dwn_mcu.data import Dataset  # noqa: E402
from dwn_mcu.search import engine  # noqa: E402
from dwn_mcu.search.engine import SearchConfig  # noqa: E402
from dwn_mcu.search.fit import search_dwn_on_engine  # noqa: E402
from dwn_mcu.search.records import data_digest  # noqa: E402
from dwn_mcu.search.trial import dwn_shape  # noqa: E402
from dwn_mcu.selection import choose  # noqa: E402


def tiny_dataset():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 80)
    X = (rng.normal(size=(160, 3)) + 1.5 * y[:, None]).astype(np.float32)
    return Dataset("tiny", X, y.astype(np.int64), np.arange(160) % 5 == 0, ("a", "b"), ("f0", "f1", "f2"))


def _rows():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 60)
    X = (rng.normal(size=(120, 3)) + 1.5 * y[:, None]).astype(np.float32)
    val = np.arange(120) % 5 == 0
    return X[~val], y[~val], X[val], y[val]


KW = dict(epochs=1, patience=1, seed=0, num_cpus=1)


@pytest.fixture(scope="module")
def small():
    """The engine path at 2048 bytes, four trials."""
    return search_dwn_on_engine(*_rows(), 2, "nano", 2048, 1500, max_trials=4, **KW)


def test_the_engine_path_chooses_among_the_engine_trials_by_the_selection_rule(tmp_path, small):
    Xtr, ytr, Xv, yv = _rows()
    r = small
    # the same search as `dwn-mcu search` of those rows: the same trials, seeds and metrics
    data = {"X_train": Xtr, "y_train": ytr, "X_val": Xv, "y_val": yv, "num_classes": 2}
    data["digest"] = data_digest(Xtr, ytr, Xv, yv, np.asarray([2]))
    config = SearchConfig(board="nano", flash_budget=2048, ram_budget=1500, families=("dwn",), trials=4,
                          epochs=1, patience=1, seed=0, num_cpus=1)
    records = engine.search(data, config, tmp_path / "s", "tiny")
    assert len(records) == 4 and len(r.candidates) == 4
    for rec, c in zip(records, r.candidates):
        s = dwn_shape(rec["params"], 2)
        assert (c.lut_inputs, c.luts, c.bits) == (s.lut_inputs, s.luts, s.bits)
        assert c.trained == (rec["status"] == "ok") and c.fits == rec["fits"]
        if c.trained:
            assert (c.val_accuracy, c.flash, c.ram, c.latency) == \
                (rec["val_accuracy"], rec["flash"], rec["ram"], rec["latency"])
    kept = [c for c in r.candidates if c.trained and c.fits]
    assert kept and r.trials == sum(c.trained for c in r.candidates)
    items = [(c.val_accuracy, c.latency, c.flash) for c in kept]
    assert r.best == kept[choose(items, len(yv))]
    assert r.most_accurate.val_accuracy == max(c.val_accuracy for c in kept)
    # the model returned is the chosen trial's: its validation accuracy is the record's
    assert float(np.mean(r.model.predict(Xv) == yv)) == r.best.val_accuracy
    assert r.best.flash <= 2048 and r.layout == r.model.metadata["layout"]


def test_the_engine_path_prices_an_incumbent_first_and_says_when_nothing_fits(small):
    Xtr, ytr, Xv, yv = _rows()
    kw = dict(max_trials=2, **KW)
    big = search_dwn_on_engine(Xtr, ytr, Xv, yv, 2, "nano", 8192, 1500, incumbents=[(small.shape, small.model)],
                               **kw)
    first = big.candidates[0]  # the incumbent, priced again at the larger budget, before any trial
    assert (first.lut_inputs, first.luts, first.bits) == (small.best.lut_inputs, small.best.luts, small.best.bits)
    assert first.trained and first.fits and first.seconds == 0.0 and len(big.candidates) == 3
    with pytest.raises(BudgetError, match="no trained DWN of the engine's 2 trials fits 100 bytes"):
        search_dwn_on_engine(Xtr, ytr, Xv, yv, 2, "nano", 100, 1500, **kw)


def test_compare_on_the_engine_builds_and_emulates_the_chosen_trial(tmp_path):
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package (simavr)")
    from target_tools import require_target

    require_target("avr")
    out = tmp_path / "c"
    report = compare(tiny_dataset(), "nano", [2048], out, families=["dwn"], dwn_trials=3, epochs=1, engine="ray")
    assert report["dwn_engine"] == "ray"
    assert json.loads((out / "report.json").read_text())["dwn_engine"] == "ray"
    assert "DWN candidates: the search engine's trials" in (out / "report.md").read_text()
    for row in report["rows"]:
        (e,) = row["entries"]
        em = e["emulator"]
        assert em["agree"] == em["vectors"] == 32 and em["flash"] <= row["budget"]
        chosen = [c for c in report["candidates"] if c["budget"] == row["budget"] and c["chosen"]]
        assert len(chosen) >= 1 and chosen[0]["val_accuracy"] == e["val_accuracy"]
        assert len([c for c in report["candidates"] if c["budget"] == row["budget"]]) <= 3  # the engine's trials


def _free_port() -> int:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_compare_engine_options_are_one_line_errors(tmp_path, capsys):
    out = tmp_path / "c"
    base = ["compare", "--dataset", "banana", "--board", "nano", "--no-emulate", "-o", str(out)]
    cases = [(["--address", "127.0.0.1:1"], "--address needs --engine ray"),
             (["--engine", "ray", "--address", f"127.0.0.1:{_free_port()}"], "cannot reach a Ray cluster at 127.0.0.1"),
             (["--engine", "ray", "--address", "nowhere"], "expected HOST:PORT")]
    for extra, needle in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    with pytest.raises(SystemExit):  # argparse: an engine that is not one
        main(base + ["--engine", "spark"])
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_an_xgboost_trial_prices_the_integer_form_it_is_given():
    """With a quantization an XGBoost trial prices the int16 firmware, as compare's XGBoost search does:
    its tables are `xgb_integer.integer_tables` of the booster (no uint32 keys: smaller, fewer cycles)."""
    import xgboost as xgb

    from dwn_mcu.baselines.xgb_export import pack, parse_booster
    from dwn_mcu.baselines.xgb_integer import integer_tables
    from dwn_mcu.baselines.xgb_plan import footprint
    from dwn_mcu.compiler import get_board
    from dwn_mcu.integer_inputs import Quantization
    from dwn_mcu.latency import xgb_latency
    from dwn_mcu.search.trial import run_trial

    Xtr, ytr, Xv, yv = _rows()
    q = Quantization.fit(Xtr, "int16")
    Ftr, Fv = q.features(q.rows(Xtr)), q.features(q.rows(Xv))
    spec = {"number": 0, "family": "xgboost", "seed": 3, "board": "nano", "flash_budget": 2048,
            "ram_budget": 1500, "epochs": 1, "patience": 1,
            "params": {"depth": 3, "learning_rate": 0.3, "max_bin": 32, "rounds": 4}}
    data = {"X_train": Ftr, "y_train": ytr, "X_val": Fv, "y_val": yv, "num_classes": 2}
    as_float, raw = run_trial(spec, data)
    as_int, raw_int = run_trial(spec, {**data, "quantization": q})
    assert raw == raw_int and as_int["val_accuracy"] == as_float["val_accuracy"]  # the same booster
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    tables = integer_tables(pack(parse_booster(booster)), q)
    assert not tables.is_float
    assert (as_int["flash"], as_int["latency"]) == (footprint(tables, get_board("nano")).model_flash,
                                                    xgb_latency(tables, "avr"))
    assert as_int["flash"] < as_float["flash"] and as_int["latency"] < as_float["latency"]


def test_the_engine_prices_the_integer_input_model_compare_builds(tmp_path):
    from dwn_mcu.integer_inputs import Quantization

    Xtr, ytr, Xv, yv = _rows()
    q = Quantization.fit(Xtr, "int16")
    Ftr, Fv = q.features(q.rows(Xtr)), q.features(q.rows(Xv))  # the float values the integers stand for
    r = search_dwn_on_engine(Ftr, ytr, Fv, yv, 2, "nano", 2048, 1500, max_trials=3, quantization=q, **KW)
    assert r.model.input_type == "int16" and r.trained.input_type == "float32"
    np.testing.assert_array_equal(r.model.predict(q.rows(Xv)), r.trained.predict(Fv))
    # the trials priced the int16 model: their records are the figures the chosen one was compared by
    data = {"X_train": Ftr, "y_train": ytr, "X_val": Fv, "y_val": yv, "num_classes": 2, "quantization": q}
    data["digest"] = "int16 rows"
    config = SearchConfig(board="nano", flash_budget=2048, ram_budget=1500, families=("dwn",), trials=3,
                          epochs=1, patience=1, seed=0, num_cpus=1)
    records = engine.search(data, config, tmp_path / "s", "tiny")
    trained = [c for c in r.candidates if c.trained]
    assert trained and len(trained) == sum(rec["status"] == "ok" for rec in records)
    for rec, c in zip([rec for rec in records if rec["status"] == "ok"], trained):
        assert (c.val_accuracy, c.flash, c.ram, c.latency, c.fits) == \
            (rec["val_accuracy"], rec["flash"], rec["ram"], rec["latency"], rec["fits"])
    from dwn_mcu.budget_search import _priced
    from dwn_mcu.compiler import Budget, get_board

    as_float, _, _ = _priced(r.trained, get_board("nano"), Budget(2048, 1500))
    assert as_float.plan.model_flash > r.best.flash  # the float firmware (uint32 keys) is larger
