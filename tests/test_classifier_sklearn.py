"""DWNClassifier in scikit-learn's conventions: unfitted errors, input validation, fitted attributes,
get_params/set_params, predict_proba, determinism of the frozen bytes. scikit-learn's own checks:
tests/test_classifier_sklearn_checks.py."""

import pickle
import sys
import warnings

import numpy as np
import pytest

from dwn_mcu import DWNClassifier
from dwn_mcu.errors import DWNError, NotFittedError
from dwn_mcu.model_file import to_bytes
from dwn_mcu.training.validation import DataConversionWarning

FAST = dict(luts=(12,), lut_inputs=3, bits=4, epochs=2, verbose=False, device="cpu")


def problem(seed=0, n=120, features=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = problem()
    return DWNClassifier(**FAST).fit(X, y), X, y


# ------------------------------------------------------------------------------------ before fit
@pytest.mark.parametrize("method", ["predict", "predict_proba", "scores", "score", "freeze"])
def test_methods_before_fit_raise_not_fitted(method):
    X, y = problem()
    args = {"predict": (X,), "predict_proba": (X,), "scores": (X,), "score": (X, y), "freeze": ()}[method]
    with pytest.raises(NotFittedError, match="not fitted yet") as info:
        getattr(DWNClassifier(**FAST), method)(*args)
    assert all(isinstance(info.value, kind) for kind in (DWNError, ValueError, AttributeError))


def test_no_scikit_learn_needed(monkeypatch):
    for name in ("sklearn", "sklearn.exceptions", "sklearn.utils"):
        monkeypatch.setitem(sys.modules, name, None)  # any import of scikit-learn now fails
    X, y = problem()
    with pytest.raises(NotFittedError) as info:
        DWNClassifier(**FAST).predict(X)
    assert type(info.value) is NotFittedError
    clf = DWNClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[clf.freeze().predict(X)])
    assert clf.predict_proba(X).shape == (120, 3) and 0 <= clf.score(X, y) <= 1


def test_check_is_fitted_sees_the_fitted_state(fitted):
    validation = pytest.importorskip("sklearn.utils.validation")
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    with pytest.raises(SklearnNotFittedError):
        validation.check_is_fitted(DWNClassifier(**FAST))
    validation.check_is_fitted(fitted[0])
    with pytest.raises(SklearnNotFittedError):  # scikit-learn's own class is caught too
        DWNClassifier(**FAST).predict(fitted[1])


# ------------------------------------------------------------------------------------- targets
def test_continuous_target_is_refused_before_training():
    X, _ = problem(n=300)
    y = np.random.default_rng(1).normal(size=300)  # 300 distinct floats
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warnings either: it stops before training
        with pytest.raises(ValueError, match="Unknown label type: continuous"):
            DWNClassifier(**FAST).fit(X, y)


def test_integral_float_target_is_a_class_label():
    X, y = problem()
    clf = DWNClassifier(**FAST).fit(X, y.astype(float) * 2)
    np.testing.assert_array_equal(clf.classes_, [0.0, 2.0, 4.0])
    assert set(clf.predict(X)) <= {0.0, 2.0, 4.0}


def test_column_vector_y_is_raveled_with_a_warning(fitted):
    clf, X, y = fitted
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        col = DWNClassifier(**FAST).fit(X, y[:, None])
    np.testing.assert_array_equal(col.predict(X), clf.predict(X))
    with pytest.raises(ValueError, match=r"y should be a 1d array, got an array of shape \(120, 2\)"):
        DWNClassifier(**FAST).fit(X, np.stack([y, y], axis=1))


@pytest.mark.parametrize(
    "y, match",
    [
        (None, "requires y to be passed"),
        (np.array([0, 1, np.nan] * 40), "NaN or infinity"),
        (np.array([0, "a", 1.5] * 40, dtype=object), "Unknown label type"),
        (np.zeros(120), "one class"),
        (np.arange(119) % 2, "inconsistent numbers of samples"),
    ],
)
def test_bad_targets(y, match):
    X, _ = problem()
    with pytest.raises(ValueError, match=match):
        DWNClassifier(**FAST).fit(X, y)


def test_string_and_integer_labels_map_through_classes_():
    X, y = problem()
    names = np.array(["zebra", "ant", "moose"])[y]
    clf = DWNClassifier(**FAST).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["ant", "moose", "zebra"])
    assert clf.freeze().class_names == ("ant", "moose", "zebra")
    pred = clf.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert clf.score(X, names) == pytest.approx(np.mean(pred == names))
    ints = DWNClassifier(**FAST).fit(X, y * 10 - 7)
    np.testing.assert_array_equal(ints.classes_, [-7, 3, 13])


# ------------------------------------------------------------------------------------------- X
def test_predict_takes_lists_like_fit(fitted):
    clf, X, _ = fitted
    np.testing.assert_array_equal(clf.predict(X.tolist()), clf.predict(X))
    np.testing.assert_array_equal(clf.predict_proba(X.tolist()), clf.predict_proba(X))


