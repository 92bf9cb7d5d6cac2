"""The best XGBoost model that fits a byte budget: a seeded, bounded search over depth, learning rate,
histogram bins and number of boosting rounds.

Each trial trains one booster for a given (depth, learning rate, max_bin) with as many rounds as could
possibly fit, then looks at its prefixes (the first `k` rounds, which is what a smaller `n_estimators`
would have grown, since boosting is sequential): the size of each prefix is exact (the packed tables,
or whatever `size_fn` measures), sizes grow with `k`, so the largest prefix that fits is found by
bisection, and every prefix on a geometric grid up to it is scored on the validation rows. Every scored
prefix is a recorded candidate. With `latency_fn` (a model's priced latency, `dwn_mcu.latency`) a
prefix fits only within `latency_budget` too (latency grows with the rounds as size does), and the
chosen one is the most accurate within `latency_budget` or, with no budget, the fastest within one
standard error of the most accurate (`dwn_mcu.selection`, the DWN search's rule); without a price, the
most accurate that fits, ties to the smaller model, then the earlier.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..selection import choose, most_accurate
from . import BaselineError, nothing_fits
from .xgb_export import XGBModel, XGBTables, pack, parse_booster

DEFAULT_DEPTHS = (1, 2, 3, 4, 5, 6, 8)
DEFAULT_LEARNING_RATES = (0.1, 0.2, 0.3, 0.5)
DEFAULT_MAX_BINS = (16, 64, 256)
MAX_ROUNDS = 400


@dataclass(frozen=True)
class XGBCandidate:
    """One scored model: its hyper-parameters, exact size and validation accuracy."""

    depth: int
    learning_rate: float
    max_bin: int
    rounds: int
    trees: int
    table_bytes: int
    size_bytes: int  # what the budget is checked against (`size_fn`; the table bytes by default)
    val_accuracy: float
    fits: bool
    latency: int | None = None  # priced per inference (`latency_fn`); None: not priced
    layout: str = "table"  # the layout its size and latency are of (`layout_fn`; `xgb_plan.choose_layout`)

    def shape(self) -> str:
        return (f"{self.trees} trees x depth {self.depth} (lr {self.learning_rate:g}, {self.max_bin} bins, "
                f"{self.layout} layout)")


@dataclass(eq=False)
class XGBSearchResult:
    best: XGBCandidate
    booster: object  # xgboost.Booster of the best candidate's rounds
    model: XGBModel
    tables: XGBTables
    candidates: list = field(default_factory=list)
    trials: int = 0
    seconds: float = 0.0
    most_accurate: XGBCandidate | None = None  # `best` is the selection rule's pick among the fitting

    def table(self) -> list:
        """Every candidate as a plain dict (for JSON reports and printed tables)."""
        return [asdict(c) for c in self.candidates]


def _objective(num_classes: int) -> dict:
    if num_classes == 2:
        return {"objective": "binary:logistic"}
    return {"objective": "multi:softmax", "num_class": num_classes}


def _classes(booster, dmatrix, num_classes: int, rounds: int) -> np.ndarray:
    """xgboost's own predicted classes with the first `rounds` rounds (XGBClassifier's rules)."""
    out = booster.predict(dmatrix, iteration_range=(0, rounds))
    if num_classes == 2:
        return (out > 0.5).astype(np.int64)
    return out.astype(np.int64)


def _round_grid(limit: int) -> list:
    """1, 2, 3, 4, 6, 8, 11, ... (about 1.35x apart) up to and including `limit`."""
    ks, k = [], 1
    while k < limit:
        ks.append(k)
        k = max(k + 1, int(round(k * 1.35)))
    ks.append(limit)
    return ks


def _max_rounds(budget: int, depth: int, num_margins: int) -> int:
    """Rounds beyond which no model of this depth can fit: every tree costs at least its root's
    4-byte leaf, and a full tree about 7 bytes a leaf, so allow some slack over the full-tree guess."""
    full_tree = 7 * (2 ** depth) + 4
    return int(max(1, min(MAX_ROUNDS, budget // (4 * num_margins), 3 * budget // (full_tree * num_margins) + 2)))


def _grid(depths, learning_rates, max_bins, seed: int) -> list:
    """Seeded order, interleaved by depth so that a time limit still sees every depth early."""
    rng = np.random.default_rng(seed)
    groups = []
    for depth in depths:
        group = list(itertools.product([depth], learning_rates, max_bins))
        groups.append([group[i] for i in rng.permutation(len(group))])
    return [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]


def _largest_fit(fits: Callable[[int], bool], num_rounds: int) -> int:
    """The most rounds whose model fits, by bisection (one round fits)."""
    lo, hi = 1, num_rounds
    if fits(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def firmware_tables(model, quantization=None) -> XGBTables:
    """The tables the firmware holds: `model` packed, in its integer form for integer inputs."""
    tables = pack(model)
    if quantization is None:
        return tables
    from .xgb_integer import integer_tables

    return integer_tables(tables, quantization)


def _trial(job: dict, depth: int, lr: float, max_bin: int):
    """Train one configuration and score its fitting round counts: (booster, candidates, most rounds
    that fit); no round fitting gives most rounds 0 and the one-round model as the only candidate."""
    import xgboost as xgb

    params = {**_objective(job["classes"]), "max_depth": depth, "eta": lr, "max_bin": max_bin,
              "tree_method": "hist", "seed": job["seed"], "nthread": job["nthread"], "verbosity": 0}
    dtrain = xgb.DMatrix(job["X_train"], label=job["y_train"])  # max_bin is fixed per DMatrix's quantiles
    booster = xgb.train(params, dtrain, num_boost_round=_max_rounds(job["budget"], depth, job["margins"]))
    model = parse_booster(booster)
    sizes = {}

    def size_of(k):
        if k not in sizes:
            tables = firmware_tables(model.first_rounds(k), job["quantization"])
            latency = job["latency_fn"](tables) if job["latency_fn"] else None
            sizes[k] = (job["size_fn"](tables), tables.table_bytes, latency,
                        job["layout_fn"](tables) if job["layout_fn"] else "table")
        return sizes[k][0]

    def fits(k):
        size_of(k)
        latency = sizes[k][2]
        return sizes[k][0] <= job["budget"] and (job["latency_budget"] is None or latency <= job["latency_budget"])

    if not fits(1):
        return booster, [_candidate(depth, lr, max_bin, 1, job["margins"], sizes[1], float("nan"), False)], 0
    lo = _largest_fit(fits, model.num_rounds)
    cands = []
    for k in _round_grid(lo):
        size_of(k)
        acc = float(np.mean(_classes(booster, job["dval"], job["classes"], k) == job["y_val"]))
        cands.append(_candidate(depth, lr, max_bin, k, job["margins"], sizes[k], acc, True))
    return booster, cands, lo


def train_xgboost(X_train, y_train, X_val, y_val, num_classes: int, budget_bytes: int, *,
                  size_fn: Callable[[XGBTables], int] | None = None, depths=DEFAULT_DEPTHS,
                  learning_rates=DEFAULT_LEARNING_RATES, max_bins=DEFAULT_MAX_BINS, max_trials: int | None = None,
                  time_limit: float | None = None, seed: int = 0, progress: Callable[[str], None] | None = None,
                  nthread: int = 1, latency_fn: Callable[[XGBTables], int] | None = None, latency_budget: int | None = None,
                  layout_fn: Callable[[XGBTables], str] | None = None, quantization=None) -> XGBSearchResult:
    """Search for the most accurate XGBoost model (on the validation rows) whose size fits `budget_bytes`.

    `size_fn(tables)` gives a model's size in bytes (default: its flash tables); `max_trials` and
    `time_limit` (seconds) bound the search (at least one trial always runs). `latency_fn(tables)`: a
    model's priced latency, held to `latency_budget` when given, and the selection's speed; `layout_fn(tables)`
    names the layout those are of (`xgb_plan.planned_layout`; default "table"). `quantization` (int16): the
    firmware reads its integers, so candidates are priced, and the result's tables are, in the integer form
    (`xgb_integer.integer_tables`; it trains on the float rows given, what they stand for). Deterministic for
    a given seed, trial limit and machine-independent inputs (a time limit can cut the search short)."""
    import xgboost as xgb

    y_train = np.asarray(y_train, np.int64)
    X_val = np.asarray(X_val, np.float32)
    if num_classes < 2 or np.unique(y_train).size < 2:
        raise BaselineError("XGBoost needs training rows of at least two classes")
    if X_val.shape[0] == 0:
        raise BaselineError("XGBoost's search needs validation rows")
    job = {"X_train": np.asarray(X_train, np.float32), "y_train": y_train, "y_val": np.asarray(y_val, np.int64),
           "dval": xgb.DMatrix(X_val), "classes": num_classes, "margins": 1 if num_classes == 2 else num_classes,
           "budget": budget_bytes, "size_fn": size_fn or (lambda tables: tables.table_bytes), "seed": seed,
           "nthread": nthread, "latency_fn": latency_fn,
           "layout_fn": layout_fn, "latency_budget": latency_budget if latency_fn else None,
           "quantization": quantization}
    start = time.monotonic()
    candidates, fitting, trials = [], [], 0
    for depth, lr, max_bin in _grid(depths, learning_rates, max_bins, seed):
        if (max_trials is not None and trials >= max_trials) or \
                (trials and time_limit is not None and time.monotonic() - start > time_limit):
            break
        trials += 1
        booster, cands, lo = _trial(job, depth, lr, max_bin)
        candidates += cands
        if not lo:
            continue
        fitting += [(cand, booster) for cand in cands]
        if progress:
            best = fitting[most_accurate(_items(fitting))][0]
            progress(f"trial {trials}: depth {depth}, lr {lr:g}, {max_bin} bins: up to {lo} rounds fit; "
                     f"best so far {best.val_accuracy:.4f} ({best.shape()}, {best.size_bytes} B)")
    if not fitting:
        raise nothing_fits("XGBoost", budget_bytes, job["latency_budget"], candidates)
    items = _items(fitting)
    best, best_booster = fitting[choose(items, len(job["y_val"]), job["latency_budget"])]
    chosen = best_booster[: best.rounds]
    model = parse_booster(chosen)
    tables = firmware_tables(model, job["quantization"])
    if job["size_fn"](tables) != best.size_bytes:
        raise BaselineError("XGBoost model size changed after slicing the booster (internal error)")
    return XGBSearchResult(best, chosen, model, tables, candidates, trials, time.monotonic() - start,
                           fitting[most_accurate(items)][0])


def _items(fitting: list) -> list:
    """(accuracy, latency, size) of each fitting candidate, for `dwn_mcu.selection`."""
    return [(c.val_accuracy, c.latency, c.size_bytes) for c, _ in fitting]


def _candidate(depth, lr, max_bin, rounds, num_margins, sizes, acc, fits) -> XGBCandidate:
    return XGBCandidate(depth=int(depth), learning_rate=float(lr), max_bin=int(max_bin), rounds=int(rounds),
                        trees=int(rounds * num_margins), table_bytes=int(sizes[1]), size_bytes=int(sizes[0]),
                        val_accuracy=acc, fits=bool(fits), latency=sizes[2], layout=sizes[3])
