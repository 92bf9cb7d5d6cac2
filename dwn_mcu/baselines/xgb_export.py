"""XGBoost models as flash-resident C tables that agree with `xgboost`'s own predictions bit for bit.

Three pure steps, each a function from one artifact to the next:

* `parse_booster(booster) -> XGBModel`: the trees read from XGBoost's JSON (`save_raw("json")`), with
  every float rounded correctly to float32 (the JSON prints shortest decimals; `float()` then a float32
  cast can round twice), and the base margin asked from xgboost itself (see `base_margin`).
* `pack(model) -> XGBTables`: the representation the C walks (NumPy only, no xgboost needed).
* `render_sources(tables, name) -> {filename: text}`: C99 from the Jinja templates in
  `firmware_templates/xgboost/`.

The representation ("ranks"), chosen because it is both the smallest and, beyond a handful of trees,
the fastest exact form (see docs/baselines.md for the measured alternatives):

* Per feature, the sorted unique split values that any tree uses, stored as order-preserving uint32
  keys. Once per inference each feature is binary-searched into a bin, `bin = #{t : t <= x}`; then
  XGBoost's test `x < t_r` (float32) is exactly `bin <= r`, a one-byte compare. NaN gets a bin code of
  its own and takes the node's default child. `-0.0` and `+0.0` get the same key (they compare equal).
* Internal nodes in preorder, as three parallel arrays of the narrowest unsigned type that holds them:
  `feat` = feature << 2 | default_left << 1 | right_child_is_leaf, `rank` (the split value's index in
  its feature's list) and `skip` (the number of internal nodes in the left subtree; 0 means the left
  child is a leaf). The left child is the next record; the right child is `skip + 1` records on. In a
  full binary tree the left subtree also holds `skip + 1` leaves, so the leaf cursor moves the same way.
* Leaves float32, left to right. One count of internal nodes per tree.
* Margins start at xgboost's base margin and add the leaves in float32 in tree order, as xgboost's CPU
  predictor does; multi-class tree `t` adds to class `t mod K`, the class is the argmax (ties to the
  lowest index, as `multi:softmax` and `numpy.argmax`). Binary: class 1 when the margin reaches the
  smallest float32 margin whose probability xgboost reports as above 0.5 (measured from xgboost, see
  `class1_min_margin`): `margin > 0` alone disagrees with xgboost for margins in (0, 8.9e-8].
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..compiler.pack import narrowest_uint, threshold_keys
from . import BaselineError

SUPPORTED_OBJECTIVES = ("binary:logistic", "multi:softmax", "multi:softprob")


@dataclass(frozen=True, eq=False)
class XGBTree:
    """One regression tree in xgboost's own node numbering (node 0 is the root; leaves have left == -1)."""

    left: np.ndarray  # (n,) int32
    right: np.ndarray  # (n,) int32
    feature: np.ndarray  # (n,) int32
    threshold: np.ndarray  # (n,) float32: the split value, or the leaf value at a leaf
    default_left: np.ndarray  # (n,) bool

    @property
    def num_internal(self) -> int:
        return int(np.count_nonzero(self.left >= 0))


@dataclass(frozen=True, eq=False)
class XGBModel:
    """A parsed gradient-boosted tree ensemble: everything its predictions depend on."""

    num_features: int
    num_classes: int
    objective: str
    base_margin: np.ndarray  # (num_margins,) float32
    trees: tuple  # of XGBTree; tree t adds to margin t mod num_margins
    class1_min_margin: float  # binary only: class 1 iff margin >= this (float32 value)

    @property
    def num_margins(self) -> int:
        return 1 if self.num_classes == 2 else self.num_classes

    @property
    def num_rounds(self) -> int:
        return len(self.trees) // self.num_margins

    def first_rounds(self, rounds: int) -> "XGBModel":
        """The model made of the first `rounds` boosting rounds (what `booster[:rounds]` predicts)."""
        return XGBModel(self.num_features, self.num_classes, self.objective, self.base_margin,
                        self.trees[: rounds * self.num_margins], self.class1_min_margin)


# ---------------------------------------------------------------- parse


def _f32(text: str) -> np.float32:
    """The float32 nearest to a decimal string (ties to even), without rounding twice through float64."""
    v = np.float32(float(text))
    if not np.isfinite(v):
        return v
    exact = Fraction(text)
    best = v
    best_err = abs(Fraction(float(v)) - exact)
    for c in (np.nextafter(v, np.float32(-np.inf)), np.nextafter(v, np.float32(np.inf))):
        if not np.isfinite(c):
            continue
        err = abs(Fraction(float(c)) - exact)
        if err < best_err or (err == best_err and int(c.view(np.uint32)) % 2 == 0):
            best, best_err = c, err
    return np.float32(best)


