"""Fit the inline XGBoost layout's code-size formula (`dwn_mcu/baselines/inline_size.py`) to the objects
each architecture's compiler builds, and rewrite `dwn_mcu/baselines/inline_size_constants.py`, the one
place its constants live.

A corpus of XGBoost models (random rows of several features, classes, depths, rounds and learning rates,
and models of shared datasets' rows at several histogram bins, as the search trains them) is rendered in
the inline layout and built for each architecture's board (`baselines.object_size`: the emulated
target's compiler and flags, without LTO, as the planner priced it before this formula). Code bytes are
fitted by non-negative least squares on relative error (`calibrate_latency.fit`) to
`inline_size.size_features`; the stack frame likewise to its arrays (`inline_size.FRAME_FEATURES`), then
its fixed part raised until no model of the corpus is over (RAM is not searched again). An architecture
whose code fit is worse than MAX_FIT_ERROR on its corpus gets no constants: the planner builds its
objects, as before (the Cortex-M targets today: GCC duplicates tree code there, so the size is not
linear in the nodes). Deterministic:
the same compiler gives the same constants. Rerun after any change to
`firmware_templates/xgboost/model_inline.c.j2`:

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD python bench/calibrate_inline_size.py
    PYTHONPATH=$PWD python bench/calibrate_inline_size.py --arches avr --dry-run
    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD python bench/calibrate_inline_size.py --input int16

tests/test_inline_size.py holds the fit to its stated error on models this corpus does not hold.
"""

from __future__ import annotations

import argparse
import math
import pprint
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate_latency import BOARD, fit  # noqa: E402
from constants_module import print_or_write, rerun_command  # noqa: E402

from dwn_mcu.architectures import ARCHITECTURES  # noqa: E402
from dwn_mcu.baselines.inline_size import FRAME_FEATURES, constants_key, size_features  # noqa: E402

#: an architecture whose code fit is worse than this on its own corpus gets no formula (priced by building)
MAX_FIT_ERROR = 0.10
CONSTANTS = Path(__file__).resolve().parents[1] / "dwn_mcu" / "baselines" / "inline_size_constants.py"
#: (features, classes, depth, rounds, learning rate) of the random-row models
SHAPES = [(2, 2, 1, 10, 0.3), (4, 2, 2, 5, 0.3), (4, 2, 4, 20, 0.3), (12, 2, 6, 10, 0.3), (8, 3, 3, 8, 0.3),
          (6, 4, 5, 4, 0.3), (16, 2, 1, 30, 0.3), (10, 2, 3, 40, 0.3), (5, 3, 2, 15, 0.3), (20, 2, 8, 3, 0.3),
          (30, 5, 3, 6, 0.3), (7, 2, 5, 30, 0.5), (3, 7, 4, 4, 0.3), (9, 2, 2, 60, 0.1), (24, 2, 4, 12, 0.5),
          (6, 2, 6, 8, 0.2), (14, 3, 1, 25, 0.5), (40, 2, 3, 10, 0.3), (5, 2, 8, 2, 0.3), (11, 4, 2, 10, 0.2),
          (3, 2, 3, 3, 0.3), (18, 6, 2, 3, 0.3), (8, 2, 5, 12, 0.1), (2, 3, 6, 3, 0.5)]
#: (dataset, depth, rounds, max_bin, learning rate): models of real rows (thresholds at its histogram bins)
DATA_SHAPES = [("phoneme", 4, 10, 64, 0.3), ("phoneme", 6, 4, 256, 0.5), ("segment", 3, 3, 16, 0.3),
               ("segment", 2, 2, 64, 0.5), ("banana", 5, 8, 16, 0.2), ("banana", 8, 2, 256, 0.3),
               ("wisconsin", 3, 12, 64, 0.3), ("australian", 2, 30, 16, 0.5)]


def _trained(params, X, y, rounds, input_type):
    """Exported tables of a booster trained on rows X, or (int16) on the float32 values of their int16
    quantization, in its integer form (what `compare` builds)."""
    import xgboost as xgb

    from dwn_mcu.baselines.xgb_export import pack, parse_booster

    X = np.asarray(X, np.float32)
    if input_type == "float32":
        return pack(parse_booster(xgb.train(params, xgb.DMatrix(X, label=y), rounds)))
    from dwn_mcu.baselines.xgb_integer import integer_tables
    from dwn_mcu.integer_inputs import Quantization

    q = Quantization.fit(X, input_type)
    return integer_tables(pack(parse_booster(xgb.train(params, xgb.DMatrix(q.features(q.rows(X)), label=y),
                                                       rounds))), q)


def random_model(seed: int, F, classes, depth, rounds, eta, input_type: str = "float32"):
    """Exported tables of an XGBoost model trained on random rows of the shape."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, F)).astype(np.float32)
    y = np.argmax(X @ rng.normal(size=(F, classes)) + 0.5 * rng.normal(size=(400, classes)), axis=1)
    return _trained(_params(seed, classes, depth, eta), X, y, rounds, input_type)


def data_model(seed: int, dataset, depth, rounds, max_bin, eta, input_type: str = "float32"):
    """Exported tables of an XGBoost model of `dataset`'s training rows; None when it is not found."""
    from dwn_mcu.data import load_dataset
    from dwn_mcu.errors import DWNError

    try:
        ds = load_dataset(dataset)
    except DWNError:
        return None
    X, y = ds.train_split()
    params = {**_params(seed, ds.num_classes, depth, eta), "max_bin": max_bin}
    return _trained(params, X, y, rounds, input_type)


