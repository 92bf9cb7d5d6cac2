"""Our own inline forest C (`baselines.forest_export`): exact against its integer reference on the host
(strict and sanitizer builds), in simavr and on a QEMU Cortex-M3, on every row; the reference agrees
with scikit-learn where it must (a single binary tree), the plan holds the chip, the search fits."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is the optional extra dwn-mcu[forest]")

from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from dwn_mcu.baselines import BaselineError  # noqa: E402
from dwn_mcu.baselines.emlearn_host import host_predict  # noqa: E402
from dwn_mcu.baselines.emlearn_train import train_emlearn  # noqa: E402
from dwn_mcu.baselines.forest_export import LEAF_SCALE, convert, render_sources  # noqa: E402
from dwn_mcu.baselines.forest_plan import plan_forest, planned_flash  # noqa: E402
from dwn_mcu.families import ForestFamily  # noqa: E402
from target_tools import require_target  # noqa: E402

NAME = "fm"


def _problem(classes, seed=0, n=500, F=6):
    rng = np.random.default_rng(seed)
    X = rng.integers(-30000, 30000, size=(n, F)).astype(np.int16)
    y = np.argmax(X.astype(np.float64) @ rng.normal(size=(F, classes)) + 9000 * rng.normal(size=(n, classes)), axis=1)
    Xt = rng.integers(-32768, 32768, size=(200, F)).astype(np.int16)
    Xt[:4] = [[-32768] * F, [32767] * F, [0] * F, [-1] * F]  # the int16 ends, and around 0
    return X, y, Xt


def _model(kind, classes, seed=0):
    X, y, Xt = _problem(classes, seed)
    est = {"tree": DecisionTreeClassifier(max_depth=7, random_state=seed),
           "forest": RandomForestClassifier(6, max_depth=5, random_state=seed),
           "extra": ExtraTreesClassifier(5, max_depth=4, random_state=seed)}[kind].fit(X, y)
    return convert(kind, est, X.shape[1], classes), X, Xt


CASES = [(k, c) for k in ("tree", "forest", "extra") for c in (2, 4)]


@pytest.mark.parametrize("kind,classes", CASES)
def test_host_c_is_exactly_the_reference(kind, classes):
    model, X, Xt = _model(kind, classes)
    rows = np.concatenate([Xt, X[:100]])
    sources = render_sources(model, NAME)
    for build in ("strict", "sanitize"):
        c, s = host_predict(sources, rows, NAME, classes, build)
        assert np.array_equal(c, model.predict(rows)) and np.array_equal(s, model.scores(rows)), build
    assert np.all(model.scores(rows).sum(axis=1) <= model.num_trees * LEAF_SCALE + model.num_trees * classes)


def test_reference_is_scikit_learns_where_it_can_be_and_close_elsewhere():
    model, X, Xt = _model("tree", 2)  # one binary tree: exactly scikit-learn's class (halves round down)
    assert np.array_equal(model.predict(np.concatenate([X, Xt])), model.sklearn_predict(np.concatenate([X, Xt])))
    for kind, classes in CASES:  # forests: the rounding of a leaf's weights moves only near ties
        model, X, Xt = _model(kind, classes)
        assert np.mean(model.predict(Xt) == model.sklearn_predict(Xt)) >= 0.97, (kind, classes)


def test_a_tie_goes_to_the_lowest_class_as_in_scikit_learn():
    X = np.array([[0], [0], [1], [1]], np.int16)
    est = DecisionTreeClassifier(max_depth=1).fit(X, [0, 1, 0, 1])  # every leaf at p = 0.5
    model = convert("tree", est, 1, 2)
    assert model.predict(X).tolist() == est.predict(X).tolist() == [0, 0, 0, 0]
    c, _ = host_predict(render_sources(model, NAME), X, NAME, 2, "strict")
    assert c.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("target,board", [("avr", "nano"), ("cortex-m3", "bluepill")])
@pytest.mark.parametrize("classes", [2, 4])
def test_emulated_firmware_agrees_on_every_row_and_the_plan_holds_it(target, board, classes):
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package")
    from dwn_mcu.targets.verify import verify_program

    require_target(target)
    model, _, Xt = _model("forest", classes)
    fam = ForestFamily(model)
    r = verify_program(fam.test_program(fam.render(NAME), NAME, Xt), target, Xt)
    assert r.ok and r.vectors == len(Xt), r.first_mismatch
    plan = plan_forest(model, board)
    assert r.model_size.flash <= plan.model_flash and r.model_size.ram == 0  # weights in flash
    assert r.stack_measured <= plan.model_ram


def test_search_fits_the_budget_and_scores_what_the_c_computes():
    X, y, Xt = _problem(3, seed=1)
    res = train_emlearn(X[:400], y[:400], X[400:], y[400:], 3, 1500, planned_flash("nano"), max_trials=5,
                        convert_fn=convert, what="forest")
    assert res.best.fits and res.best.size_bytes <= 1500
    assert res.best.val_accuracy == float(np.mean(res.model.predict(X[400:]) == y[400:]))
    assert all(c.size_bytes > 1500 for c in res.candidates if not c.fits)
    with pytest.raises(BaselineError, match="no forest model fits in 10 bytes"):
        train_emlearn(X[:400], y[:400], X[400:], y[400:], 3, 10, planned_flash("nano"), max_trials=1,
                      convert_fn=convert, what="forest")


def test_bad_inputs_are_clear_errors():
    model, _, _ = _model("tree", 2)
    with pytest.raises(BaselineError, match="C identifier"):
        render_sources(model, "bad-name")
    with pytest.raises(BaselineError, match="unknown forest kind"):
        convert("boosted", model.estimator, 6, 2)
    with pytest.raises(BaselineError, match="int16 features"):
        model.predict(np.zeros((2, 5)))


def test_rendering_is_deterministic_and_has_no_malloc():
    a = render_sources(_model("forest", 4)[0], NAME)
    assert a == render_sources(_model("forest", 4)[0], NAME)
    assert "malloc" not in a[f"{NAME}.c"] and "PROGMEM" in a[f"{NAME}.c"]
    b = render_sources(_model("forest", 2)[0], NAME)
    assert "PROGMEM" not in b[f"{NAME}.c"]  # binary: the weights are immediates


def test_compare_runs_forest_beside_emlearn_both_held_to_a_latency_budget(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("emlearn") is None:  # not imported here: its import sets numpy.seterr(all="raise")
        pytest.skip("emlearn is the optional extra dwn-mcu[emlearn]")
    pytest.importorskip("dwn_mcu.targets.verify", reason="needs the targets package (simavr)")
    import json

    from dwn_mcu.cli import main
    from tests.conftest import shared_dataset

    shared_dataset("wisconsin")
    out = tmp_path / "cmp"
    code = main(["compare", "--dataset", "wisconsin", "--board", "nano", "--budgets", "2048", "--families",
                 "forest,emlearn", "--emlearn-trials", "3", "--latency-budget", "600", "-o", str(out), "--quiet"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["families"] == ["emlearn", "forest"]  # in the registry's order
    printed = capsys.readouterr().out
    for e in report["rows"][0]["entries"]:
        assert e["priced_latency"] <= 600 and e["most_accurate"]["priced_latency"] <= 600
        em = e["emulator"]
        assert em["agree"] == em["vectors"] == report["test_rows"] and em["flash"] <= 2048
        assert all(p["agree"] == p["vectors"] for p in e["proofs"].values()) and "host sanitize" in e["proofs"]
        assert f"| 2048 | {e['family']} | {e['shape']} |" in printed
    assert (out / "accuracy_vs_latency_2048.png").read_bytes()[:4] == b"\x89PNG"
