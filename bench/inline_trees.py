"""Inline tree code on the Arduino Nano (issue 17): our inline XGBoost (the layout `xgb_plan.choose_layout`
picks: inline where it fits), XGBoost held to its table layout, emlearn's inline trees and forests, and
our own inline forest C, each budget-fitted on the same int16-scaled rows as `compare` (the same split,
scaling and searches: `dwn_mcu.compare`'s job), built, verified on every test row and timed in simavr.

Prints one Markdown row per dataset, budget and family: shape, test accuracy (and scikit-learn's for the
tree families where it differs), flash and RAM of the model's share of the ELF, median cycles.
`--at-emlearn-latency`: instead, emlearn's pick, then XGBoost searched with emlearn's measured median
cycles as its latency budget (the issue's target: our inline XGBoost no slower than emlearn's trees).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/inline_trees.py \\
        --datasets phoneme segment banana --budgets 2048 --time-limit 30
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def job_for(data, board, seed: int, time_limit: float):
    """`compare`'s job (split, int16 scaling, search bounds) for `data` on `board`, emulated."""
    from dwn_mcu.budget_search import budgets as model_budgets
    from dwn_mcu.compare import _scaled_inputs
    from dwn_mcu.data import stratified_split

    X, y = data.train_split()
    Xt, yt = data.test_split()
    val = stratified_split(y, 0.2, seed=seed)
    inputs = _scaled_inputs(X, Xt, val)
    Xf, Xi = inputs["float"]["train"], inputs["int16"]["train"]
    say = lambda m: print(f"[{data.name}] {m}", file=sys.stderr, flush=True)  # noqa: E731
    return {"board": board, "ram_budget": model_budgets(board)[1], "latency": None, "emulate": True, "say": say,
            "quantization": inputs["quantization"],
            "Xt": inputs["float"]["test"], "Xt_int16": inputs["int16"]["test"], "yt": yt, "classes": data.num_classes,
            "split": (Xf[~val], y[~val], Xf[val], y[val]), "int16_split": (Xi[~val], y[~val], Xi[val], y[val]),
            "xgb_kwargs": {"time_limit": time_limit, "seed": seed},
            "emlearn_kwargs": {"time_limit": time_limit, "seed": seed}}


def xgb_rows(job: dict, budget: int) -> list:
    """XGBoost with the layout choice, and held to the table layout (its search priced as a table)."""
    from dwn_mcu.baselines.xgb_plan import planned_flash
    from dwn_mcu.baselines.xgb_train import train_xgboost
    from dwn_mcu.compare import _emulate_xgb, _fit_xgb, _xgb_classes
    from dwn_mcu.latency import xgb_latency

    xgb, pred, em, _ = _fit_xgb(job, budget)
    rows = [("XGBoost (layout chosen)", xgb.best.shape(), float(np.mean(pred[0] == job["yt"])), None, em)]
    table = train_xgboost(*job["split"], job["classes"], budget, size_fn=planned_flash(job["board"]),
                          latency_fn=lambda t: xgb_latency(t, job["board"].arch, "table"),
                          quantization=job["quantization"], **job["xgb_kwargs"])
    pred = _xgb_classes(table.booster, job["Xt"], job["classes"])  # its firmware reads the int16 rows, as compare's
    em = _emulate_xgb(table.tables, job["board"], job["Xt_int16"], pred, "table")
    rows.append(("XGBoost (table only)", table.best.shape(), float(np.mean(pred[0] == job["yt"])), None, em))
    return rows


def tree_rows(job: dict, budget: int) -> list:
    from dwn_mcu.baselines.emlearn_compare import tree_entry

    out = []
    for family in ("emlearn", "forest"):
        e, _ = tree_entry(job, budget, family)
        out.append((family, e["shape"], e["test_accuracy"], e["sklearn_test_accuracy"], e["emulator"]))
    return out


def at_emlearn_latency(job: dict, budget: int) -> list:
    """emlearn's pick, and XGBoost held to emlearn's measured median cycles (priced latency budget)."""
    from dwn_mcu.baselines.emlearn_compare import tree_entry
    from dwn_mcu.baselines import BaselineError
    from dwn_mcu.compare import _fit_xgb

    e, _ = tree_entry(job, budget, "emlearn")
    rows = [("emlearn", e["shape"], e["test_accuracy"], e["sklearn_test_accuracy"], e["emulator"])]
    job["latency"] = int(e["emulator"]["cycles"]["median"])
    try:
        xgb, pred, em, _ = _fit_xgb(job, budget)
        rows.append((f"XGBoost within {job['latency']} cycles", xgb.best.shape(),
                     float(np.mean(pred[0] == job["yt"])), None, em))
    except BaselineError as err:
        print(f"| {budget} | XGBoost within {job['latency']} cycles: {err} |")
    finally:
        job["latency"] = None
    return rows


def main(argv=None) -> int:
    from dwn_mcu.compiler import get_board
    from dwn_mcu.data import load_dataset

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["phoneme", "segment", "banana"])
    ap.add_argument("--budgets", nargs="+", type=int, default=[2048])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per search")
    ap.add_argument("--at-emlearn-latency", action="store_true")
    args = ap.parse_args(argv)
    board = get_board("nano")
    print("| dataset | budget B | family | shape | test acc (C) | sklearn | flash B | RAM B | cycles (median) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.datasets:
        data = load_dataset(name)
        job = job_for(data, board, args.seed, args.time_limit)
        for budget in args.budgets:
            t0 = time.monotonic()
            rows = at_emlearn_latency(job, budget) if args.at_emlearn_latency else \
                xgb_rows(job, budget) + tree_rows(job, budget)
            for family, shape, acc, sk, em in rows:
                assert em["agree"] == em["vectors"], f"{family}: firmware disagrees with its reference"
                sk_text = "" if sk is None or sk == acc else f"{100 * sk:.2f}%"
                print(f"| {name} | {budget} | {family} | {shape} | {100 * acc:.2f}% | {sk_text} | {em['flash']:,} | "
                      f"{em['ram']} + {em['stack']} stack | {em['cycles']['median']:,.0f} |", flush=True)
            job["say"](f"budget {budget}: {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
