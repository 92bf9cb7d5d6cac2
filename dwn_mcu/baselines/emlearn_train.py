"""The most accurate emlearn model that fits a flash budget: a seeded, bounded search over scikit-learn
decision trees (depth, or max_leaf_nodes), random forests and extra trees (depth × n_estimators).

Forests grow one tree at a time (`warm_start`: the first k trees are exactly what `n_estimators=k`
grows, as sklearn draws each tree's seed in order), so each (kind, depth) trial prices its forests of
1, 2, 3, 4, 6, 8, 11, ... trees until one does not fit (size grows with the trees). Each model is priced
by `size_fn` (default: `emlearn_plan.planned_flash(board)`, by building) and scored on the validation rows
by emlearn's own predict, which is what the C computes (scikit-learn's accuracy is recorded beside it:
emlearn's forests vote one class per tree). The best is the highest validation accuracy that fits, ties
to the smaller model, then to the earlier candidate; with a latency price (`latency_fn`) and no latency
budget, the fastest within one standard error of it (`dwn_mcu.selection`, every family's rule). Inputs
are int16 rows (`integer_inputs.quantize`).

The same search fits the `forest` family (`forest_train.train_forest`: our own inline C of the same
scikit-learn estimators, `forest_export.convert`), with `convert_fn` and `what` naming it.
"""

from __future__ import annotations

import time
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..selection import choose, most_accurate
from . import BaselineError, nothing_fits
from .emlearn_export import EmlearnModel, convert

TREE_DEPTHS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
TREE_LEAVES = (8, 16, 32, 64, 128, 256)
FOREST_DEPTHS = (2, 3, 4, 5, 6, 8, 10)
MAX_ESTIMATORS = 50


@dataclass(frozen=True)
class EmlearnCandidate:
    kind: str  # tree, forest, extra
    depth: int | None
    max_leaf_nodes: int | None
    n_estimators: int
    decision_nodes: int
    size_bytes: int
    val_accuracy: float  # emlearn's predict (the C)
    sklearn_val_accuracy: float
    fits: bool
    latency: int | None = None  # priced per inference (`latency_fn`); None: not priced

    def shape(self) -> str:
        limit = f"depth {self.depth}" if self.depth is not None else f"{self.max_leaf_nodes} leaves"
        return f"decision tree, {limit}" if self.kind == "tree" else \
            f"{'random forest' if self.kind == 'forest' else 'extra trees'} {self.n_estimators} x {limit}"


@dataclass(eq=False)
class EmlearnSearchResult:
    best: EmlearnCandidate
    model: EmlearnModel
    candidates: list = field(default_factory=list)
    trials: int = 0
    seconds: float = 0.0
    most_accurate: EmlearnCandidate | None = None  # `best` is the selection rule's pick among the fitting

    def table(self) -> list:
        return [asdict(c) for c in self.candidates]


def _estimator_grid(seed: int) -> list:
    """(kind, depth, max_leaf_nodes) trials, interleaved so that a time limit sees every kind early."""
    trees = [("tree", d, None) for d in TREE_DEPTHS] + [("tree", None, n) for n in TREE_LEAVES]
    forests = [("forest", d, None) for d in FOREST_DEPTHS]
    extras = [("extra", d, None) for d in FOREST_DEPTHS]
    rng = np.random.default_rng(seed)
    groups = [[g[i] for i in rng.permutation(len(g))] for g in (trees, forests, extras)]
    return [g[i] for i in range(max(map(len, groups))) for g in groups if i < len(g)]


def _estimators_grid(limit: int) -> list:
    ks, k = [], 1
    while k <= limit:
        ks.append(k)
        k = max(k + 1, int(round(k * 1.35)))
    return ks


def _new_estimator(kind: str, depth, leaves, seed: int):
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    if kind == "tree":
        return DecisionTreeClassifier(max_depth=depth, max_leaf_nodes=leaves, random_state=seed)
    cls = RandomForestClassifier if kind == "forest" else ExtraTreesClassifier
    return cls(n_estimators=1, max_depth=depth, max_leaf_nodes=leaves, random_state=seed, warm_start=True, n_jobs=1)


