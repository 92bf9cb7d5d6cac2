"""DWNClassifier: end-to-end training, torch eval == NumPy reference, freeze/save/load, determinism."""

import sys
import types

import numpy as np
import pytest

from dwn_mcu import DWNClassifier, FrozenDWN, load, save
from dwn_mcu.data import load_dataset


@pytest.fixture(scope="module")
def phoneme():
    return load_dataset("phoneme")  # bundled with the package


@pytest.fixture(scope="module")
def trained(phoneme):
    X, y = phoneme.train_split()
    clf = DWNClassifier(luts=(60,), bits=16, epochs=30, patience=10, seed=0, verbose=False)
    clf.fit(X, y, feature_names=phoneme.feature_names, class_names=phoneme.class_names)
    return clf


def small_problem(seed=0, n=300, classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y % classes


def test_phoneme_end_to_end_reaches_80_percent(phoneme, trained):
    X_te, y_te = phoneme.test_split()
    model = trained.freeze()
    acc = float(np.mean(model.predict(X_te) == y_te))
    assert acc >= 0.80, acc
    assert trained.score(X_te, y_te) == pytest.approx(acc)
    assert model.metadata["validation_accuracy"] == trained.validation_accuracy_
    assert model.class_names == phoneme.class_names and model.feature_names == phoneme.feature_names


def test_reference_equals_torch_eval_on_test_split(phoneme, trained):
    X_te, _ = phoneme.test_split()
    model = trained.freeze()
    np.testing.assert_array_equal(model.scores(X_te), trained.scores(X_te))
    np.testing.assert_array_equal(model.predict(X_te), trained.predict(X_te))
    # also on inputs outside the training range, NaN and infinities
    odd = np.array([[np.nan] * 5, [np.inf] * 5, [-np.inf] * 5, [1e30, -1e30, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(model.scores(odd), trained.scores(odd))


def test_freeze_save_load_round_trip(tmp_path, phoneme, trained):
    model = trained.freeze()
    path = tmp_path / "m.dwn"
    save(model, path)
    back = load(path)
    X_te, _ = phoneme.test_split()
    np.testing.assert_array_equal(back.scores(X_te), model.scores(X_te))
    np.testing.assert_array_equal(back.thresholds, model.thresholds)
    for a, b in zip(back.layers, model.layers):
        np.testing.assert_array_equal(a.mapping, b.mapping)
        np.testing.assert_array_equal(a.tables, b.tables)
    assert back.metadata["config"]["luts"] == [60]
    assert back.metadata["best_epoch"] == trained.best_epoch_


def test_early_stopping_restores_best_weights():
    X, y = small_problem(1)
    X_val, y_val = small_problem(2, n=200)
    clf = DWNClassifier(luts=(30,), lut_inputs=4, bits=8, epochs=25, patience=3, lr=0.05, seed=2, verbose=False)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    vals = [h["val_accuracy"] for h in clf.history_]
    best = int(np.argmax(vals))
    assert clf.best_epoch_ == best + 1
    assert clf.validation_accuracy_ == vals[best]
    assert clf.score(X_val, y_val) == pytest.approx(vals[best])
    assert len(vals) <= 25 and (len(vals) == 25 or len(vals) - clf.best_epoch_ == 3)


def test_training_is_deterministic_on_cpu():
    X, y = small_problem(3)
    models = [
        DWNClassifier(luts=(12, 9), lut_inputs=3, bits=6, epochs=4, seed=7, verbose=False, device="cpu")
        .fit(X, y).freeze()
        for _ in range(2)
    ]
    for a, b in zip(models[0].layers, models[1].layers):
        np.testing.assert_array_equal(a.mapping, b.mapping)
        np.testing.assert_array_equal(a.tables, b.tables)
    other = DWNClassifier(luts=(12, 9), lut_inputs=3, bits=6, epochs=4, seed=8, verbose=False).fit(X, y).freeze()
    assert not np.array_equal(other.layers[0].tables, models[0].layers[0].tables)


def test_two_layers_random_mapping_string_labels_and_rounding():
    X, y = small_problem(4)
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = DWNClassifier(luts=(40, 10), lut_inputs=5, bits=8, mapping="random", epochs=5, seed=0,
                        validation_fraction=0, verbose=False).fit(X, labels)
    assert clf.luts_ == (40, 12)  # last layer rounded up to a multiple of 3 classes
    model = clf.freeze()
    assert model.class_names == ("cat", "dog", "eel")
    assert [layer.num_luts for layer in model.layers] == [40, 12]
    assert set(clf.predict(X)) <= {"cat", "dog", "eel"}
    np.testing.assert_array_equal(np.asarray(model.class_names)[model.predict(X)], clf.predict(X))
    assert clf.validation_accuracy_ is None and len(clf.history_) == 5


@pytest.mark.parametrize("encoding", ["uniform", "gaussian"])
def test_other_encodings_train(encoding):
    X, y = small_problem(5)
    clf = DWNClassifier(luts=(30,), bits=8, encoding=encoding, epochs=3, verbose=False).fit(X, y)
    np.testing.assert_array_equal(clf.freeze().predict(X), clf.predict(X))


def test_lut_entries_stay_clamped():
    X, y = small_problem(6)
    clf = DWNClassifier(luts=(20,), bits=8, epochs=3, lr=1.0, verbose=False).fit(X, y)
    e = clf.model_.layers[0].entries.detach()
    assert e.abs().max() <= 1.0 and (e.abs() == 1.0).any()


def test_spectral_penalty_is_added_per_layer(monkeypatch):
    calls = []

    def spectral_penalty(entries):
        calls.append(tuple(entries.shape))
        return entries.pow(2).mean()

    fake = types.ModuleType("dwn_mcu.training.spectral")
    fake.spectral_penalty = spectral_penalty
    monkeypatch.setitem(sys.modules, "dwn_mcu.training.spectral", fake)
    X, y = small_problem(7, classes=2)
    DWNClassifier(luts=(8, 4), lut_inputs=3, bits=4, epochs=1, batch_size=300, spectral=0.5,
                  validation_fraction=0, verbose=False).fit(X, y)
    assert calls == [(8, 8), (4, 8)]


@pytest.mark.parametrize(
    "params, match",
    [
        ({"luts": (0,)}, "luts"),
        ({"lut_inputs": 17}, "lut_inputs"),
        ({"bits": 0}, "bits"),
        ({"encoding": "foo"}, "encoding"),
        ({"mapping": "foo"}, "mapping"),
        ({"schedule": "foo"}, "schedule"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
    ],
)
def test_bad_parameters(params, match):
    X, y = small_problem(8)
    with pytest.raises(ValueError, match=match):
        DWNClassifier(verbose=False, **params).fit(X, y)


def test_single_class_is_an_error():
    with pytest.raises(ValueError, match="only one class"):
        DWNClassifier(verbose=False).fit(np.zeros((5, 2)), np.zeros(5))  # one class: refused


def test_progress_bar_quiet_off_terminal_and_callback_sees_each_epoch(capsys):
    X, y = small_problem(10)
    seen = []
    clf = DWNClassifier(luts=(9,), lut_inputs=3, bits=4, epochs=3, patience=5, verbose=True)
    clf.fit(X, y, callback=seen.append)
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # stderr is not a terminal under pytest
    assert [r["epoch"] for r in seen] == [1, 2, 3] and seen == clf.history_
    assert all({"loss", "train_accuracy", "val_accuracy", "seconds"} <= set(r) for r in seen)
