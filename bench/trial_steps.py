"""What a floor of optimizer steps per trial does to the DWN search under a tight latency budget: the same
search run twice per case, with `budget_search.MIN_STEPS` at 1 (a trial takes the epochs it is given) and
at its default (1,000 steps); the model each chooses, with its test accuracy on the int16 test rows.

A case is DATASET:SEED:FLASH:CYCLES, as in `selection_rule.py` (whose reduced search settings this uses:
12 shapes, 120 s, 30 epochs, the Nano). A tight budget leaves room for a few LUTs only; on a small training
split such a model stops after few steps (australian: 4 batches an epoch, 120 steps in 30 epochs).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/trial_steps.py \\
        australian:0:2048:198 pima:0:2048:194
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dwn_mcu import budget_search  # noqa: E402
from selection_rule import print_gains, search_case  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="+", help="DATASET:SEED:FLASH:CYCLES")
    args = ap.parse_args()
    default = budget_search.MIN_STEPS
    print("| case | steps at least | chosen shape | priced cycles | val acc | test acc |\n"
          "| --- | --- | --- | --- | --- | --- |")
    gains = []
    for case in args.cases:
        test = {}
        for steps in (1, default):
            budget_search.MIN_STEPS = steps
            try:
                best, Xt, yt = search_case(case)
            finally:
                budget_search.MIN_STEPS = default
            cand, model = best.chosen()[:2]
            test[steps] = float(np.mean(model.predict(Xt) == yt))
            print(f"| {case} | {steps} | {cand.shape} | {cand.latency} | {cand.val_accuracy:.4f} | "
                  f"{test[steps]:.2%} |", flush=True)
        gains.append(test[default] - test[1])
    print_gains(f"{default} steps at least minus none", gains)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
