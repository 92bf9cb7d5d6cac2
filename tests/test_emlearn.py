"""The emlearn baseline family: its C (emlearn's inline trees behind the DWN API) computes emlearn's own
host predict on every row, on the host (strict and sanitizer builds), in simavr and on a QEMU Cortex-M;
its price, its budget-fitted search, compare with --families, and one-line errors."""

import importlib.util
import json

import numpy as np
import pytest

if importlib.util.find_spec("emlearn") is None:  # not importorskip: importing emlearn alters numpy's state
    pytest.skip("emlearn is the optional extra dwn-mcu[emlearn]", allow_module_level=True)
pytest.importorskip("sklearn", reason="emlearn's models come from scikit-learn")

from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from dwn_mcu import compare as compare_mod  # noqa: E402
from dwn_mcu.baselines import BaselineError  # noqa: E402
from dwn_mcu.baselines.emlearn_export import convert, render_sources  # noqa: E402
from dwn_mcu.baselines.emlearn_host import host_predict  # noqa: E402
from dwn_mcu.baselines.emlearn_plan import plan_emlearn  # noqa: E402
from dwn_mcu.baselines.emlearn_train import train_emlearn  # noqa: E402
from dwn_mcu.cli import main  # noqa: E402
from dwn_mcu.compiler import BudgetError  # noqa: E402
from dwn_mcu.data import stratified_split  # noqa: E402
from dwn_mcu.families import EmlearnFamily  # noqa: E402
from dwn_mcu.integer_inputs import fit_quantization, quantize  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402

NAME = "eml_model"


@pytest.fixture(scope="module")
def segment():
    """segment (7 classes, 19 features) as int16 rows, quantized as compare does."""
    ds = shared_dataset("segment")
    X, y = ds.train_split()
    Xt, yt = ds.test_split()
    val = stratified_split(y, 0.2, seed=0)
    scale, offset = fit_quantization(X[~val], "int16")
    q = lambda A: quantize(A, "int16", scale, offset)  # noqa: E731
    return q(X[~val]), y[~val], q(X[val]), y[val], q(Xt), yt, ds.num_classes


def _models(seg):
    Xtr, ytr, *_, C = seg
    F = Xtr.shape[1]
    return [convert("tree", DecisionTreeClassifier(max_depth=8, random_state=0).fit(Xtr, ytr), F, C),
            convert("forest", RandomForestClassifier(5, max_depth=5, random_state=0).fit(Xtr, ytr), F, C),
            convert("extra", ExtraTreesClassifier(4, max_depth=6, random_state=0).fit(Xtr, ytr), F, C)]


def test_host_c_computes_emlearns_predict_on_every_row(segment, tmp_path, monkeypatch):
    Xt = segment[4]
    monkeypatch.chdir(tmp_path)
    for model in _models(segment):
        sources = render_sources(model, NAME)
        ref = model.predict(Xt)
        for build in ("strict", "sanitize"):
            classes, scores = host_predict(sources, Xt, NAME, model.num_classes, build)
            assert np.array_equal(classes, ref), (model.kind, build)
            assert np.array_equal(scores, np.eye(model.num_classes, dtype=np.int64)[ref])  # one-hot
    assert list(tmp_path.iterdir()) == []  # emlearn's predict builds its C in a private folder, not here
    # emlearn's forest votes one class per tree; scikit-learn averages: they may differ, the C is emlearn's
    forest = _models(segment)[1]
    assert set(forest.predict(Xt)) <= set(range(forest.num_classes))


@pytest.mark.parametrize("target", ["avr", "cortex-m3"])
def test_firmware_agrees_with_emlearn_on_every_test_row(segment, target):
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package")
    from dwn_mcu.targets.toolchains import get_target, missing_tools
    from dwn_mcu.targets.verify import verify_program

    if missing_tools(get_target(target)):
        pytest.skip(f"{target} toolchain not installed")
    Xt = segment[4][:300]
    model = _models(segment)[1]
    fam = EmlearnFamily(model)
    r = verify_program(fam.test_program(fam.render(NAME), NAME, Xt), target, Xt)
    assert r.ok and r.vectors == 300, r.first_mismatch
    assert r.model_size.ram == 0 and r.model_data_symbols == {}  # thresholds are immediates: no tables
    plan = plan_emlearn(model, "nano")
    assert 0 < r.model_size.flash and r.latency_summary()["median"] > 0
    if target == "avr":  # the object's price is within 20% of the linked firmware's share
        assert abs(plan.model_flash - r.model_size.flash) <= 0.2 * r.model_size.flash, (plan.flash, r.model_size)


def test_plan_holds_the_model_to_the_budget(segment):
    model = _models(segment)[0]
    plan = plan_emlearn(model, "nano")
    assert plan.model_flash == plan.flash["code"] > 0 and plan.flash["sketch"] > 0
    with pytest.raises(BudgetError, match="model flash .* > budget 100 bytes"):
        plan_emlearn(model, "nano", flash_budget=100)


