"""Fit the planner's latency constants (`dwn_mcu/latency.py`) to the emulators and rewrite
`dwn_mcu/latency_constants.py`, the one place they live.

A corpus of models (DWN: several shapes, both layouts, float, float16-grid and integer inputs, random
thresholds and thresholds at a dataset's quantiles; unrolled models whose LUTs are functions of 1..3 inputs, and the random
models with every unrolled LUT in diagram form, for the diagram form's steps; XGBoost: several depths, rounds, features and classes;
on the QEMU targets through its test shim, whose memcpy of the margins is counted) is lowered
exactly as `build` lowers it, run in simavr (exact cycles) and QEMU (exact instructions) through
`dwn_mcu.targets.verify`, and the median per model is fitted by non-negative least squares on relative
error (each row divided by its measurement) to the features `dwn_mcu.latency` counts. Deterministic: the
same firmware gives the same constants. Rerun after any change to the templates:

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD python bench/calibrate_latency.py   # every architecture
    PYTHONPATH=$PWD python bench/calibrate_latency.py --arches avr cortex-m0plus --dry-run
    PYTHONPATH=$PWD python bench/calibrate_latency.py --families xgboost_inline emlearn forest   # the others kept
    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD python bench/calibrate_latency.py --check M.dwn

Families: dwn (one corpus run fits both DWN families: `dwn` on the float32-input models, `dwn_int` on the
integer-input ones, `latency.dwn_family`), xgboost (table layout), xgboost_inline, their int16-input forms xgboost_int16 and
xgboost_inline_int16 (`baselines.xgb_integer`, what `compare` builds), emlearn and forest (inline scikit-learn trees of
TREE_SHAPES on random int16 rows; their price weights each path by the training rows reaching its leaf).
"""

from __future__ import annotations

import argparse
import dataclasses
import pprint
import sys
import time
from pathlib import Path

import numpy as np

from constants_module import print_or_write, rerun_command

from dwn_mcu.architectures import ARCHITECTURES
from dwn_mcu.compiler.lower import lower
from dwn_mcu.compiler.render import render_library
from dwn_mcu.frozen import INPUT_TYPES
from dwn_mcu.integer_inputs import to_integer_model
from dwn_mcu.latency import dwn_family, dwn_features, xgb_features
from dwn_mcu.synthetic import random_model
from dwn_mcu.targets.toolchains import TargetError

CONSTANTS = Path(__file__).resolve().parents[1] / "dwn_mcu" / "latency_constants.py"
#: A board of each emulated architecture (what `lower` plans for).
BOARD = {"avr": "nano", "cortex-m0plus": "pico", "cortex-m3": "bluepill", "cortex-m4f": "nucleo_f401re",
         "riscv32": "esp32c3"}
ROWS = 24  # test rows per model: the median of their latencies is fitted

