"""compare and the budget-fitted DWN search: inside the budget (by the ELF), report files that hold the
printed numbers, clear errors on bad input."""

import json

import numpy as np
import pytest

pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
pytest.importorskip("torch", reason="training needs torch")

from dwn_mcu.budget_search import DWNShape, search_dwn  # noqa: E402
from dwn_mcu.cli import main  # noqa: E402
from dwn_mcu.compiler import Budget, BudgetError  # noqa: E402
from dwn_mcu.data import stratified_split  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402
from target_tools import require_target  # noqa: E402


def _split(name):
    ds = shared_dataset(name)
    X, y = ds.train_split()
    val = stratified_split(y, 0.2, seed=0)
    return ds, X[~val], y[~val], X[val], y[val]


def test_budget_search_keeps_the_model_inside_the_budget_by_the_elf():
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package (simavr)")
    from dwn_mcu.compiler import render_model_sources
    from target_tools import require_target
    from dwn_mcu.targets.verify import verify_on_target

    require_target("avr")
    ds, Xt, yt, Xv, yv = _split("pima")
    shapes = [DWNShape(6, (64,), 8), DWNShape(4, (32,), 4), DWNShape(6, (400,), 16)]
    r = search_dwn(Xt, yt, Xv, yv, 2, "nano", flash_budget=2000, shapes=shapes, max_trials=2, epochs=3, seed=0)
    # the 400-LUT shape cannot fit 2000 bytes: priced and skipped untrained
    skipped = [c for c in r.candidates if not c.trained]
    assert [c.luts for c in skipped] == [(400,)] and not skipped[0].fits
    assert r.trials == 2 and all(c.fits for c in r.candidates if c.trained)
    assert r.best.flash <= 2000
    # the model returned is the one priced: through the optimizer, in its board form for the layout
    from dwn_mcu.compiler import get_board, make_plan
    from dwn_mcu.compiler.lower import lower

    nano = get_board("nano")
    budget = Budget(r.flash_budget, r.ram_budget)  # the planner's choices (the encoder) are the budget's
    assert make_plan(r.model, nano, layout=r.layout, check_budget=False, budget=budget).model_flash == r.best.flash
    again = lower(r.model, nano, budget, layout=r.layout, check_budget=False).model  # what `build` will do to it
    assert make_plan(again, nano, layout=r.layout, check_budget=False, budget=budget).model_flash == r.best.flash
    X_test, _ = ds.test_split()
    sources = render_model_sources(r.model, "nano", "dwn_model", r.layout, budget=budget)
    res = verify_on_target(r.model, "avr", X_test[:40], sources, "dwn_model")
    assert res.ok and res.model_size.flash <= 2000


def test_budget_search_impossible_budget_is_a_clear_error():
    _, Xt, yt, Xv, yv = _split("pima")
    with pytest.raises(BudgetError, match="no DWN shape fits 100 bytes"):
        search_dwn(Xt, yt, Xv, yv, 2, "nano", flash_budget=100, max_trials=1, epochs=1)