def _score(job: dict, kind: str, est, depth, leaves, k: int):
    """(candidate, converted model or None when it does not fit)."""
    model = job["convert"](kind, est, job["features"], job["classes"])
    size = int(job["size_fn"](model))
    latency = job["latency_fn"](model) if job["latency_fn"] else None
    fits = size <= job["budget"] and (job["latency_budget"] is None or latency <= job["latency_budget"])
    acc = float(np.mean(model.predict(job["X_val"]) == job["y_val"])) if fits else float("nan")
    sk = float(np.mean(model.sklearn_predict(job["X_val"]) == job["y_val"])) if fits else float("nan")
    cand = EmlearnCandidate(kind, depth, leaves, k, model.node_counts()[1], size, acc, sk, fits, latency)
    return cand, (model if fits else None)


def _trial(job: dict, kind: str, depth, leaves) -> list:
    """Every scored model of one (kind, depth, leaves): [(candidate, model or None)], smallest first."""
    est = _new_estimator(kind, depth, leaves, job["seed"])
    if kind == "tree":
        return [_score(job, kind, est.fit(job["X_train"], job["y_train"]), depth, leaves, 1)]
    out = []
    for k in _estimators_grid(MAX_ESTIMATORS):
        est.set_params(n_estimators=k)
        est.fit(job["X_train"], job["y_train"])
        out.append(_score(job, kind, deepcopy(est), depth, leaves, k))  # a copy: `est` grows on
        if not out[-1][0].fits:
            break
    return out


def train_emlearn(X_train, y_train, X_val, y_val, num_classes: int, budget_bytes: int, size_fn: Callable, *,
                  max_trials: int | None = None, time_limit: float | None = None, seed: int = 0,
                  progress: Callable[[str], None] | None = None, convert_fn: Callable = convert,
                  what: str = "emlearn", latency_fn: Callable | None = None,
                  latency_budget: int | None = None) -> EmlearnSearchResult:
    """Search for the most accurate (on the validation rows, as the C computes) emlearn model whose
    `size_fn(model)` fits `budget_bytes`. Rows are int16 features. At least one trial always runs.
    `convert_fn(kind, estimator, features, classes)` makes the model (default emlearn's conversion);
    `what` names the family in messages. `latency_fn(model)`: its priced latency (`dwn_mcu.latency.
    tree_latency`), held to `latency_budget` when given; the chosen model is then the selection rule's
    (`dwn_mcu.selection.choose`: the most accurate within the latency budget; without one, the fastest within
    one standard error of the most accurate)."""
    y_train = np.asarray(y_train, np.int64)
    if num_classes < 2 or np.unique(y_train).size < 2:
        raise BaselineError(f"{what}'s trees need training rows of at least two classes")
    if np.asarray(X_val).shape[0] == 0:
        raise BaselineError(f"{what}'s search needs validation rows")
    if not np.array_equal(np.unique(y_train), np.arange(num_classes)):
        raise BaselineError(f"{what}'s trees need training rows of every class 0..{num_classes - 1}")
    job = {"X_train": np.asarray(X_train, np.int16), "y_train": y_train, "X_val": np.asarray(X_val, np.int16),
           "y_val": np.asarray(y_val, np.int64), "features": np.asarray(X_train).shape[1], "classes": num_classes,
           "budget": budget_bytes, "size_fn": size_fn, "seed": seed,
           "convert": convert_fn, "latency_fn": latency_fn,
           "latency_budget": latency_budget if latency_fn else None}
    start, trials = time.monotonic(), 0
    candidates, fitting = [], []
    for kind, depth, leaves in _estimator_grid(seed):
        if (max_trials is not None and trials >= max_trials) or \
                (trials and time_limit is not None and time.monotonic() - start > time_limit):
            break
        trials += 1
        for cand, model in _trial(job, kind, depth, leaves):
            candidates.append(cand)
            if cand.fits:
                fitting.append((cand, model))
        if progress and fitting:
            best = fitting[most_accurate(_items(fitting))][0]
            progress(f"{what} trial {trials}: {kind}, depth {depth}, leaves {leaves}; best so far "
                     f"{best.val_accuracy:.4f} ({best.shape()}, {best.size_bytes} B)")
    if not fitting:
        raise nothing_fits(what, budget_bytes, job["latency_budget"], candidates)
    best, best_model = fitting[choose(_items(fitting), len(job["y_val"]), job["latency_budget"])]
    return EmlearnSearchResult(best, best_model, candidates, trials, time.monotonic() - start,
                               fitting[most_accurate(_items(fitting))][0])


def _items(fitting: list) -> list:
    """(accuracy, latency, size) of each fitting candidate, for `dwn_mcu.selection`."""
    return [(c.val_accuracy, c.latency, c.size_bytes) for c, _ in fitting]