#: (features, bits per feature, LUTs per layer, n, classes, inputs): inputs float32, f16 (thresholds on the
#: float16 grid: 16-bit keys) or an integer type.
DWN_SHAPES = [
    (2, 8, (14,), 6, 2, "float32"), (5, 16, (50,), 6, 2, "float32"), (5, 32, (60, 30), 6, 3, "f16"),
    (10, 12, (40,), 4, 4, "float32"), (19, 8, (70,), 6, 7, "f16"), (8, 20, (24, 12), 5, 2, "float32"),
    (4, [9, 3, 12, 6], (36, 12), [6, 3], 3, "float32"), (3, 64, (30,), 2, 3, "float32"),
    (6, 10, (48,), 8, 4, "f16"), (12, 6, (20, 10), 7, 2, "float32"), (5, 16, (40,), 6, 2, "int16"),
    # features without thresholds (what the optimizer leaves of a small model on many features)
    (12, [0, 4, 0, 0, 8, 0, 2, 0, 0, 6, 0, 1], (7,), 4, 7, "f16"),
    (12, [3, 0, 0, 9, 0, 0, 0, 5, 0, 0, 2, 0], (8,), 4, 2, "float32"),
    (10, [0, 12, 0, 0, 0, 6, 0, 0, 3, 0], (12,), 6, 3, "int16"),
    (9, [0, 5, 0, 4, 0, 0, 7, 0, 3], (12,), 4, 3, "float32"), (8, [0, 6, 0, 0, 8, 0, 2, 0], (12,), 4, 2, "float32"),
    (8, 12, (36, 12), [6, 3], 3, "uint8"), (3, 24, (28,), 4, 2, "int8"), (16, 4, (90,), 6, 10, "f16"),
    # the trained models compare chooses at 2 KB and a few hundred cycles, int16 as compare builds them: a
    # handful of n = 4 LUTs, one to seven thresholds on each feature they read (the optimizer's leavings)
    (14, [0, 0, 3, 0, 3, 2, 1, 1, 1, 2, 0, 1, 2, 1], (6,), 4, 2, "int16"),
    (8, [0, 6, 1, 4, 2, 3, 5, 1], (6,), 4, 2, "int16"), (9, [2, 1, 0, 3, 1, 2, 0, 2, 1], (6,), 4, 2, "int16"),
    (2, [5, 7], (14,), 4, 2, "int16"), (5, [8, 6, 7, 5, 9], (22,), 4, 2, "int16"),
    (19, [0, 2, 0, 1, 3, 0, 0, 2, 1, 0, 4, 1, 0, 2, 0, 3, 1, 0, 2], (14,), 4, 7, "int16"),
    # and at 2-8 KB: tens of LUTs over a few features, or over many
    (5, [20, 14, 18, 12, 16], (28,), 4, 2, "int16"), (19, 6, (49,), 4, 7, "int16"),
    # layers reading more than 256 bits: 12-bit mapping entries (AVR's fast path unpacks each one)
    (19, 32, (119,), 4, 7, "int16"), (10, 64, (90,), 6, 3, "float32"),
]
#: (dataset, thresholds per feature at most, LUTs per class per layer, n, float16 grid): random LUTs over
#: thresholds at the quantiles of a real dataset's features (as a thermometer fit puts them: uneven
#: counts, real magnitudes), run on its test rows. Datasets not found (DWN_MCU_DATA) are left out.
DATA_SHAPES = [("phoneme", 24, (10,), 6, True), ("phoneme", 32, (12, 6), 4, False), ("wisconsin", 64, (20,), 6, True),
               ("segment", 24, (8,), 6, True), ("segment", 12, (4,), 5, False), ("australian", 32, (25,), 6, True),
               ("pima", 16, (30,), 4, False), ("banana", 48, (15,), 6, True),
               # a few thresholds per feature: what the optimizer leaves of the small models a 2 KB budget gets
               ("segment", 3, (1,), 4, True), ("australian", 4, (4,), 4, True), ("wisconsin", 3, (3,), 6, False)]
#: (features, classes, depth, rounds)
XGB_SHAPES = [(4, 2, 2, 5), (4, 2, 4, 20), (12, 2, 6, 10), (8, 3, 3, 8), (6, 4, 5, 4), (16, 2, 1, 30),
              (10, 2, 3, 40), (5, 3, 2, 15)]


def dwn_model(seed: int, F, bits, luts, n, classes, inputs):
    """A random model of the shape, and `ROWS` rows of inputs spanning its thresholds."""
    model = random_model(seed=seed, num_features=F, bits_per_feature=bits, luts=luts, n=n, num_classes=classes)
    rng = np.random.default_rng(seed + 1)
    X = rng.normal(0, 1.2, size=(ROWS, F)).astype(np.float32)
    if inputs == "f16":
        grid = [np.linspace(-2.0, 2.0, int(b)) + 0.1 * f for f, b in enumerate(model.bits_per_feature)]
        grid = np.concatenate(grid).astype(np.float16).astype(np.float32)  # distinct float16 values
        model = dataclasses.replace(model, thresholds=grid).validate()
    elif inputs != "float32":
        lo, hi = INPUT_TYPES[inputs]
        scale = 8.0 / (hi - lo)  # the type's range stands for [-4, 4]
        model = to_integer_model(model, inputs, scale, -4.0 - lo * scale)
        X = np.clip(np.round((X + 4.0) / scale + lo), lo, hi).astype(np.int64)
    return model, X


