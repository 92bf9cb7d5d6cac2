"""What the search explores, per family, and each trial's seed.

A space is a list of named dimensions; `suggest` asks an Optuna trial for one value of each (Optuna
itself is not imported here: the trial object is passed in). The same rules hold for every family: one
trial is one trained model, its seed comes from its parameters (`trial_seed`), and it is scored on the
same validation rows and priced by the same board's planner."""

from __future__ import annotations

import hashlib
import json

FAMILIES = ("dwn", "xgboost")
SPACE_VERSION = 1  # bump when a space changes: a --resume folder of another version is refused

# (name, kind, choices or (low, high)); "int_log"/"float_log": sampled on a log scale
DWN_SPACE = (
    ("lut_inputs", "categorical", (2, 3, 4, 5, 6)),
    ("bits", "categorical", (8, 16, 32, 64)),
    ("layers", "categorical", (1, 2)),
    ("luts_per_class", "int_log", (1, 128)),  # last layer's LUTs per class; a first layer of twice as many
    ("lr", "float_log", (1e-3, 3e-2)),
)
XGB_SPACE = (
    ("depth", "int", (1, 8)),
    ("learning_rate", "float_log", (0.05, 0.5)),
    ("max_bin", "categorical", (16, 64, 256)),
    ("rounds", "int_log", (1, 400)),
)
SPACES = {"dwn": DWN_SPACE, "xgboost": XGB_SPACE}


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
