"""The inline layout of an exported XGBoost model: each tree as if/else code, its split values and leaf
values as immediates, no node tables. It computes exactly what the table layout does (`xgb_export`):

* Each input becomes one order-preserving uint32 key per inference (`compiler.pack.threshold_keys`;
  -0.0 folded onto +0.0) and NaN becomes key 0, below every real key (the smallest is -inf's,
  0x007FFFFF). xgboost's test `x < split` (float32) is then `key < key(split)`, an integer compare
  against an immediate: on the AVR a soft-float compare costs 60+ cycles, this one a few.
* NaN takes the node's default child: a default-left node tests `key < K` (key 0 goes left); a
  default-right node tests `key - 1 < K - 1` in uint32 (key 0 wraps to the largest value and goes right;
  every real key is at least 1, so for them the test is unchanged).
* Each tree's leaf is loaded as an immediate into one float, and the tree adds it to its margin once:
  the same float32 additions, in the same tree order, from the same base margin, as xgboost.

`inline_trees(tables)` gives the trees as nested dicts for `firmware_templates/xgboost/model_inline.c.j2`
(the template prints them; it decides nothing).
"""

from __future__ import annotations

import numpy as np

from ..compiler.pack import threshold_keys
from . import BaselineError
from .xgb_export import XGBTables, _c_float, input_scaling
from .xgb_integer import constant_side, node_threshold

LAYOUTS = ("table", "inline")


def _tree(tables: XGBTables, keys: np.ndarray, node: int, leaf: int, count: int):
    """Tree rooted at preorder node `node` (first leaf `leaf`) as nested dicts; `count` internal nodes.
    int16 tables: a node every int16 takes the same way (`xgb_integer.constant_side`) is that subtree
    alone; the others test `k < K` (`"value"`: K)."""
    if count == 0:
        return {"leaf": _c_float(tables.leaves[leaf])}
    code, skip = int(tables.node_feat[node]), int(tables.node_skip[node])
    f = code >> 2
    side = None if tables.is_float else constant_side(tables, node)

    def left():
        return _tree(tables, keys, node + 1, leaf, skip)

    def right():
        return _tree(tables, keys, node + skip + 1, leaf + skip + 1, 0 if code & 1 else count - 1 - skip)
    if side is not None:
        return left() if side == "left" else right()
    if not tables.is_float:
        return {"feature": f, "value": node_threshold(tables, node), "left": left(), "right": right()}
    key = int(keys[int(tables.thr_start[f]) + int(tables.node_rank[node])])
    default_left = bool(code & 2)
    return {"feature": f, "default_left": default_left,
            "key": f"0x{(key if default_left else key - 1):08X}UL", "left": left(), "right": right()}


def inline_trees(tables: XGBTables) -> list:
    """Per tree (in tree order): {"margin": index it adds to, "root": nested node dicts}."""
    keys = tables.thr_keys.astype(np.int64)
    out, node, leaf = [], 0, 0
    for t, count in enumerate(tables.tree_nodes.astype(np.int64)):
        out.append({"margin": t % tables.num_margins, "root": _tree(tables, keys, node, leaf, int(count))})
        node += int(count)
        leaf += int(count) + 1
    return out


def _count(node: dict) -> tuple:
    if "leaf" in node:
        return 0, 1
    (n1, l1), (n2, l2) = _count(node["left"]), _count(node["right"])
    return 1 + n1 + n2, l1 + l2


def emitted(tables: XGBTables) -> tuple:
    """(decision nodes, leaves) the inline C holds: every one of the float form, those left after
    pruning the constant nodes of the int16 form."""
    if tables.is_float:
        return int(tables.node_feat.size), int(tables.leaves.size)
    counts = [_count(tree["root"]) for tree in inline_trees(tables)]
    return sum(n for n, _ in counts), sum(leaf for _, leaf in counts)


def used_features(tables: XGBTables) -> list:
    """The features some split reads (only they get a key; int16 inputs need none: [])."""
    if not tables.is_float:
        return []
    return [f for f in range(tables.num_features) if tables.thr_start[f + 1] > tables.thr_start[f]]


def inline_keys(X) -> np.ndarray:
    """The keys the inline C computes for rows X (NaN -> 0); tests hold the C's decisions to them."""
    X = np.asarray(X, dtype=np.float32)
    keys = threshold_keys(np.where(np.isnan(X), np.float32(0), X))
    keys[np.isnan(X)] = 0
    return keys


def render_inline(tables: XGBTables, name: str) -> dict:
    """`{NAME.h, NAME.c}` in the inline layout (the same header and API as the table layout)."""
    from ..compiler.cgen import c_identifier, environment

    c_identifier(name, "model name", BaselineError)
    env = environment("xgboost", trim_blocks=True)
    ctx = {
        "name": name, "NAME": name.upper(), "t": tables, "layout": "inline",
        "num_nodes": int(tables.node_feat.size), "num_leaves": int(tables.leaves.size),
        "num_thresholds": int(tables.thr_keys.size), "features": used_features(tables),
        "base_margin": [_c_float(b) for b in tables.base_margin], "trees": inline_trees(tables),
        "class1_min_key": f"0x{int(threshold_keys(np.float32([tables.class1_min_margin]))[0]):08X}UL",
        "inputs": input_scaling(tables),
    }
    return {f"{name}.h": env.get_template("model.h.j2").render(ctx),
            f"{name}.c": env.get_template("model_inline.c.j2").render(ctx)}