def few_input_tables(model, seed: int, fewest: int = 1, most: int = 3):
    """`model` with each LUT's table replaced by a random function of `fewest`..`most` of its inputs
    (what trained LUTs often are). Functions of 1..3 inputs are small decision diagrams, so the unrolled
    layout's diagram form enters the corpus; with `fewest`, `most` near n and the exact passes on
    (`measure_dwn(optimize=True)`), the don't-care inputs go and the layers have mixed input counts, as
    a trained model's have after the optimizer (the C path off AVR's assembly)."""
    rng = np.random.default_rng(seed)
    layers = []
    for layer in model.layers:
        tables = []
        for j in range(layer.num_luts):
            n = int(layer.n_inputs[j])
            addr = np.arange(1 << n)
            size = min(n, fewest + int(rng.integers(most - fewest + 1)))
            keep = rng.choice(n, size=size, replace=False) if n else np.zeros(0, int)
            sub = sum((((addr >> int(s)) & 1) << k for k, s in enumerate(keep)), np.zeros_like(addr))
            tables.append(rng.integers(0, 2, 1 << keep.size)[sub].astype(np.uint8))
        layers.append(dataclasses.replace(layer, tables=np.concatenate(tables)))
    return dataclasses.replace(model, layers=tuple(layers)).validate()


def mixed_count_tables(model, seed: int):
    """`model` with each LUT a random function of n - 3 .. n of its n inputs (at least 1): after the exact
    passes, layers of mixed input counts, like a trained model's."""
    n = int(max(int(layer.n_inputs.max()) for layer in model.layers))
    return few_input_tables(model, seed, max(1, n - 3), n)


def data_model(seed: int, dataset, bits, luts_per_class, n, f16):
    """A random model over quantile thresholds of `dataset` (see DATA_SHAPES) and `ROWS` of its test rows;
    None when the dataset is not found."""
    from dwn_mcu.data import load_dataset
    from dwn_mcu.errors import DWNError

    try:
        ds = load_dataset(dataset)
    except DWNError:
        return None
    X, Xt = ds.train_split()[0], ds.test_split()[0][:ROWS]
    grid = []
    for f in range(X.shape[1]):
        q = np.quantile(X[:, f], np.linspace(0.02, 0.98, bits)).astype(np.float32)
        grid.append(np.unique(q.astype(np.float16).astype(np.float32) if f16 else q))
    luts = tuple(k * ds.num_classes for k in luts_per_class)
    model = random_model(seed=seed, num_features=X.shape[1], bits_per_feature=[len(g) for g in grid], luts=luts,
                         n=n, num_classes=ds.num_classes)
    return dataclasses.replace(model, thresholds=np.concatenate(grid)).validate(), Xt


def measure_dwn(model, X, arch: str, layout: str, encoder: str | None = None, name: str = "lat",
                all_diagrams: bool = False, optimize: bool = False):
    """(features, median latency) of `model` lowered for the architecture's board in `layout` (`encoder`:
    the encoder's search, None: the planner's); `all_diagrams`: every unrolled LUT in diagram form (the
    planner's `lut_forms` replaced for the run), so that the corpus holds large diagrams with long paths
    too, not only the ones the rule picks; `optimize`: the exact passes and the input-count form, as
    `build` lowers a model."""
    from dwn_mcu.compiler import plan as plan_module
    from dwn_mcu.targets.verify import verify_on_target

    choose = plan_module.lut_forms
    if all_diagrams:
        plan_module.lut_forms = lambda layer, lp, arch: dataclasses.replace(lp, diagram_luts=(True,) * lp.num_luts)
    try:
        program = lower(model, BOARD[arch], name=name, layout=layout, optimize=optimize, check_budget=False,
                        encoder=encoder)
    finally:
        plan_module.lut_forms = choose
    r = verify_on_target(program.model, ARCHITECTURES[arch].target, X, render_library(program), name,
                         measure_model_share=False)
    if not r.ok:
        raise SystemExit(f"{arch} {layout}: the firmware disagrees with the reference: {r.first_mismatch}")
    return dwn_features(program), float(np.median(r.latency))