def test_search_fits_the_budget_and_picks_by_what_the_c_computes(segment):
    Xtr, ytr, Xv, yv, *_, C = segment
    size = lambda m: plan_emlearn(m, "nano").model_flash  # noqa: E731
    res = train_emlearn(Xtr, ytr, Xv, yv, C, 2048, size, max_trials=6, seed=0)
    fitting = [c for c in res.candidates if c.fits]
    assert {c.kind for c in res.candidates} == {"tree", "forest", "extra"}
    assert res.best.size_bytes <= 2048 and size(res.model) == res.best.size_bytes
    assert res.best.val_accuracy == max(c.val_accuracy for c in fitting)
    assert res.best.val_accuracy == float(np.mean(res.model.predict(Xv) == yv))
    assert any(not c.fits for c in res.candidates if c.kind != "tree")  # forests grown until they overflow
    again = train_emlearn(Xtr, ytr, Xv, yv, C, 2048, size, max_trials=6, seed=0)
    assert again.best == res.best  # deterministic
    with pytest.raises(BaselineError, match="no emlearn model fits in 50 bytes"):
        train_emlearn(Xtr, ytr, Xv, yv, C, 50, size, max_trials=2)


def test_bad_models_are_one_line_errors(segment):
    Xtr, ytr, *_, C = segment
    F = Xtr.shape[1]
    with pytest.raises(BaselineError, match="emlearn cannot convert the tree .GradientBoostingClassifier.") as e:
        convert("tree", GradientBoostingClassifier(n_estimators=1).fit(Xtr[:200], ytr[:200] % 2), F, 2)
    assert "\n" not in str(e.value)
    with pytest.raises(BaselineError, match="fitted on classes 0..6"):
        convert("tree", DecisionTreeClassifier(max_depth=2).fit(Xtr, ytr + 1), F, C)
    model = _models(segment)[0]
    for hostile in ("x; system(1)", "a\nb", "int", "9lives"):
        with pytest.raises(BaselineError, match="not a C identifier"):
            render_sources(model, hostile)


def test_importing_emlearn_leaves_numpys_error_state_alone():
    import subprocess
    import sys

    code = ("import numpy as np; before = np.geterr(); from dwn_mcu.baselines.emlearn_export import _emlearn; "
            "_emlearn(); assert np.geterr() == before, np.geterr()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_single_leaf_tree_builds_and_runs(segment):
    X = np.zeros((20, 3), np.int64)
    y = np.arange(20) % 2
    model = convert("tree", DecisionTreeClassifier().fit(X, y), 3, 2)
    classes, _ = host_predict(render_sources(model, NAME), X, NAME, 2, "strict")
    assert np.array_equal(classes, model.predict(X))


def test_family_names_are_checked(monkeypatch):
    with pytest.raises(Exception, match="unknown family 'forestt'"):
        compare_mod.select_families(["dwn", "forestt"])
    import importlib.util

    orig = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "emlearn" else orig(n, *a))
    with pytest.raises(Exception, match=r"family emlearn is not installed: pip install 'dwn-mcu\[emlearn\]'"):
        compare_mod.select_families(["emlearn"])
    names, notes = compare_mod.select_families(None)
    assert "emlearn" not in names and notes == ["emlearn skipped: not installed (pip install 'dwn-mcu[emlearn]')"]


def test_compare_cli_family_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import importlib.util

    orig = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "emlearn" else orig(n, *a))
    for families, message in (("dwn,nope", "unknown family 'nope' (families: dwn, xgboost, emlearn, forest)"),
                              ("emlearn", "family emlearn is not installed: pip install 'dwn-mcu[emlearn]'")):
        code = main(["compare", "--dataset", "phoneme", "--board", "nano", "--families", families,
                     "-o", str(tmp_path / "out"), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_compare_emlearn_only_reports_rows_verdict_and_plots(tmp_path, capsys):
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package (simavr)")
    shared_dataset("wisconsin")
    out = tmp_path / "cmp"
    code = main(["compare", "--dataset", "wisconsin", "--board", "nano", "--budgets", "1024", "2048",
                 "--families", "emlearn", "--emlearn-trials", "4", "-o", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["families"] == ["emlearn"] and [r["budget"] for r in report["rows"]] == [1024, 2048]
    for row in report["rows"]:
        (e,) = row["entries"]
        em = e["emulator"]
        assert em["agree"] == em["vectors"] == report["test_rows"] and em["flash"] <= row["budget"]
        assert em["ram"] == 0 and 0 <= e["sklearn_test_accuracy"] <= 1
        from dwn_mcu.targets.toolchains import get_target, missing_tools

        assert {"host strict", "host sanitize"} <= set(e["proofs"])
        assert "cortex-m3" in e["proofs"] or missing_tools(get_target("cortex-m3"))
        assert all(p["agree"] == p["vectors"] == report["test_rows"] for p in e["proofs"].values())
        assert f"| {row['budget']} | emlearn | {e['shape']} | {100 * e['test_accuracy']:.2f}% |" in printed
    v = report["verdict"][1]  # at 2048 B the pool holds both budgets' picks
    best = max((r["entries"][0] for r in report["rows"]), key=lambda e: (e["test_accuracy"],
                                                                          -e["emulator"]["cycles"]["median"]))
    assert v["best"]["test_accuracy"] == best["test_accuracy"] and v["at_latency"][0]["baseline"] == "emlearn"
    for b in (1024, 2048):
        assert (out / f"accuracy_vs_latency_{b}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "## Verdict" in md and "also proven on host strict, host sanitize" in md