def _model_json(booster, exact: bool = False) -> dict:
    """The model's JSON; with `exact`, decimal numbers stay strings so `_f32` can round each one once."""
    return json.loads(bytes(booster.save_raw("json")), parse_float=str if exact else float)


def _load_json(doc: dict):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(doc).encode()))
    return booster


def base_margin(booster, num_features: int) -> np.ndarray:
    """The margin xgboost starts every prediction from, exactly as float32 (one value per margin).

    The JSON prints `base_score` with too few digits to round-trip, and xgboost turns a probability into
    a margin with its own float arithmetic; so ask xgboost: a copy whose leaves are all zero predicts
    its base margin plus zeros."""
    doc = _model_json(booster)
    for tree in doc["learner"]["gradient_booster"]["model"]["trees"]:
        tree["split_conditions"] = [
            0.0 if left == -1 else cond for left, cond in zip(tree["left_children"], tree["split_conditions"])
        ]
    import xgboost as xgb

    zero = _load_json(doc)
    out = zero.predict(xgb.DMatrix(np.zeros((1, num_features), np.float32)), output_margin=True)
    return np.asarray(out, dtype=np.float32).reshape(-1)


@functools.lru_cache(maxsize=None)
def class1_min_margin() -> float:
    """The smallest positive float32 margin that the installed xgboost turns into a probability above
    0.5 (the rule `XGBClassifier.predict` applies). Measured with single-leaf models: xgboost's float32
    sigmoid rounds tiny positive margins to exactly 0.5."""
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 1)).astype(np.float32)
    one = xgb.train({"max_depth": 1, "objective": "binary:logistic", "base_score": 0.5, "nthread": 1},
                    xgb.DMatrix(X, label=(X[:, 0] > 0).astype(np.float32)), 1)
    doc = _model_json(one)
    row = xgb.DMatrix(np.zeros((1, 1), np.float32))

    def proba(bits: int) -> float:
        d = json.loads(json.dumps(doc))
        tree = d["learner"]["gradient_booster"]["model"]["trees"][0]
        value = float(np.uint32(bits).view(np.float32))
        tree["split_conditions"] = [value] * len(tree["split_conditions"])
        booster = _load_json(d)
        assert float(booster.predict(row, output_margin=True)[0]) == value
        return float(booster.predict(row)[0])

    lo, hi = 0, int(np.float32(1e-3).view(np.uint32))  # proba(lo) == 0.5, proba(hi) > 0.5
    if proba(lo) > 0.5 or proba(hi) <= 0.5:
        raise BaselineError("xgboost's sigmoid does not behave as expected around a margin of 0")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if proba(mid) > 0.5:
            hi = mid
        else:
            lo = mid
    return float(np.uint32(hi).view(np.float32))


def parse_booster(booster) -> XGBModel:
    """Read a trained `xgboost.Booster` (gbtree, numerical splits, one value per leaf)."""
    doc = _model_json(booster, exact=True)
    learner = doc["learner"]
    objective = learner["objective"]["name"]
    if objective not in SUPPORTED_OBJECTIVES:
        raise BaselineError(f"xgboost objective {objective!r} is not supported (use one of "
                            f"{', '.join(SUPPORTED_OBJECTIVES)})")
    gb = learner["gradient_booster"]
    if gb.get("name") != "gbtree":
        raise BaselineError(f"xgboost booster {gb.get('name')!r} is not supported (only gbtree)")
    params = learner["learner_model_param"]
    num_features = int(params["num_feature"])
    num_class = int(params["num_class"])
    if int(params.get("num_target", "1")) != 1:
        raise BaselineError("multi-target xgboost models are not supported")
    num_classes = 2 if objective.startswith("binary:") else num_class
    num_margins = 1 if num_classes == 2 else num_classes
    model = gb["model"]
    tree_info = [int(c) for c in model["tree_info"]]
    if tree_info != [t % num_margins for t in range(len(tree_info))]:
        raise BaselineError("xgboost trees are not in round-robin class order (num_parallel_tree > 1?)")
    trees = []
    for t, tree in enumerate(model["trees"]):
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1 or any(int(s) for s in tree["split_type"]):
            raise BaselineError(f"xgboost tree {t} has vector leaves or categorical splits (not supported)")
        left = np.asarray(tree["left_children"], dtype=np.int32)
        threshold = np.array([_f32(s) if isinstance(s, str) else np.float32(s) for s in tree["split_conditions"]],
                             dtype=np.float32)
        trees.append(XGBTree(
            left=left,
            right=np.asarray(tree["right_children"], dtype=np.int32),
            feature=np.asarray(tree["split_indices"], dtype=np.int32),
            threshold=threshold,
            default_left=np.asarray(tree["default_left"], dtype=bool),
        ))
    margin = base_margin(booster, num_features)
    if margin.shape != (num_margins,):
        raise BaselineError(f"xgboost base margin has shape {margin.shape}, expected ({num_margins},)")
    return XGBModel(num_features, num_classes, objective, margin, tuple(trees),
                    class1_min_margin() if num_classes == 2 else 0.0)