def xgb_model(seed: int, F, classes, depth, rounds, input_type: str = "float32"):
    """An XGBoost model trained on random rows of the shape (exported tables), and `ROWS` test rows;
    `input_type` "int16": trained on the int16-quantized rows' features, as its integer form
    (`xgb_integer.integer_tables`) with int16 test rows, as `compare` builds it."""
    import xgboost as xgb

    from dwn_mcu.baselines.xgb_export import pack, parse_booster

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, F)).astype(np.float32)
    if input_type != "float32":
        return _xgb_int16_model(rng, X, F, classes, depth, rounds, seed)
    y = np.argmax(X @ rng.normal(size=(F, classes)) + 0.5 * rng.normal(size=(400, classes)), axis=1)
    params = {"max_depth": depth, "eta": 0.3, "tree_method": "hist", "seed": seed, "nthread": 1, "verbosity": 0}
    params.update({"objective": "binary:logistic"} if classes == 2 else
                  {"objective": "multi:softmax", "num_class": classes})
    booster = xgb.train(params, xgb.DMatrix(X, label=y), rounds)
    return pack(parse_booster(booster)), rng.normal(size=(ROWS, F)).astype(np.float32)


def _xgb_int16_model(rng, X, F, classes, depth, rounds, seed):
    import xgboost as xgb

    from dwn_mcu.baselines.xgb_export import pack, parse_booster
    from dwn_mcu.baselines.xgb_integer import integer_tables
    from dwn_mcu.integer_inputs import Quantization

    y = np.argmax(X @ rng.normal(size=(F, classes)) + 0.5 * rng.normal(size=(400, classes)), axis=1)
    q = Quantization.fit(X, "int16")
    params = {"max_depth": depth, "eta": 0.3, "tree_method": "hist", "seed": seed, "nthread": 1, "verbosity": 0}
    params.update({"objective": "binary:logistic"} if classes == 2 else
                  {"objective": "multi:softmax", "num_class": classes})
    booster = xgb.train(params, xgb.DMatrix(q.features(q.rows(X)), label=y), rounds)
    return integer_tables(pack(parse_booster(booster)), q), q.rows(rng.normal(size=(ROWS, F)).astype(np.float32))


def measure_xgb(tables, X, arch: str, name: str = "latx", layout: str = "table"):
    from dwn_mcu.baselines.xgb_export import render_sources
    from dwn_mcu.baselines.xgb_target import verify_on_target

    r = verify_on_target(tables, ARCHITECTURES[arch].target, render_sources(tables, name, layout), name, X,
                         measure_model_share=False)
    if not r.ok:
        raise SystemExit(f"XGBoost ({layout}) on {arch}: the firmware disagrees with the reference: {r.first_mismatch}")
    return xgb_features(tables, layout), float(np.median(r.latency))


FAMILIES = ("dwn", "xgboost", "xgboost_inline", "xgboost_int16", "xgboost_inline_int16", "emlearn", "forest")
#: XGBoost's families: (layout, input type) of each
XGB_FAMILIES = {"xgboost": ("table", "float32"), "xgboost_inline": ("inline", "float32"),
                "xgboost_int16": ("table", "int16"), "xgboost_inline_int16": ("inline", "int16")}


def fit(rows: list) -> tuple[dict, float]:
    """Non-negative costs per feature minimising the relative error over `rows` of (features, measured);
    returns (costs, worst relative error of the fit on its corpus, each row's relative error)."""
    from scipy.optimize import nnls

    keys = sorted({k for f, *_ in rows for k in f})
    A = np.array([[f.get(k, 0) for k in keys] for f, *_ in rows], dtype=float)
    b = np.array([m for _, m, *_ in rows], dtype=float)
    coef, _ = nnls(A / b[:, None], np.ones_like(b))
    costs = {k: round(float(c), 3) for k, c in zip(keys, coef) if c > 0}
    pred = np.array([sum(costs.get(k, 0) * v for k, v in f.items()) for f, *_ in rows])
    return costs, float(np.max(np.abs(pred - b) / b)), (pred - b) / b


def corpus(arch: str, say, families=FAMILIES) -> dict:
    """{family: [(features, median, label)]} measured on `arch`'s emulator, for each of `families`."""
    out = {}
    if "dwn" in families:
        out.update(_dwn_corpus(arch, say))
    for family, (layout, input_type) in XGB_FAMILIES.items():
        if family not in families or (layout == "inline" and ARCHITECTURES[arch].inline_lib_code is None):
            continue
        out[family] = []
        for i, shape in enumerate(XGB_SHAPES):
            made = xgb_model(200 + i, *shape, input_type=input_type)
            out[family].append((*measure_xgb(*made, arch, layout=layout), str(shape)))
            say(f"{arch} XGBoost {layout} {shape}: {out[family][-1][1]:.0f}")
    for family, kind in (("emlearn", "emlearn"), ("forest", "forest")):
        if family in families:
            out[family] = tree_corpus(arch, kind, say)
    return out


