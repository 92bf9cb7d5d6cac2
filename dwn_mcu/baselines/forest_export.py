"""scikit-learn forests (random forests, extra trees, single decision trees) as our own inline C, exact
against a reference defined so that it can be computed exactly on an 8-bit chip.

scikit-learn's forest averages per-tree class probabilities in float64; no integer C reproduces every
rounding of that. The reference here (`ForestModel.predict` / `.scores`):

* Splits: scikit-learn tests `x <= th` with `x` an int16 value as float32 and `th` a float64, so for an
  integer `x` the test is exactly `x <= floor(th)`: the C compares int16 inputs against int16
  immediates. A split whose `floor(th)` lies outside int16 always goes one way: the export keeps that
  branch only (a decision of this module, printed by the template).
* Leaves: each leaf's class probability `p_c` (scikit-learn's own `tree_.value`, normalized) becomes the
  integer `round(p_c * Q)` (halves up; binary: class 1's, halves down), Q = `LEAF_SCALE` (255), summed over the trees in integer arithmetic (uint16:
  at most MAX_TREES * 255). The class is the argmax of the sums, ties to the lowest class (the tie rule of
  scikit-learn's `predict`, numpy's argmax).
* Binary models keep one sum, class 1's: `round(p_1 * Q)` is an immediate in each leaf, and class 1 wins
  when `2 * s1 > trees * Q` (class 0's sum is `trees * Q - s1`, since we define `w_0 = Q - w_1`;
  a tie goes to class 0). Multi-class leaves keep C weights each: then a leaf is an index into one
  flash table of uint8 weights (C immediates per leaf would be C adds of code per leaf: the table is
  smaller at 3 classes and more).

The C's accuracy can differ from scikit-learn's where the rounding of `p_c * Q` changes an argmax (a
near tie); `compare` reports both. `render_sources(model, name)` gives the library with the DWN's API
(`uint8_t NAME_predict(const int16_t *features, NAME_score_t *scores)`), so the DWN's host runner and
the targets' test firmware run it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..compiler.cgen import c_identifier
from . import BaselineError

KINDS = {"tree": "DecisionTreeClassifier", "forest": "RandomForestClassifier", "extra": "ExtraTreesClassifier"}
INPUT_TYPE = "int16"
LEAF_SCALE = 255  # Q: leaf weights are uint8
MAX_TREES = 257  # sums stay in uint16: trees * Q <= 65535
INT16_MIN, INT16_MAX = -32768, 32767


@dataclass(eq=False)
class ForestModel:
    """A fitted scikit-learn estimator and its integer trees (what the C computes)."""

    kind: str  # a key of KINDS
    estimator: object
    num_features: int
    num_classes: int
    trees: tuple  # per tree: (left, right, feature, threshold int (or None at a leaf), weights (n, C) int)

    @property
    def num_trees(self) -> int:
        return len(self.trees)

    def scores(self, Xq) -> np.ndarray:
        """(N, C) integer sums of the leaf weights (binary: class 0 as trees * Q - class 1's sum)."""
        X = _int16(Xq, self.num_features).astype(np.int64)
        out = np.zeros((X.shape[0], self.num_classes), np.int64)
        for left, right, feature, thr, weights in self.trees:
            node = np.zeros(X.shape[0], np.int64)
            while True:
                inner = left[node] >= 0
                if not inner.any():
                    break
                n = node[inner]
                go_left = X[inner, feature[n]] <= thr[n]
                node[inner] = np.where(go_left, left[n], right[n])
            out += weights[node]
        return out

    def predict(self, Xq) -> np.ndarray:
        s = self.scores(Xq)
        if self.num_classes == 2:  # class 1 iff 2 * s1 > trees * Q (a tie to class 0)
            return (2 * s[:, 1] > self.num_trees * LEAF_SCALE).astype(np.int64)
        return np.argmax(s, axis=1).astype(np.int64)

    def sklearn_predict(self, Xq) -> np.ndarray:
        return np.asarray(self.estimator.predict(_int16(Xq, self.num_features)), dtype=np.int64)

    def reference(self, Xq) -> list:
        """Per row, the C's output: (class, scores as the C writes them)."""
        return [(int(c), tuple(int(v) for v in s)) for c, s in zip(self.predict(Xq), self.scores(Xq))]

    def node_counts(self) -> tuple[int, int]:
        """(trees, decision nodes)."""
        return self.num_trees, sum(int((t[0] >= 0).sum()) for t in self.trees)



def expected_path(estimator) -> float:
    """Decision nodes passed per inference, summed over the trees, weighted by the training rows that
    reach each leaf (`tree_.weighted_n_node_samples`): what the latency price counts."""
    total = 0.0
    for est in getattr(estimator, "estimators_", [estimator]):
        t = est.tree_
        depth = np.zeros(t.node_count, np.int64)
        for n in range(t.node_count):  # children come after their parent in scikit-learn's numbering
            if t.children_left[n] >= 0:
                depth[t.children_left[n]] = depth[t.children_right[n]] = depth[n] + 1
        leaf = t.children_left < 0
        w = t.weighted_n_node_samples[leaf]
        total += float(np.sum(depth[leaf] * w) / np.sum(w))
    return total


def _int16(Xq, num_features: int) -> np.ndarray:
    X = np.asarray(Xq)
    if X.ndim != 2 or X.shape[1] != num_features or (X.size and (X.min() < INT16_MIN or X.max() > INT16_MAX)):
        raise BaselineError(f"the forest takes (N, {num_features}) int16 features, got shape {X.shape}")
    return X.astype(np.int16)


def _integer_tree(tree, num_classes: int):
    """One scikit-learn tree as (left, right, feature, integer threshold, integer leaf weights)."""
    t = tree.tree_
    value = np.asarray(t.value[:, 0, :], np.float64)
    p = value / value.sum(axis=1, keepdims=True)
    if num_classes == 2:
        # round half down: a leaf at exactly p_1 = 0.5 weighs 127 (< Q / 2), so a single tree's class is
        # scikit-learn's (class 1 iff p_1 > p_0, a tie to class 0)
        w1 = np.ceil(p[:, 1] * LEAF_SCALE - 0.5).astype(np.int64)
        weights = np.stack([LEAF_SCALE - w1, w1], axis=1)
    else:
        weights = np.floor(p * LEAF_SCALE + 0.5).astype(np.int64)
    thr = np.array([math.floor(v) if left >= 0 else 0 for v, left in zip(t.threshold, t.children_left)], np.int64)
    return (np.asarray(t.children_left, np.int64), np.asarray(t.children_right, np.int64),
            np.asarray(t.feature, np.int64), thr, weights)


def convert(kind: str, estimator, num_features: int, num_classes: int) -> ForestModel:
    """Our integer trees of a fitted estimator; BaselineError (one line) when it cannot be exported."""
    if kind not in KINDS:
        raise BaselineError(f"unknown forest kind {kind!r} (one of {', '.join(KINDS)})")
    classes = getattr(estimator, "classes_", None)
    if classes is None or not np.array_equal(np.asarray(classes), np.arange(num_classes)):
        raise BaselineError(f"forest {kind}: the estimator must be fitted on classes 0..{num_classes - 1}")
    if not 2 <= num_classes <= 255:
        raise BaselineError(f"forest {kind}: {num_classes} classes (2 to 255 supported)")
    estimators = getattr(estimator, "estimators_", [estimator])
    if len(estimators) > MAX_TREES:
        raise BaselineError(f"forest {kind}: {len(estimators)} trees, at most {MAX_TREES} (uint16 sums)")
    trees = tuple(_integer_tree(e, num_classes) for e in estimators)
    return ForestModel(kind, estimator, int(num_features), int(num_classes), trees)


# ---------------------------------------------------------------- render


def _node(tree, n: int, binary: bool, leaf_index: dict) -> dict:
    """Node `n` as the template's nested dict; splits that always go one way are left out here."""
    left, right, feature, thr, weights = tree
    while left[n] >= 0 and not INT16_MIN <= thr[n] < INT16_MAX:
        n = int(left[n]) if thr[n] >= INT16_MAX else int(right[n])  # x <= T: always true / always false
    if left[n] < 0:
        return {"leaf": int(weights[n, 1]) if binary else leaf_index.setdefault((id(tree), n), len(leaf_index))}
    return {"feature": int(feature[n]), "threshold": int(thr[n]),
            "left": _node(tree, int(left[n]), binary, leaf_index), "right": _node(tree, int(right[n]), binary, leaf_index)}


def render_sources(model: ForestModel, name: str) -> dict:
    """`{NAME.h, NAME.c}`: the forest as C99 with the DWN's model API."""
    from ..compiler.cgen import environment

    c_identifier(name, "model name", BaselineError)
    binary = model.num_classes == 2
    leaf_index: dict = {}
    roots = [_node(t, 0, binary, leaf_index) for t in model.trees]
    table = []
    if not binary:
        by_index = sorted(leaf_index.items(), key=lambda kv: kv[1])
        trees_by_id = {id(t): t for t in model.trees}
        table = [[int(v) for v in trees_by_id[tid][4][n]] for (tid, n), _ in by_index]
    ctx = {"name": name, "NAME": name.upper(), "kind": KINDS[model.kind], "m": model, "binary": binary,
           "roots": roots, "weights": table, "Q": LEAF_SCALE, "num_leaves": len(table),
           "leaf_t": "uint8_t" if len(table) <= 256 else "uint16_t"}
    env = environment("forest", trim_blocks=True)
    return {f"{name}.h": env.get_template("model.h.j2").render(ctx),
            f"{name}.c": env.get_template("model.c.j2").render(ctx)}
