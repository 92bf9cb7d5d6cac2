"""scikit-learn trees and forests as emlearn's inline C, behind the DWN's C API.

`emlearn.convert(estimator, method="inline")` writes each tree as if/else code with its thresholds as
immediates (`features[i] < int(th)`, int16 features) and a `predict` that gives each tree one vote, ties
to the lowest class. `render_sources` wraps that code in a library with the DWN's interface
(`NAME.h`: `NAME_NUM_FEATURES`, `NAME_NUM_CLASSES`, `NAME_INPUT_IS_FLOAT 0`, `NAME_input_t` = int16_t,
`uint8_t NAME_predict(const int16_t *features, NAME_score_t *scores)`), so that the DWN's host runner
and the targets' test firmware run it unchanged. emlearn computes a class only: the scores are that
class one-hot. Every C name starts with NAME (emlearn's own functions are `NAME_eml_*`).

The reference is emlearn's own host `predict` (its C extension, the same tree walk as the C), not
scikit-learn's: they differ where a threshold falls between integers and, for forests, by the vote.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass

import numpy as np

from ..compiler.cgen import c_identifier
from . import BaselineError

KINDS = {"tree": "DecisionTreeClassifier", "forest": "RandomForestClassifier", "extra": "ExtraTreesClassifier"}
INPUT_TYPE = "int16"  # emlearn's trees take int16_t features (`integer_inputs.fit_quantization`)

_HEADER = """/* {name}: a scikit-learn {kind} as emlearn's inline C (emlearn {version}), behind the dwn-mcu
 * model API. Input: int16 features; output: the class (scores: that class one-hot). */
#ifndef {P}_H
#define {P}_H
#include <stdint.h>
#define {P}_NUM_FEATURES {features}
#define {P}_NUM_CLASSES {classes}
#define {P}_INPUT_IS_FLOAT 0
typedef int16_t {name}_input_t;
typedef uint8_t {name}_score_t;
uint8_t {name}_predict(const {name}_input_t *features, {name}_score_t *scores);
#endif
"""

_SOURCE = """/* {name}: the dwn-mcu API over emlearn's generated trees ({name}_eml.h). */
#include "{name}.h"
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* emlearn's features_length */
#endif
#include "{name}_eml.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

uint8_t {name}_predict(const {name}_input_t *features, {name}_score_t *scores) {{
  int32_t c = {name}_eml_predict(features, {P}_NUM_FEATURES);
  for (uint8_t i = 0; i < {P}_NUM_CLASSES; i++) scores[i] = ({name}_score_t)(i == c);
  return (uint8_t)c;
}}
"""


@dataclass(eq=False)
class EmlearnModel:
    """A fitted scikit-learn estimator and emlearn's conversion of it."""

    kind: str  # a key of KINDS
    estimator: object  # the scikit-learn classifier (trained on int16 features)
    converted: object  # emlearn.trees.Wrapper
    num_features: int
    num_classes: int

    def predict(self, Xq) -> np.ndarray:
        """emlearn's own host predict: what the C computes (int16 rows). emlearn compiles its C with the
        host compiler into `tmp/` under the current folder and calls it by that relative path, so it runs
        in a private folder of this model's (removed with it), never in the user's."""
        X = _int16(Xq)
        with contextlib.chdir(self._workdir()):
            return np.asarray(self.converted.predict(X), dtype=np.int64).reshape(X.shape[0])

    def _workdir(self) -> str:
        if getattr(self, "_tmp", None) is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="eml_predict_")
        return self._tmp.name

    def sklearn_predict(self, Xq) -> np.ndarray:
        return np.asarray(self.estimator.predict(_int16(Xq)), dtype=np.int64)

    def reference(self, Xq) -> list:
        """Per row, the C's output: (class, one-hot scores)."""
        C = self.num_classes
        return [(int(c), tuple(int(i == c) for i in range(C))) for c in self.predict(Xq)]

    def node_counts(self) -> tuple[int, int]:
        """(trees, decision nodes) of the model."""
        trees = getattr(self.estimator, "estimators_", [self.estimator])
        return len(trees), sum(int((t.tree_.children_left >= 0).sum()) for t in trees)


def _int16(Xq) -> np.ndarray:
    X = np.asarray(Xq)
    if X.ndim != 2 or (X.size and (X.min() < -32768 or X.max() > 32767)):
        raise BaselineError(f"emlearn's trees take (N, F) int16 features, got shape {X.shape}")
    return X.astype(np.int16)


def _emlearn():
    """The emlearn module. Importing it runs `numpy.seterr(all='raise')` (emlearn/bayes.py), which would
    turn every later underflow in the process into an exception: numpy's error state is restored."""
    state = np.geterr()
    try:
        import emlearn
    except ImportError:
        raise BaselineError("emlearn is not installed: pip install 'dwn-mcu[emlearn]'") from None
    finally:
        np.seterr(**state)
    return emlearn


def convert(kind: str, estimator, num_features: int, num_classes: int) -> EmlearnModel:
    """emlearn's inline conversion of a fitted estimator; BaselineError (one line) when it cannot."""
    emlearn = _emlearn()
    if kind not in KINDS:
        raise BaselineError(f"unknown emlearn model kind {kind!r} (one of {', '.join(KINDS)})")
    classes = getattr(estimator, "classes_", None)
    if classes is None or not np.array_equal(np.asarray(classes), np.arange(num_classes)):
        raise BaselineError(f"emlearn {kind}: the estimator must be fitted on classes 0..{num_classes - 1}")
    try:
        converted = emlearn.convert(estimator, method="inline", dtype="int16_t")
    except Exception as e:  # emlearn raises ValueError, NotImplementedError, ...: one line either way
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise BaselineError(f"emlearn cannot convert the {kind} ({type(estimator).__name__}): {first}") from None
    return EmlearnModel(kind, estimator, converted, int(num_features), int(num_classes))


def emlearn_version() -> str:
    return str(getattr(_emlearn(), "__version__", "unknown"))


def render_sources(model: EmlearnModel, name: str) -> dict:
    """The C library: {NAME.h, NAME.c, NAME_eml.h (emlearn's code)}. `name` must be a C identifier."""
    c_identifier(name, "model name", BaselineError)
    version = emlearn_version()
    if not all(ch.isalnum() or ch in ".+-_" for ch in version):
        version = "unknown"  # nothing from a package's metadata reaches the C unchecked
    fields = {"name": name, "P": name.upper(), "kind": KINDS[model.kind], "version": version,
              "features": model.num_features, "classes": model.num_classes}
    eml = model.converted.save(name=f"{name}_eml", format="c")
    return {f"{name}.h": _HEADER.format(**fields), f"{name}.c": _SOURCE.format(**fields), f"{name}_eml.h": eml}
