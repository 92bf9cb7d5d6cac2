"""What the search explores, per family, and each trial's seed.

A space is a list of named dimensions; `suggest` asks an Optuna trial for one value of each (Optuna
itself is not imported here: the trial object is passed in). The same rules hold for every family: one
trial is one trained model, its seed comes from its parameters (`trial_seed`), and it is scored on the
same validation rows and priced by the same board's planner."""

from __future__ import annotations

import hashlib
import json

FAMILIES = ("dwn", "xgboost")
SPACE_VERSION = 2  # bump when a space changes: a --resume folder of another version is refused

# (name, kind, choices or (low, high)); "int_log"/"float_log": sampled on a log scale
DWN_SPACE = (
    ("lut_inputs", "categorical", (2, 3, 4, 5, 6)),
    ("bits", "categorical", (8, 16, 32, 64)),
    ("layers", "categorical", (1, 2)),
    ("luts_per_class", "int_log", (1, 2048)),  # last layer's LUTs per class (to MAX_LUTS at 2 classes)
    ("lr", "float_log", (1e-3, 3e-2)),
)
XGB_SPACE = (
    ("depth", "int", (1, 8)),
    ("learning_rate", "float_log", (0.05, 0.5)),
    ("max_bin", "categorical", (16, 64, 256)),
    ("rounds", "int_log", (1, 400)),
)
SPACES = {"dwn": DWN_SPACE, "xgboost": XGB_SPACE}
DEFAULT_LR = 1e-2  # the trainer's (training.classifier), where the first trials start


def suggest(trial, family: str) -> dict:
    """One value per dimension of `family`'s space, from an Optuna trial (define-by-run)."""
    params = {}
    for name, kind, span in SPACES[family]:
        if kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(span))
        elif kind in ("int", "int_log"):
            params[name] = trial.suggest_int(name, span[0], span[1], log=kind == "int_log")
        else:
            params[name] = trial.suggest_float(name, span[0], span[1], log=kind == "float_log")
    return params


def first_dwn_trials(board, flash_budget: int, ram_budget: int, latency_budget, num_features: int,
                     num_classes: int, count: int, input_type: str = "float32") -> list:
    """The parameters of the DWN study's first `count` trials: the first shapes of the in-process search
    (`budget_search.default_shapes`: each one-layer family at its largest width the planner fits, then
    its halves), at the trainer's default learning rate. A sampler that starts from random points spends
    its first rounds on shapes far under or over the budget; starting here, the engine trains first what
    `compare`'s default search would, and learns from there. Widths past the space's range are clipped
    to it (a narrower shape fits too). `input_type`: the shapes priced as models of that input type."""
    from ..budget_search import default_shapes

    low, high = dict((name, span) for name, _, span in DWN_SPACE)["luts_per_class"]
    shapes = default_shapes(num_features, num_classes, board, flash_budget, ram_budget,
                            latency_budget=latency_budget, input_type=input_type)
    return [{"lut_inputs": s.lut_inputs, "bits": s.bits, "layers": len(s.luts),
             "luts_per_class": min(max(s.luts[-1] // num_classes, low), high), "lr": DEFAULT_LR}
            for s in shapes[:count]]


def trial_seed(family: str, params: dict, search_seed: int) -> int:
    """The trial's training seed: a hash of its family, parameters and the search's seed, so the same
    parameters train the same model whichever worker runs them and whenever."""
    text = json.dumps({"family": family, "params": params, "seed": search_seed}, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def describe() -> dict:
    """The spaces as plain data, for the manifest (a --resume folder must have searched the same space)."""
    return {"version": SPACE_VERSION, **{f: [list(map(_plain, d)) for d in SPACES[f]] for f in FAMILIES}}


def _plain(v):
    return list(v) if isinstance(v, tuple) else v
