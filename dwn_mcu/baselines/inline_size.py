"""The inline XGBoost layout's code size and stack frame on a board, by formula: a linear price per
architecture over what the generated C contains (`size_features`: its decision nodes, leaves, trees,
keyed features, margins), fitted by bench/calibrate_inline_size.py to the objects the board's compiler
builds (`object_size`) and written to `inline_size_constants.py`, as the latency price is to the
emulators (`dwn_mcu.latency`). Building an object per candidate made the XGBoost search slow (a compiler
run per priced model); the formula costs microseconds.

The code price is a fit, not a bound: it can be a little under the object (its error on held-out models
is tested, tests/test_inline_size.py), and `compare` judges the built ELF, searching again with a
lowered plan when it overshoots, as for every family. The frame is an upper envelope (its constants are
raised until no model of the corpus is over): RAM is not re-searched. An architecture without fitted
constants (`can_size`: none, or a fit worse than the calibration's MAX_FIT_ERROR, as on the Cortex-M
targets, where GCC duplicates tree code) is refused here, not guessed; `xgb_plan` builds its objects.
"""

from __future__ import annotations

import math

import numpy as np

from . import BaselineError


def size_features(tables) -> dict:
    """What the inline C of `tables` holds, by the kind of code each piece compiles to: a compare and
    branch per decision node (default-right ones subtract first), a float load per leaf, an add per tree
    into its margin, a key per feature some split reads, a base and a copy per margin. The int16 form
    (`xgb_integer`): the nodes and leaves it emits (constant nodes pruned), no keys, no default child."""
    from .xgb_inline import emitted, used_features

    feat = tables.node_feat.astype(np.int64)
    nodes, leaves = emitted(tables)
    right_default = int(np.count_nonzero((feat & 2) == 0)) if tables.is_float else 0
    return {"base": 1, "node": nodes, "right_default": right_default,
            "leaf": leaves, "tree": int(tables.num_trees), "feature": len(used_features(tables)),
            "margin": int(tables.num_margins), "input": int(tables.num_features)}


def constants_key(arch: str, input_type: str = "float32") -> str:
    """The constants' key of the inline C of `input_type` inputs on `arch` (each form is fitted apart)."""
    return arch if input_type == "float32" else f"{arch} {input_type}"


#: the features the frame is priced on: the C's arrays (a key per input, a float per margin) and a fixed part
FRAME_FEATURES = ("base", "input", "margin")


def _constants(arch: str, input_type: str = "float32") -> dict:
    from .inline_size_constants import FRAME, SIZE

    key = constants_key(arch, input_type)
    if key not in SIZE or key not in FRAME:
        raise BaselineError(f"the inline XGBoost layout's code size on {arch} ({input_type} inputs) has not "
                            "been fitted (bench/calibrate_inline_size.py)")
    return SIZE[key], FRAME[key]


def can_size(arch: str, input_type: str = "float32") -> bool:
    from .inline_size_constants import FRAME, SIZE

    key = constants_key(arch, input_type)
    return key in SIZE and key in FRAME


def _price(features: dict, costs: dict) -> int:
    return int(math.ceil(sum(costs.get(k, 0.0) * v for k, v in features.items())))


def inline_size(tables, arch: str) -> tuple[int, int, int]:
    """(code and constant bytes, RAM data bytes, stack frame bytes) of the inline library of `tables`
    built for `arch`, by the fitted formula (what `object_size` would measure; the data is none: every
    constant is an immediate)."""
    code, frame = _constants(arch, tables.input_type)
    f = size_features(tables)
    return _price(f, code), 0, _price({k: f[k] for k in FRAME_FEATURES}, frame)