def test_compare_cli_writes_the_report_it_prints(tmp_path, capsys):
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package (simavr)")
    shared_dataset("wisconsin")
    out = tmp_path / "compare"
    code = main(["compare", "--dataset", "wisconsin", "--board", "nano", "--budgets", "2048", "--dwn-trials", "1",
                 "--epochs", "3", "--xgb-trials", "3", "-o", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    assert (out / "accuracy_vs_flash.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chosen model is the fastest (priced) within one binomial standard error of the most accurate" in md
    (row,) = report["rows"]
    assert row["budget"] == 2048 and {"DWN", "XGBoost"} <= {e["family"] for e in row["entries"]}  # + emlearn
    for e in row["entries"]:
        em = e["emulator"]
        assert em["agree"] == em["vectors"] == report["test_rows"]
        assert em["flash"] <= 2048 and e["planned_flash"] <= e["planning_budget"] <= 2048
        line = next(ln for ln in printed.splitlines() if ln.split("|")[2:3] == [f" {e['family']} "])
        assert f"{100 * e['test_accuracy']:.2f}%" in line and f"| {em['flash']} |" in line
        assert f"{em['cycles']['median']:,.0f}" in line
        assert line in md  # the report holds the printed table
    accs = {e["family"]: e["test_accuracy"] for e in row["entries"]}
    assert row["winner"].split()[0] in accs
    if sorted(accs.values())[-1] != sorted(accs.values())[-2]:
        assert row["winner"] == max(accs, key=accs.get)


def test_compare_bad_inputs_are_one_line_errors(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    one = tmp_path / "one.csv"
    one.write_text("a,b,label\n" + "".join(f"{i},{i % 3},x\n" for i in range(40)))
    cases = [
        (["--data", str(csv), "--target", "nope"], "no column named 'nope'"),
        (["--data", str(one), "--target", "label"], "single class"),
        (["--data", str(csv), "--target", "label", "--budgets", "64"], "no DWN shape fits 64 bytes"),
        (["--data", str(csv), "--target", "label", "--budgets", "999999"], "exceeds what"),
    ]
    for args, message in cases:
        code = main(["compare", *args, "--board", "nano", "--no-emulate", "--quiet", "--epochs", "1",
                     "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (args, err)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_train_cli_fits_the_board_budget(tmp_path, capsys):
    shared_dataset("pima")
    from dwn_mcu.compiler import budget_for, get_board, make_plan
    from dwn_mcu.model_file import load

    out = tmp_path / "m.dwn"
    code = main(["train", "--dataset", "pima", "--board", "nano", "--flash-budget", "1800", "--trials", "1",
                 "--epochs", "2", "-o", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    model = load(out)
    layout = model.metadata["layout"]
    nano = get_board("nano")
    # planned under the same budget (the encoder keeps its thresholds in a table where constants do not fit)
    assert make_plan(model, nano, layout=layout, budget=budget_for(nano, flash=1800)).model_flash <= 1800
    # every candidate listed: the one trained, and the shapes that fit by their estimate but were not trained
    assert "(chosen)" in printed and "| no | yes |" in printed
    # `build` without budget flags builds for the budget the model was trained for, in the search's layout
    assert main(["build", str(out), "--board", "nano", "-o", str(tmp_path / "proj")]) == 0
    report = json.loads((tmp_path / "proj" / "dwn_report.json").read_text())
    assert report["budget"] == {"flash": 1800, "ram": model.metadata["ram_budget"]}
    assert report["layout"] == layout and report["flash"]["model"] <= 1800


def test_budget_search_keeps_an_incumbent_and_prices_it_for_the_new_budget():
    ds, Xt, yt, Xv, yv = _split("pima")
    small = search_dwn(Xt, yt, Xv, yv, 2, "nano", flash_budget=2000, shapes=[DWNShape(6, (20,), 32)],
                       max_trials=1, epochs=3, seed=0)
    assert small.layout == "table"
    # no trials at the larger budget: the incumbent is the only candidate, now in the faster unrolled layout
    big = search_dwn(Xt, yt, Xv, yv, 2, "nano", flash_budget=20000, shapes=[DWNShape(6, (20,), 32)],
                     max_trials=0, seed=0, incumbents=[(small.shape, small.model)])
    assert big.trials == 0 and big.best.val_accuracy == small.best.val_accuracy
    assert big.layout == "unrolled" and big.shape == small.shape
    X_test, _ = ds.test_split()
    assert np.array_equal(big.model.predict(X_test), small.model.predict(X_test))


def test_compare_report_replaces_the_old_one_only_when_complete(tmp_path, monkeypatch):
    from dwn_mcu import compare as cmp

    out = tmp_path / "cmp"
    out.mkdir()
    (out / "report.md").write_text("old")
    (out / "report.json").write_text("{}")  # a folder compare wrote: --force may replace it

    def broken(report):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(cmp, "_plot", broken)
    monkeypatch.setattr(cmp, "_markdown", lambda report: "new")
    with pytest.raises(RuntimeError, match="plot failed"):
        cmp._write({"rows": []}, out, True)
    assert (out / "report.md").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["cmp"]
    monkeypatch.setattr(cmp, "_plot", lambda report: b"png")
    cmp._write({"rows": []}, out, True)
    assert (out / "report.md").read_text() == "new" and (out / "accuracy_vs_flash.png").read_bytes() == b"png"


def test_compare_holds_both_families_to_the_latency_budget_and_shows_both_choices(tmp_path, capsys):
    pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
    shared_dataset("wisconsin")
    out = tmp_path / "cmp"
    code = main(["compare", "--dataset", "wisconsin", "--board", "nano", "--budgets", "2048", "--dwn-trials", "2",
                 "--epochs", "2", "--xgb-trials", "4", "--no-emulate", "--latency-budget", "400us", "-o", str(out),
                 "--quiet", "--families", "dwn,xgboost"])  # the tree families: tests/test_forest.py
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["latency_budget"] == 6400 and report["latency_unit"] == "cycles"  # 400 us at 16 MHz
    for e in report["rows"][0]["entries"]:
        assert e["priced_latency"] <= 6400 and e["most_accurate"]["priced_latency"] <= 6400
        assert e["most_accurate"]["val_accuracy"] == e["val_accuracy"]  # under a latency budget: the most accurate
    md = (out / "report.md").read_text()
    assert "Latency budget: 6,400 cycles per inference (priced)" in md and "| most accurate |" in md
    assert "chosen model is the most accurate on the validation rows, all within the latency budget" in md


def test_compare_on_a_board_without_xgboost_measurements_is_refused_before_the_search(tmp_path, capsys):
    shared_dataset("wisconsin")
    code = main(["compare", "--dataset", "wisconsin", "--board", "esp32", "--budgets", "8kb", "--quiet",
                 "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "XGBoost's code size on xtensa" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_compare_on_a_cortex_m0plus_board_counts_qemu_instructions(tmp_path):
    pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")
    require_target("cortex-m0plus")
    shared_dataset("wisconsin")
    out = tmp_path / "pico"
    assert main(["compare", "--dataset", "wisconsin", "--board", "pico", "--budgets", "4kb", "--dwn-trials", "1",
                 "--epochs", "2", "--xgb-trials", "2", "-o", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["latency_unit"] == "instructions"
    for e in report["rows"][0]["entries"]:
        em = e["emulator"]
        assert em["unit"] == "instructions" and em["agree"] == em["vectors"] == report["test_rows"]
        assert em["flash"] <= 4096 and em["cycles"]["median"] > 0
    md = (out / "report.md").read_text()
    assert "instructions executed, counted by QEMU (not cycles)" in md and "| instructions/inference |" in md