def _dwn_corpus(arch: str, say) -> dict:
    """{latency family: rows}: each model's rows go to its input type's family (`latency.dwn_family`)."""
    out = {"dwn": [], "dwn_int": []}
    models = [(shape, dwn_model(100 + i, *shape)) for i, shape in enumerate(DWN_SHAPES)]
    models += [(shape, data_model(300 + i, *shape)) for i, shape in enumerate(DATA_SHAPES)]
    for shape, made in models[: len(DWN_SHAPES)]:  # random LUTs, every one in diagram form
        rows = out[dwn_family(made[0].input_type)]
        try:
            rows.append((*measure_dwn(*made, arch, "unrolled", all_diagrams=True), f"{shape} all diagrams"))
        except TargetError as exc:  # random 8-input LUTs as diagrams outgrow AVR's 32 KB: left out
            if "will not fit" not in str(exc):
                raise
            say(f"{arch} DWN {shape} unrolled, every LUT a diagram: does not fit the chip, left out")
            continue
        say(f"{arch} DWN {shape} unrolled, every LUT a diagram: {rows[-1][1]:.0f}")
    for i, (shape, made) in enumerate(models):
        if made is None:
            say(f"{shape}: dataset not found, left out")
            continue
        model, X = made
        rows = out[dwn_family(model.input_type)]
        both = 2 if model.input_type != "float32" else 2 - i % 2  # the smaller integer corpus: every variant
        # every model with the planner's encoder (immediate where it fits), every other float one also with
        # the threshold-table encoder (what a tight flash budget gets)
        for layout, encoder in [(lay, enc) for lay in ("table", "unrolled") for enc in (None, "table")[:both]]:
            rows.append((*measure_dwn(model, X, arch, layout, encoder), f"{shape} {layout} {encoder or ''}"))
            say(f"{arch} DWN {shape} {layout} {encoder or ''}: {rows[-1][1]:.0f}")
        # the same shape with few-input LUTs: the diagram form's LUTs and nodes
        rows.append((*measure_dwn(few_input_tables(model, 7), X, arch, "unrolled"), f"{shape} few-input"))
        say(f"{arch} DWN {shape} unrolled, few-input LUTs: {rows[-1][1]:.0f}")
        # trained-like: don't-care inputs removed by the exact passes, mixed input counts (both layouts
        # for every other model)
        for layout in ("unrolled", "table")[:both]:
            rows.append((*measure_dwn(mixed_count_tables(model, 11 + i), X, arch, layout, optimize=True),
                         f"{shape} {layout} mixed counts"))
            say(f"{arch} DWN {shape} {layout}, mixed counts (optimized): {rows[-1][1]:.0f}")
    return out


#: (features, classes, estimator kind, depth, trees): emlearn's and our forest's inline trees
TREE_SHAPES = [(4, 2, "tree", 6, 1), (8, 3, "tree", 9, 1), (6, 2, "forest", 4, 5), (5, 2, "extra", 6, 10),
               (10, 4, "forest", 5, 4), (6, 7, "extra", 3, 8), (3, 2, "forest", 8, 3), (12, 3, "tree", 12, 1),
               (16, 2, "forest", 3, 20)]