# ---------------------------------------------------------------- pack


def narrowest(max_value: int) -> np.dtype:
    """The narrowest unsigned type that holds 0..max_value (the DWN packer's rule)."""
    try:
        return narrowest_uint(max_value)
    except ValueError:
        raise BaselineError(f"a table value {max_value} does not fit in 32 bits") from None


@dataclass(frozen=True, eq=False)
class XGBTables:
    """The arrays the C walks (see the module docstring); every array is in flash on the target."""

    num_features: int
    num_classes: int
    base_margin: np.ndarray  # (M,) float32
    class1_min_margin: float
    thr_keys: np.ndarray  # (U,) uint32, per feature ascending
    thr_start: np.ndarray  # (F + 1,) offsets into thr_keys
    tree_nodes: np.ndarray  # (T,) internal nodes per tree
    node_feat: np.ndarray  # (N,) feature << 2 | default_left << 1 | right_is_leaf
    node_rank: np.ndarray  # (N,) index of the split value among its feature's keys
    node_skip: np.ndarray  # (N,) internal nodes in the left subtree
    leaves: np.ndarray  # (T + N,) float32
    # "float32": thr_keys are the split values' uint32 keys. "int16" (`xgb_integer.integer_tables`): the
    # inputs are int16 `k` standing for float32(k * input_scale + input_offset), thr_keys are int16
    # thresholds K (`x < split` is `k < K`), a node whose rank is its feature's count has K = 32768 (left).
    input_type: str = "float32"
    input_scale: np.ndarray | None = None  # (F,) float64, int16 only
    input_offset: np.ndarray | None = None  # (F,) float64, int16 only

    @property
    def num_margins(self) -> int:
        return int(self.base_margin.shape[0])

    @property
    def num_trees(self) -> int:
        return int(self.tree_nodes.shape[0])

    @property
    def is_float(self) -> bool:
        return self.input_type == "float32"

    @property
    def nan_bin(self) -> int:
        """The bin code of a NaN input: the largest value of the rank type (no real bin reaches it)."""
        return int(np.iinfo(self.node_rank.dtype).max)

    def arrays(self) -> dict:
        return {"base_margin": self.base_margin, "thr_keys": self.thr_keys, "thr_start": self.thr_start,
                "tree_nodes": self.tree_nodes, "node_feat": self.node_feat, "node_rank": self.node_rank,
                "node_skip": self.node_skip, "leaves": self.leaves}

    @property
    def table_bytes(self) -> int:
        """Bytes of constant tables (all in flash), exactly as the C declares them."""
        return int(sum(a.nbytes for a in self.arrays().values()))

    @property
    def ram_bytes(self) -> int:
        """Bytes of working memory the C uses besides its scalars: the bins and the margins."""
        return self.num_features * self.node_rank.dtype.itemsize + 4 * self.num_margins

    @property
    def input_bytes(self) -> int:
        """Bytes of one input row as the caller holds it (float32 or int16 per feature)."""
        return self.num_features * (4 if self.is_float else 2)


def _preorder(tree: XGBTree):
    """Internal nodes in preorder (node id, skip, right child is a leaf) and leaf ids left to right."""
    internal_below = np.zeros(tree.left.shape[0], dtype=np.int64)
    order, stack = [], [0]
    while stack:  # preorder, left before right
        n = stack.pop()
        order.append(n)
        if tree.left[n] >= 0:
            stack.append(int(tree.right[n]))
            stack.append(int(tree.left[n]))
    for n in reversed(order):  # children come after their parent in preorder
        if tree.left[n] >= 0:
            internal_below[n] = 1 + internal_below[tree.left[n]] + internal_below[tree.right[n]]
    nodes = [(n, int(internal_below[tree.left[n]]), bool(tree.left[tree.right[n]] < 0))
             for n in order if tree.left[n] >= 0]
    leaves = [n for n in order if tree.left[n] < 0]
    return nodes, leaves


