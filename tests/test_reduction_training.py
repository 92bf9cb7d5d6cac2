"""Training a DWN with a learnable reduction: torch eval == NumPy reference, file round trip, host C,
and the CLI's --reduction."""

import shutil

import numpy as np
import pytest

from dwn_mcu import DWNClassifier, load, save
from dwn_mcu.cli import main
from dwn_mcu.data import load_dataset


@pytest.fixture(scope="module")
def phoneme():
    return load_dataset("phoneme")  # bundled with the package


@pytest.fixture(scope="module")
def trained(phoneme):
    X, y = phoneme.train_split()
    clf = DWNClassifier(luts=(60, 24), bits=16, epochs=12, patience=6, seed=0, verbose=False, reduction=(6, 3))
    clf.fit(X, y, feature_names=phoneme.feature_names, class_names=phoneme.class_names)
    return clf


def test_reduction_model_freezes_saves_loads_and_equals_torch(tmp_path, phoneme, trained):
    model = trained.freeze()
    assert model.reduction_layers == 2 and model.score_bits == 3 and model.group_size == 12
    assert [layer.num_luts for layer in model.layers] == [60, 24, 12, 6]
    assert model.metadata["config"]["reduction"] == [6, 3]
    save(model, tmp_path / "m.dwn")
    back = load(tmp_path / "m.dwn")
    X_te, y_te = phoneme.test_split()
    np.testing.assert_array_equal(back.scores(X_te), trained.scores(X_te))
    np.testing.assert_array_equal(back.predict(X_te), trained.predict(X_te))
    assert trained.scores(X_te).max() > 1  # binary scores, not a single bit
    acc = float(np.mean(back.predict(X_te) == y_te))
    assert acc > 0.75, acc  # phoneme's majority class is 0.71


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
def test_trained_reduction_model_builds_and_verifies_on_host(phoneme, trained):
    from dwn_mcu.compiler import compile_host
    from dwn_mcu.compiler.host import compare

    model = trained.freeze()
    X_te, _ = phoneme.test_split()
    for layout in ("table", "unrolled"):
        with compile_host(model, layout=layout, build="strict") as host:
            classes, scores = host.run(X_te)
            result = compare(model, X_te, classes, scores, host.build)
            assert result.ok, f"{layout}: {result.mismatches} mismatches, first {result.first}"


def test_bad_reduction_parameters_are_refused():
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="at most 16"):
        DWNClassifier(reduction=(4, 17), epochs=1, verbose=False).fit(X, y)
    with pytest.raises(ValueError, match="positive per-class"):
        DWNClassifier(reduction=(), epochs=1, verbose=False).fit(X, y)


def test_cli_train_with_reduction(tmp_path, capsys):
    out = tmp_path / "r.dwn"
    code = main(["train", "--dataset", "phoneme", "--luts", "30,10", "--bits", "8", "--epochs", "2",
                 "--reduction", "2", "--quiet", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    model = load(out)
    assert model.reduction_layers == 1 and model.score_bits == 2 and model.num_classes == 2