def test_n_features_in_and_mismatch(fitted):
    clf, X, y = fitted
    assert clf.n_features_in_ == 3
    for method, args in (("predict", (X[:, :2],)), ("predict_proba", (X[:, :2],)), ("score", (X[:, :2], y))):
        with pytest.raises(ValueError, match="X has 2 features, but DWNClassifier is expecting 3 features"):
            getattr(clf, method)(*args)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros(120), ValueError, "Reshape your data"),
        (np.zeros((0, 3)), ValueError, r"0 sample\(s\)"),
        (np.zeros((120, 0)), ValueError, r"0 feature\(s\)"),
        (np.zeros((120, 3), complex), ValueError, "Complex data not supported"),
        (np.full((120, 3), "1.0"), ValueError, "expected numbers"),
        (np.array([[{"a": 1}, 0, 0]] * 120, dtype=object), TypeError, "argument must be a string or a real number"),
    ],
)
def test_bad_X(X, error, match):
    _, y = problem()
    with pytest.raises(error, match=match):
        DWNClassifier(**FAST).fit(X, y)


def test_sparse_X_is_refused_by_name():
    sparse = pytest.importorskip("scipy.sparse")
    X, y = problem()
    with pytest.raises(TypeError, match="sparse input is not supported"):
        DWNClassifier(**FAST).fit(sparse.csr_matrix(X), y)


def test_nan_and_infinity_follow_the_model(fitted):
    clf, X, y = fitted
    odd = np.array([[np.nan, np.inf, -np.inf], [np.nan] * 3, [1e300, -1e300, 0]])
    model = clf.freeze()
    with np.errstate(over="ignore"):  # FrozenDWN casts 1e300 to float32: inf, as the classifier does
        np.testing.assert_array_equal(clf.predict(odd), clf.classes_[model.predict(odd)])
    X_nan = X.copy()
    X_nan[::5, 0] = np.nan  # NaN while fitting: the thermometer uses the finite values
    DWNClassifier(**FAST).fit(X_nan, y).predict(X_nan)


def test_refit_failure_keeps_nothing_half_written(fitted):
    clf = pickle.loads(pickle.dumps(fitted[0]))
    X, y = fitted[1], fitted[2]
    before = clf.predict(X)
    with pytest.raises(ValueError):
        clf.fit(X[:, :2], np.full(120, 0.5))  # refused before any state changes
    np.testing.assert_array_equal(clf.predict(X), before)
    assert clf.n_features_in_ == 3


class _Frame:
    """A DataFrame-like: string `columns` and an `__array__` (pandas is not a dependency)."""

    def __init__(self, X, columns):
        self._X, self.columns = X, columns

    def __array__(self, dtype=None, copy=None):
        return self._X if dtype is None else self._X.astype(dtype)


def test_feature_names_in_from_a_dataframe_like():
    X, y = problem()
    clf = DWNClassifier(**FAST).fit(_Frame(X, ["a", "b", "c"]), y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c"])
    assert clf.freeze().feature_names == ("a", "b", "c")
    np.testing.assert_array_equal(clf.predict(_Frame(X, ["a", "b", "c"])), clf.predict(X))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(_Frame(X, ["a", "c", "b"]))
    assert not hasattr(DWNClassifier(**FAST).fit(X, y), "feature_names_in_")
    assert not hasattr(DWNClassifier(**FAST).fit(_Frame(X, [0, 1, 2]), y), "feature_names_in_")


# ------------------------------------------------------------------------------------- params
def test_get_params_follow_the_signature_and_set_params_checks_names():
    clf = DWNClassifier(**FAST)
    params = clf.get_params()
    assert params["luts"] == (12,) and params["epochs"] == 2 and "self" not in params
    import inspect

    assert list(params) == [p for p in inspect.signature(DWNClassifier).parameters]
    assert clf.set_params(epochs=5, seed=3) is clf and clf.epochs == 5 and clf.seed == 3
    with pytest.raises(ValueError, match="Invalid parameter 'epoch'"):
        clf.set_params(epoch=5)


def test_predict_proba_is_the_softmax_of_scores_over_tau(fitted):
    clf, X, _ = fitted
    p = clf.predict_proba(X)
    s = clf.scores(X) / clf.tau_
    e = np.exp(s - s.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[np.argmax(p, axis=1)], clf.predict(X))


def test_score_is_accuracy_with_optional_weights(fitted):
    clf, X, y = fitted
    hit = clf.predict(X) == y
    assert clf.score(X, y) == pytest.approx(hit.mean())
    w = np.linspace(0.1, 2.0, y.size)
    assert clf.score(X, y, sample_weight=w) == pytest.approx(np.average(hit, weights=w))


# ------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_frozen_bytes():
    X, y = problem(3, n=200)
    runs = [to_bytes(DWNClassifier(luts=(12, 9), lut_inputs=3, bits=6, epochs=3, seed=5, verbose=False,
                                   device="cpu").fit(X, y).freeze()) for _ in range(2)]
    assert runs[0] == runs[1]
    other = to_bytes(DWNClassifier(luts=(12, 9), lut_inputs=3, bits=6, epochs=3, seed=6, verbose=False,
                                   device="cpu").fit(X, y).freeze())
    assert other != runs[0]


def test_wall_clock_stays_out_of_the_model(fitted):
    clf = fitted[0]
    assert all("seconds" in r for r in clf.history_)  # on the classifier ...
    text = repr(clf.freeze().metadata)
    assert "seconds" not in text and "time" not in text  # ... never in the frozen model