def pack(model: XGBModel) -> XGBTables:
    """Lay out a parsed model as the C's tables (pure NumPy)."""
    F = model.num_features
    per_tree = [_preorder(tree) for tree in model.trees]
    feats, thr, dleft, rleaf, skips, leaves, counts = [], [], [], [], [], [], []
    for tree, (nodes, leaf_ids) in zip(model.trees, per_tree):
        counts.append(len(nodes))
        for n, skip, right_leaf in nodes:
            feats.append(int(tree.feature[n]))
            thr.append(tree.threshold[n])
            dleft.append(bool(tree.default_left[n]))
            rleaf.append(right_leaf)
            skips.append(skip)
        leaves.extend(tree.threshold[leaf_ids])
    feats = np.asarray(feats, dtype=np.int64)
    if feats.size and (feats.min() < 0 or feats.max() >= F):
        raise BaselineError(f"xgboost split on feature {int(feats.max())}, but the model has {F} features")
    keys = threshold_keys(np.asarray(thr, dtype=np.float32))
    key_lists = [np.unique(keys[feats == f]) for f in range(F)]
    start = np.concatenate([[0], np.cumsum([k.size for k in key_lists])]).astype(np.int64)
    ranks = np.zeros(feats.size, dtype=np.int64)
    for f in range(F):
        sel = feats == f
        ranks[sel] = np.searchsorted(key_lists[f], keys[sel])
    # Bins run 0..U_f; the NaN code (the rank type's maximum) must stay above them.
    rank_t = narrowest(max([k.size for k in key_lists] + [0]) + 1)
    code = (feats << 2) | (np.asarray(dleft, np.int64) << 1) | np.asarray(rleaf, np.int64)
    return XGBTables(
        num_features=F,
        num_classes=model.num_classes,
        base_margin=np.asarray(model.base_margin, np.float32),
        class1_min_margin=float(model.class1_min_margin),
        thr_keys=(np.concatenate(key_lists) if key_lists else np.zeros(0)).astype(np.uint32),
        thr_start=start.astype(narrowest(int(start[-1]))),
        tree_nodes=np.asarray(counts, np.int64).astype(narrowest(max(counts + [0]))),
        node_feat=code.astype(narrowest(max(4 * F - 1, 0))),
        node_rank=ranks.astype(rank_t),
        node_skip=np.asarray(skips, np.int64).astype(narrowest(max(skips + [0]))),
        leaves=np.asarray(leaves, dtype=np.float32).reshape(-1),
    )


# ---------------------------------------------------------------- reference walk of the tables


def _bins(tables: XGBTables, X) -> np.ndarray:
    """Each input's bin, as the C computes it: the number of its feature's stored thresholds <= it
    (float32 inputs: by keys, NaN -> `nan_bin`; int16 inputs: the integers themselves, never NaN)."""
    from .xgb_integer import integer_inputs

    X = np.asarray(X, dtype=np.float32) if tables.is_float else integer_inputs(X)
    if X.ndim != 2 or X.shape[1] != tables.num_features:
        raise BaselineError(f"inputs of shape {X.shape} do not match {tables.num_features} features")
    bins = np.empty(X.shape, dtype=np.int64)
    for f in range(tables.num_features):
        keys = tables.thr_keys[int(tables.thr_start[f]): int(tables.thr_start[f + 1])]
        bins[:, f] = np.searchsorted(keys, threshold_keys(X[:, f]) if tables.is_float else X[:, f], side="right")
    if tables.is_float:
        bins[np.isnan(X)] = tables.nan_bin
    return bins


