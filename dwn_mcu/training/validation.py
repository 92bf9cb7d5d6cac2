"""Input checks of `DWNClassifier`, in scikit-learn's conventions (NumPy only; scikit-learn is optional).

Each function validates one argument and returns it in the form training needs, or raises one exception
whose one-line message names the argument and the problem: ValueError for bad values or shapes (with
scikit-learn's wording where its common checks look for it), TypeError for objects that are not numbers.

`X` is 2-D and numeric. NaN and infinities are legal: the model defines them (every thermometer bit is
`x > t` compared in float32, so NaN and -inf give bit 0 and +inf bit 1, in `FrozenDWN` and in the C).
`y` is 1-D (a column vector is raveled with a `DataConversionWarning`) of class labels: integers,
integral floats, strings or booleans; continuous floats are refused ("Unknown label type: continuous").
"""

from __future__ import annotations

import functools
import numbers
import warnings

import numpy as np

from ..errors import NotFittedError


class DataConversionWarning(UserWarning):
    """Input was converted to the form the estimator expects (named after scikit-learn's)."""


def not_fitted(estimator) -> NotFittedError:
    """The error to raise when `estimator` is used before `fit`: a `dwn_mcu.errors.NotFittedError`, and also a
    `sklearn.exceptions.NotFittedError` when scikit-learn is installed."""
    msg = (f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with appropriate "
           "arguments before using this estimator.")
    try:
        from sklearn.exceptions import NotFittedError as SklearnNotFittedError
    except ImportError:
        return NotFittedError(msg)
    return _with_base(SklearnNotFittedError)(msg)


@functools.cache
def _with_base(base: type) -> type:
    return type("NotFittedError", (NotFittedError, base), {"__module__": __name__})


def _refuse_sparse(a, name: str) -> None:
    if hasattr(a, "toarray") and hasattr(a, "nnz"):  # scipy.sparse matrices and arrays, without importing scipy
        raise TypeError(f"{name}: sparse input is not supported; pass a dense array ({name}.toarray())")


def check_X(X, n_features: int | None = None, name: str = "X", estimator: str = "DWNClassifier") -> np.ndarray:
    """`X` as a C-contiguous float32 (N, F) array, N and F at least 1 (F == `n_features` when given)."""
    _refuse_sparse(X, name)
    a = np.asarray(X)
    if a.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {a.dtype}")
    if a.dtype.kind in "USV":
        raise ValueError(f"{name} holds {a.dtype} values; expected numbers")
    if a.ndim != 2:
        raise ValueError(
            f"Expected a 2-D {name}, got {a.ndim}-D with shape {a.shape}. Reshape your data either using "
            f"{name}.reshape(-1, 1) if it has a single feature or {name}.reshape(1, -1) if it is a single sample"
        )
    for axis, what in ((0, "sample"), (1, "feature")):
        if a.shape[axis] == 0:
            raise ValueError(f"{name}: found array with 0 {what}(s) (shape={a.shape}) while a minimum of 1 is required.")
    if n_features is not None and a.shape[1] != n_features:
        raise ValueError(f"{name} has {a.shape[1]} features, but {estimator} is expecting {n_features} features as input")
    with np.errstate(over="ignore"):  # beyond float32's range is +-inf, as the model compares in float32
        return np.ascontiguousarray(a, dtype=np.float32)


def check_y(y, n_samples: int, name: str = "y", estimator: str = "DWNClassifier") -> np.ndarray:
    """`y` as a 1-D array of `n_samples` class labels (a column vector raveled with a warning)."""
    if y is None:
        raise ValueError(f"{estimator} requires y to be passed, but the target y is None")
    _refuse_sparse(y, name)
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        warnings.warn(
            DataConversionWarning(
                f"A column-vector y was passed when a 1d array was expected. Please change the shape of {name} "
                "to (n_samples,), for example using ravel()."
            ),
            stacklevel=3,
        )
        a = a.ravel()
    if a.ndim != 1:
        raise ValueError(f"{name} should be a 1d array, got an array of shape {a.shape} instead.")
    if a.shape[0] != n_samples:
        raise ValueError(f"found input variables with inconsistent numbers of samples: {n_samples} rows, {a.shape[0]} labels in {name}")
    _check_label_type(a, name)
    return a


def _check_label_type(a: np.ndarray, name: str) -> None:
    kind = a.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {a.dtype}")
    if kind == "O":
        values = a.tolist()
        if all(isinstance(v, str) for v in values):
            return
        if not all(isinstance(v, numbers.Real) for v in values):
            raise ValueError(f"Unknown label type: {name} mixes {sorted({type(v).__name__ for v in values})}")
        a = np.asarray(values, dtype=np.float64)
        kind = "f"
    if kind == "f":
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinity; class labels must be finite")
        frac = a[a != np.round(a)]
        if frac.size:
            raise ValueError(
                f"Unknown label type: continuous ({name} holds non-integer values such as {frac[0]!r}; "
                "a classifier needs class labels)"
            )


def feature_names_of(X) -> np.ndarray | None:
    """The column names of a DataFrame-like `X` when they are all strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    return np.asarray(names, dtype=object) if names and all(isinstance(n, str) for n in names) else None
