"""Under a latency budget, which DWN to choose: the fastest within one standard error of the most accurate
(the rule without a latency budget), or the most accurate. One search per case, both picks read from its
kept models, so the two differ only by the rule; test accuracy of each on the int16 test rows.

A case is DATASET:SEED:FLASH:CYCLES (the flash budget and the latency budget in priced AVR cycles, e.g.
the cycles of XGBoost's pick in a `compare_nano.py --latency-matched` run). The search is compare's at
`compare_nano.py --latency-matched`'s reduced settings (12 shapes, 120 s, 30 epochs, the Nano, int16 rows).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/selection_rule.py \\
        phoneme:1:2048:2912 pima:2:2048:1277 wisconsin:0:8192:3416
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwn_mcu import budget_search  # noqa: E402
from dwn_mcu.compare import _scaled_inputs  # noqa: E402
from dwn_mcu.data import load_dataset, stratified_split  # noqa: E402
from dwn_mcu.selection import choose, most_accurate  # noqa: E402


def search_case(case: str):
    """A case's search at the reduced settings: (its kept models, `_Best`; the int16 test rows; test labels)."""
    name, seed, flash, cycles = case.split(":")
    seed, flash, cycles = int(seed), int(flash), int(cycles)
    seen = {}
    chosen = budget_search._Best.chosen

    def keep(best):  # the search's own set of fitting models, before it picks one
        seen["best"] = best
        return chosen(best)

    d = load_dataset(name)
    X, y = d.train_split()
    Xt, yt = d.test_split()
    val = stratified_split(y, 0.2, seed=seed)
    inputs = _scaled_inputs(X, Xt, val)
    Xf = inputs["float"]["train"]
    budget_search._Best.chosen = keep
    try:
        budget_search.search_dwn(Xf[~val], y[~val], Xf[val], y[val], d.num_classes, "nano", flash, None,
                                 max_trials=12, time_limit=120, seed=seed, epochs=30, latency_budget=cycles,
                                 quantization=inputs["quantization"])
    finally:
        budget_search._Best.chosen = chosen
    return seen["best"], inputs["int16"]["test"], yt


def print_gains(what: str, gains: list) -> None:
    """One line: the mean of the per-case test accuracy differences, and how many are above, below, equal."""
    g = np.asarray(gains)
    print(f"\n{what}, test accuracy: mean {g.mean():+.2%}, higher in {int((g > 0).sum())}, lower in "
          f"{int((g < 0).sum())}, equal in {int((g == 0).sum())} of {g.size}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="+", help="DATASET:SEED:FLASH:CYCLES")
    args = ap.parse_args()
    print("| case | rule | shape | priced cycles | val acc | test acc |\n| --- | --- | --- | --- | --- | --- |")
    gains = []
    for case in args.cases:
        best, Xt, yt = search_case(case)
        items = best._items()
        picks = {"fastest within 1 SE": choose(items, len(best.y_val)), "most accurate": most_accurate(items)}
        test = {}
        for rule, i in picks.items():
            cand, model = best.kept[i][:2]
            test[rule] = float(np.mean(model.predict(Xt) == yt))
            print(f"| {case} | {rule} | {cand.shape} | {cand.latency} | {cand.val_accuracy:.4f} | "
                  f"{test[rule]:.2%} |", flush=True)
        gains.append(test["most accurate"] - test["fastest within 1 SE"])
    print_gains("most accurate minus fastest within 1 SE", gains)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