def predict_tables(tables: XGBTables, X) -> tuple:
    """What the generated C computes, in NumPy: (classes (N,) int64, margins (N, M) float32). X: float32
    rows, or int16 integers for int16 tables."""
    bins = _bins(tables, X)
    n_rows = bins.shape[0]
    feat = tables.node_feat.astype(np.int64)
    rank = tables.node_rank.astype(np.int64)
    skip = tables.node_skip.astype(np.int64)
    margins = np.tile(tables.base_margin, (n_rows, 1))
    rows = np.arange(n_rows)
    node0 = leaf0 = 0
    for t, count in enumerate(tables.tree_nodes.astype(np.int64)):
        node = np.full(n_rows, node0)
        leaf = np.full(n_rows, leaf0)
        active = np.full(n_rows, count > 0)
        while active.any():
            a = rows[active]
            code, r, s = feat[node[a]], rank[node[a]], skip[node[a]]
            b = bins[a, code >> 2]
            go_left = np.where((b == tables.nan_bin) & tables.is_float, (code & 2) != 0, b <= r)
            done = np.where(go_left, s == 0, (code & 1) != 0)
            leaf[a] = np.where(go_left, leaf[a], leaf[a] + s + 1)
            node[a] = np.where(go_left, node[a] + 1, node[a] + s + 1)
            active[a[done]] = False
        m = t % tables.num_margins
        margins[:, m] = margins[:, m] + tables.leaves[leaf]  # float32 + float32, one rounding per tree
        node0 += int(count)
        leaf0 += int(count) + 1
    if tables.num_margins == 1:
        classes = (margins[:, 0] >= np.float32(tables.class1_min_margin)).astype(np.int64)
    else:
        classes = np.argmax(margins, axis=1).astype(np.int64)
    return classes, margins


# ---------------------------------------------------------------- render

_C_TYPES = {np.dtype(np.uint8): ("uint8_t", "pgm_read_byte"), np.dtype(np.uint16): ("uint16_t", "pgm_read_word"),
            np.dtype(np.uint32): ("uint32_t", "pgm_read_dword"), np.dtype(np.int16): ("int16_t", "pgm_read_word")}


def _c_float(v) -> str:
    """An exact C99 hexadecimal float literal for a float32 value."""
    v = float(np.float32(v))
    if v == 0:
        return "0.0f" if not np.signbit(v) else "-0.0f"
    mantissa, exponent = v.hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def _c_array(values: np.ndarray) -> dict:
    ctype, reader = _C_TYPES.get(values.dtype, ("float", "pgm_read_float"))
    if values.dtype == np.float32:
        items = [_c_float(v) for v in values]
    elif values.dtype == np.uint32:
        items = [f"0x{int(v):08X}UL" for v in values]
    elif values.dtype == np.int16:  # -32768 as a C constant expression: 32768 alone does not fit an AVR int
        items = ["(-32767 - 1)" if int(v) == -32768 else str(int(v)) for v in values]
    else:
        items = [str(int(v)) for v in values]
    return {"ctype": ctype, "read": reader, "elems": items or ["0"], "size": int(values.size)}


def input_scaling(tables: XGBTables) -> list:
    """(feature, scale, offset) as exact decimal text for an int16 model's header ([] for float inputs)."""
    if tables.is_float:
        return []
    pairs = zip(tables.input_scale, tables.input_offset)
    return [(f, repr(float(s)), repr(float(o))) for f, (s, o) in enumerate(pairs)]


def render_sources(tables: XGBTables, name: str, layout: str = "table") -> dict:
    """`{NAME.h: text, NAME.c: text}`: the model as a C99 library with API
    `uint8_t NAME_predict(const NAME_input_t *features, float *margins)` (float, or int16 for the integer
    form `xgb_integer.integer_tables`), in `layout` ("table": the node
    tables above; "inline": if/else code, `xgb_inline`). `xgb_plan.lower_xgboost` chooses the layout."""
    from ..compiler.cgen import c_identifier, environment

    c_identifier(name, "model name", BaselineError)
    if layout == "inline":
        from .xgb_inline import render_inline

        return render_inline(tables, name)
    if layout != "table":
        raise BaselineError(f"unknown XGBoost layout {layout!r} (table, inline)")
    env = environment("xgboost", trim_blocks=True)
    arrays = {k: _c_array(v) for k, v in tables.arrays().items()}
    ctx = {
        "name": name, "NAME": name.upper(), "t": tables, "a": arrays,
        "num_nodes": int(tables.node_feat.size), "num_leaves": int(tables.leaves.size),
        "num_thresholds": int(tables.thr_keys.size), "class1_min_margin": _c_float(tables.class1_min_margin),
        "class1_min_key": f"0x{int(threshold_keys(np.float32([tables.class1_min_margin]))[0]):08X}UL",
        "node_index_t": _C_TYPES[narrowest(max(int(tables.node_feat.size), 1))][0],
        "leaf_index_t": _C_TYPES[narrowest(max(int(tables.leaves.size), 1))][0],
        "feature_t": _C_TYPES[narrowest(max(tables.num_features, 255))][0], "layout": "table",
        "inputs": input_scaling(tables),
    }
    return {f"{name}.h": env.get_template("model.h.j2").render(ctx),
            f"{name}.c": env.get_template("model.c.j2").render(ctx)}