def _params(seed, classes, depth, eta) -> dict:
    p = {"max_depth": depth, "eta": eta, "tree_method": "hist", "seed": seed, "nthread": 1, "verbosity": 0}
    p.update({"objective": "binary:logistic"} if classes == 2 else {"objective": "multi:softmax", "num_class": classes})
    return p


def models(seed_base: int = 500, input_type: str = "float32"):
    """(label, tables) of the corpus; seeds from `seed_base` (the test draws its held-out models elsewhere)."""
    out = [(f"random {s}", random_model(seed_base + i, *s, input_type=input_type)) for i, s in enumerate(SHAPES)]
    for i, s in enumerate(DATA_SHAPES):
        tables = data_model(seed_base + i, *s, input_type=input_type)
        if tables is not None:
            out.append((f"data {s}", tables))
    return out


def measure(tables, arch: str) -> tuple[int, int, int]:
    from dwn_mcu.baselines.object_size import object_size
    from dwn_mcu.baselines.xgb_export import render_sources

    return object_size(render_sources(tables, "xgb_model", "inline"), "xgb_model", BOARD[arch], "XGBoost inline trees")


def fit_arch(arch: str, corpus: list, say) -> tuple[dict, dict, dict]:
    """(code costs, frame costs, fit errors) on `arch`."""
    rows, frames = [], []
    for label, tables in corpus:
        code, data, frame = measure(tables, arch)
        if data:
            raise SystemExit(f"{arch} {label}: the inline object has {data} B of RAM data; the formula prices none")
        f = size_features(tables)
        rows.append((f, code, label))
        frames.append(({k: f[k] for k in FRAME_FEATURES}, frame, label))
        say(f"{arch} {label}: {f['node']} nodes, {f['leaf']} leaves, {f['tree']} trees: code {code} B, frame {frame} B")
    code_costs, worst, each = fit(rows)
    frame_costs, _, _ = fit(frames)
    over = max(m - sum(frame_costs.get(k, 0) * v for k, v in f.items()) for f, m, _ in frames)
    frame_costs["base"] = round(frame_costs.get("base", 0.0) + max(0.0, math.ceil(over * 1000) / 1000), 3)
    for (_, measured, label), e in zip(rows, each):
        if abs(e) > 0.10:
            say(f"  over 10%: {label}: measured {measured} B, priced {e:+.1%}")
    mean = float(np.mean(np.abs(each)))
    return code_costs, frame_costs, {"worst": round(worst, 4), "mean": round(mean, 4), "models": len(rows)}


def render(size: dict, frame: dict, errors: dict, command: str) -> str:
    return ('"""The inline XGBoost layout\'s code-size and frame constants per architecture (`inline_size.py`),\n'
            "fitted by bench/calibrate_inline_size.py to the objects each board's compiler builds; generated, do\n"
            f"not edit: rerun\n\n    {command}\n\n"
            "FIT_ERROR: the code fit's worst and mean relative error on its own corpus, per architecture; one\n"
            f"worse than {MAX_FIT_ERROR:.0%} gets no formula (SIZE and FRAME leave it out: priced by building).\n"
            f'"""\n\nSIZE = {pprint.pformat(size, width=110, sort_dicts=True)}\n\n'
            f"FRAME = {pprint.pformat(frame, width=110, sort_dicts=True)}\n\n"
            f"FIT_ERROR = {pprint.pformat(errors, width=110, sort_dicts=True)}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    measured = [a for a, r in ARCHITECTURES.items() if r.inline_lib_code is not None and a in BOARD]
    ap.add_argument("--arches", nargs="+", default=measured, choices=measured)
    ap.add_argument("--dry-run", action="store_true", help="print the constants, do not rewrite the file")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--input", choices=("float32", "int16"), default="float32",
                    help="the models' inputs: float32, or their int16 form (`xgb_integer`; constants keyed 'ARCH int16')")
    args = ap.parse_args(argv)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        from dwn_mcu.baselines import inline_size_constants as old  # the architectures not rerun keep theirs
        size, frame, errors = dict(old.SIZE), dict(old.FRAME), dict(old.FIT_ERROR)
    except ImportError:
        size, frame, errors = {}, {}, {}
    t0 = time.monotonic()
    corpus = models(input_type=args.input)
    for name in args.arches:
        arch = constants_key(name, args.input)
        code, frames, err = fit_arch(name, corpus, say)
        say(f"{arch}: {err['models']} models, code fit worst {err['worst']:.1%}, mean {err['mean']:.1%} "
            f"({time.monotonic() - t0:.0f} s)")
        for table in (size, frame):
            table.pop(arch, None)
        errors[arch] = err
        if err["worst"] > MAX_FIT_ERROR:
            say(f"{arch}: no formula (worst fit over {MAX_FIT_ERROR:.0%}): the planner builds its objects")
            continue
        size[arch], frame[arch] = code, frames
    text = render(size, frame, errors, rerun_command("bench/calibrate_inline_size.py", argv))
    print_or_write(text, CONSTANTS, args.dry_run, say, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
