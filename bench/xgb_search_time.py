"""How long compare's XGBoost search takes at a flash budget (issue 17): the search `compare` runs
(`train_xgboost` with `xgb_plan`'s size, latency and layout functions under the budget, on compare's
split and int16 scaling), a fixed number of trials and no time limit, so that two commits run the same
trials. Prints per dataset the wall time, the trials, the builds of an inline object the layout choice
ran (`object_size` calls: each is a compiler run), and the chosen model.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/xgb_search_time.py \\
        --datasets phoneme segment banana --budget 8192 --trials 12
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    from dwn_mcu.baselines import object_size as obj
    from dwn_mcu.baselines import xgb_plan
    from dwn_mcu.baselines.xgb_train import train_xgboost
    from dwn_mcu.budget_search import budgets as model_budgets
    from dwn_mcu.compare import _scaled_inputs, _xgb_price
    from dwn_mcu.compiler import Budget, get_board
    from dwn_mcu.data import load_dataset, stratified_split

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["phoneme", "segment", "banana"])
    ap.add_argument("--budget", type=int, default=8192)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--board", default="nano")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    board = get_board(args.board)
    builds = [0]
    real = obj.object_size

    def counted(*a, **k):
        builds[0] += 1
        return real(*a, **k)
    obj.object_size = counted  # xgb_plan imports it at call time
    print("| dataset | budget B | trials | seconds | inline objects built | chosen |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.datasets:
        data = load_dataset(name)
        X, y = data.train_split()
        Xt, _ = data.test_split()
        val = stratified_split(y, 0.2, seed=args.seed)
        Xf = _scaled_inputs(X, Xt, val)["float"]["train"]
        limits = Budget(args.budget, model_budgets(board)[1], None)
        builds[0] = 0
        t0 = time.monotonic()
        res = train_xgboost(Xf[~val], y[~val], Xf[val], y[val], data.num_classes, args.budget,
                            size_fn=xgb_plan.planned_flash(board, limits), latency_fn=_xgb_price(board, limits),
                            layout_fn=xgb_plan.planned_layout(board, limits), max_trials=args.trials,
                            seed=args.seed)
        seconds = time.monotonic() - t0
        print(f"| {name} | {args.budget} | {res.trials} | {seconds:.1f} | {builds[0]} | {res.best.shape()}, "
              f"{res.best.size_bytes} B planned, val {res.best.val_accuracy:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