def tree_model(seed: int, F, classes, kind, depth, trees, family: str):
    """A model of the shape trained on int16 rows of a random problem, and `ROWS` rows of the same problem."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    X = rng.integers(-20000, 20000, size=(600 + ROWS, F)).astype(np.int16)
    y = np.argmax(X.astype(np.float64) @ rng.normal(size=(F, classes)) + 8000 * rng.normal(size=(len(X), classes)),
                  axis=1)
    est = DecisionTreeClassifier(max_depth=depth, random_state=seed) if kind == "tree" else \
        (RandomForestClassifier if kind == "forest" else ExtraTreesClassifier)(trees, max_depth=depth, random_state=seed)
    est.fit(X[:600], y[:600])
    if family == "emlearn":
        from dwn_mcu.baselines.emlearn_export import convert
    else:
        from dwn_mcu.baselines.forest_export import convert
    return convert(kind, est, F, classes), X[600:]


def tree_corpus(arch: str, family: str, say) -> list:
    """emlearn's inline trees or our forests (`family`) of TREE_SHAPES on `arch`'s emulator."""
    from dwn_mcu.families import EmlearnFamily, ForestFamily
    from dwn_mcu.latency import tree_features
    from dwn_mcu.targets.verify import verify_program

    rows = []
    for i, shape in enumerate(TREE_SHAPES):
        model, X = tree_model(400 + i, *shape, family)
        fam = (EmlearnFamily if family == "emlearn" else ForestFamily)(model)
        r = verify_program(fam.test_program(fam.render("latt"), "latt", X), ARCHITECTURES[arch].target, X,
                           measure_model_share=False)
        if not r.ok:
            raise SystemExit(f"{family} on {arch}: the firmware disagrees with the reference: {r.first_mismatch}")
        rows.append((tree_features(model, family), float(np.median(r.latency)), str(shape)))
        say(f"{arch} {family} {shape}: {rows[-1][1]:.0f}")
    return rows


def check_models(paths, arches) -> None:
    """Print the price against the emulator's median for each trained model (`.dwn` files, run on the
    first `ROWS` test rows of the dataset named in their metadata) lowered as `build` lowers it (exact
    passes, the planner's forms), in both layouts, on each of `arches`; nothing is refitted."""
    from dwn_mcu.data import load_dataset
    from dwn_mcu.latency import program_latency
    from dwn_mcu.model_file import load
    from dwn_mcu.targets.verify import verify_on_target

    print("| model | arch | layout | measured | priced | error |\n|---|---|---|---|---|---|")
    for path in paths:
        model = load(path)
        X = load_dataset(model.metadata["dataset"]).test_split()[0][:ROWS]
        for arch in arches:
            for layout in ("unrolled", "table"):
                program = lower(model, BOARD[arch], name="lat", layout=layout, check_budget=False)
                r = verify_on_target(program.model, ARCHITECTURES[arch].target, X, render_library(program), "lat",
                                     measure_model_share=False)
                if not r.ok:
                    raise SystemExit(f"{path} on {arch}: the firmware disagrees with the reference: {r.first_mismatch}")
                measured, priced = float(np.median(r.latency)), program_latency(program)
                print(f"| {Path(path).stem} | {arch} | {layout} | {measured:g} | {priced} | "
                      f"{(priced - measured) / measured:+.1%} |", flush=True)


def render_constants(latency: dict, errors: dict, command: str) -> str:
    return (f'"""Latency constants per architecture and model family, fitted by bench/calibrate_latency.py to\n'
            f"simavr (cycles) and QEMU (instructions); generated, do not edit: rerun\n\n    {command}\n\n"
            f"FIT_ERROR: the fit's worst relative error on its own corpus, per architecture and family.\n"
            f'"""\n\nLATENCY = {pprint.pformat(latency, width=110, sort_dicts=True)}\n\n'
            f"FIT_ERROR = {pprint.pformat(errors, width=110, sort_dicts=True)}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arches", nargs="+", default=[a for a in BOARD if ARCHITECTURES[a].target],
                    choices=sorted(BOARD))
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES,
                    help="refit these families only (the others keep their constants)")
    ap.add_argument("--dry-run", action="store_true", help="print the constants, do not rewrite the file")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--check", nargs="+", metavar="MODEL.dwn",
                    help="print these trained models' price against the emulators instead of refitting")
    args = ap.parse_args(argv)
    if args.check:
        check_models(args.check, args.arches)
        return 0
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    from dwn_mcu import latency_constants as old  # the architectures not rerun keep their constants

    latency = {k: dict(v) for k, v in old.LATENCY.items()}
    errors = {k: dict(v) for k, v in getattr(old, "FIT_ERROR", {}).items()}
    t0 = time.monotonic()
    for arch in args.arches:
        for family, rows in corpus(arch, say, args.families).items():
            if not rows:
                continue
            latency.setdefault(arch, {})[family], errors.setdefault(arch, {})[family], each = fit(rows)
            say(f"{arch} {family}: {len(rows)} models, worst fit error {errors[arch][family]:.1%}")
            for (_, measured, label), e in zip(rows, each):
                if abs(e) > 0.10:
                    say(f"  over 10%: {label}: measured {measured:.0f}, priced {e:+.1%}")
    text = render_constants(latency, errors, rerun_command("bench/calibrate_latency.py", argv))
    print_or_write(text, CONSTANTS, args.dry_run, say, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
