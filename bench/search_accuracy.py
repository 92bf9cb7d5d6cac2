"""Issue 16's accuracy target: the in-process DWN shape search (`budget_search.search_dwn`, what `compare`
runs by default) against the search engine's DWN search (`search.fit.search_dwn_on_engine`, what
`compare --engine ray` runs: Optuna's multi-objective sampler, trials as Ray tasks on a local instance of
the machine's CPUs) with the same wall-clock budget, per dataset and flash budget on one board.

Both get the rows `compare` gives its DWN (the training split's int16 scaling, a stratified 20% held out
for validation, seeded), the same RAM budget (the board's model share), epochs and seed, and choose by
the same rule (`dwn_mcu.selection`: the fastest within one standard error of the most accurate fitting
candidate). Each search starts no new work after `--seconds` (the in-process one checks before each
shape, the engine before each round of `batch` trials), so the wall times are measured and printed, not
assumed. Budgets are searched independently (no incumbents carried from the smaller budget).

Per dataset and budget: each chosen DWN's validation and test accuracy, planned flash and priced
latency, trials trained, wall seconds; and whether the engine's front (its fitting trained trials)
dominates the in-process chosen model: an engine trial at least as accurate on the validation rows, no
larger in planned flash and no slower in priced latency, and better in one of them.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/search_accuracy.py \\
        --seconds 60 --seed 0 --out bench/search_accuracy.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

DATASETS = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]


def rows(name: str, seed: int) -> dict:
    """compare's DWN rows: (X_train, y_train, X_val, y_val), the test split, on the int16 scaling."""
    from dwn_mcu.compare import _scaled_inputs
    from dwn_mcu.data import load_data, stratified_split

    data = load_data(None, None, name)
    X, y = data.train_split()
    Xt, yt = data.test_split()
    val = stratified_split(y, 0.2, seed=seed)
    Xf = _scaled_inputs(X, Xt, val)["float"]
    return {"split": (Xf["train"][~val], y[~val], Xf["train"][val], y[val]), "Xt": Xf["test"], "yt": yt,
            "classes": data.num_classes, "val_rows": int(val.sum())}


def summary(result, d: dict, seconds: float) -> dict:
    c = result.best
    return {"shape": f"{c.shape} ({c.layout} layout)", "val_accuracy": c.val_accuracy,
            "test_accuracy": float(np.mean(result.model.predict(d["Xt"]) == d["yt"])), "flash": c.flash,
            "latency": c.latency, "trials": result.trials, "seconds": round(seconds, 1)}


def dominated_by_front(local, engine_result) -> dict | None:
    """The engine's fitting trained trial that dominates the in-process chosen model (validation accuracy
    >=, flash <=, priced latency <=, one strictly), the most accurate such; None when there is none."""
    c = local.best
    pool = [e for e in engine_result.candidates if e.trained and e.fits and e.latency is not None
            and e.val_accuracy >= c.val_accuracy and e.flash <= c.flash and e.latency <= c.latency
            and (e.val_accuracy, e.flash, e.latency) != (c.val_accuracy, c.flash, c.latency)]
    if not pool or c.latency is None:
        return None
    e = max(pool, key=lambda e: (e.val_accuracy, -e.flash, -e.latency))
    return {"shape": e.shape, "val_accuracy": e.val_accuracy, "flash": e.flash, "latency": e.latency}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--budgets", nargs="*", type=int, default=[2048, 8192])
    ap.add_argument("--board", default="nano")
    ap.add_argument("--seconds", type=float, default=60.0, help="wall-clock budget of each search")
    ap.add_argument("--trials", type=int, default=24, help="the in-process search's trial cap (compare's default)")
    ap.add_argument("--engine-trials", type=int, default=1000, help="the engine's cap (the time binds first)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpus", type=int, default=None, help="the engine's local Ray CPUs (default: the machine's)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--summarize", nargs="+", metavar="F.json", help="only summarise these runs (one per seed)")
    args = ap.parse_args()
    if args.summarize:
        return summarize(args.summarize)

    from dwn_mcu.budget_search import budgets as model_budgets
    from dwn_mcu.budget_search import search_dwn
    from dwn_mcu.compiler import get_board
    from dwn_mcu.search.fit import search_dwn_on_engine

    board = get_board(args.board)
    ram = model_budgets(board)[1]
    results = []
    print(f"board {board.key}, RAM budget {ram} B, {args.seconds:.0f} s per search, seed {args.seed}, epochs "
          f"{args.epochs}, engine CPUs {args.cpus or os.cpu_count()}, load {os.getloadavg()[0]:.2f}", flush=True)
    for name in args.datasets:
        d = rows(name, args.seed)
        for budget in args.budgets:
            t0 = time.monotonic()
            local = search_dwn(*d["split"], d["classes"], board, flash_budget=budget, ram_budget=ram,
                               max_trials=args.trials, time_limit=args.seconds, seed=args.seed, epochs=args.epochs)
            t_local = time.monotonic() - t0
            t0 = time.monotonic()
            engine = search_dwn_on_engine(*d["split"], d["classes"], board, budget, ram,
                                          max_trials=args.engine_trials, time_limit=args.seconds, seed=args.seed,
                                          epochs=args.epochs, num_cpus=args.cpus, dataset=name)
            t_engine = time.monotonic() - t0
            row = {"dataset": name, "budget": budget, "local": summary(local, d, t_local),
                   "engine": summary(engine, d, t_engine), "front_dominates": dominated_by_front(local, engine),
                   "load": round(os.getloadavg()[0], 2)}
            results.append(row)
            lo, en = row["local"], row["engine"]
            print(f"{name} {budget} B: local {lo['shape']} val {lo['val_accuracy']:.4f} test {lo['test_accuracy']:.4f} "
                  f"{lo['flash']} B {lo['latency']} cyc, {lo['trials']} trials {lo['seconds']} s | engine "
                  f"{en['shape']} val {en['val_accuracy']:.4f} test {en['test_accuracy']:.4f} {en['flash']} B "
                  f"{en['latency']} cyc, {en['trials']} trials {en['seconds']} s | front dominates: "
                  f"{'yes' if row['front_dominates'] else 'no'}", flush=True)
            if args.out:
                with open(args.out, "w") as f:
                    json.dump({"args": vars(args), "rows": results}, f, indent=1)
    print_table(results)


def print_table(results: list) -> None:
    print("\n| dataset | budget B | search | chosen DWN | val acc | test acc | flash B | priced cycles | trials | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        for k in ("local", "engine"):
            s = r[k]
            print(f"| {r['dataset']} | {r['budget']} | {k} | {s['shape']} | {s['val_accuracy']:.4f} | "
                  f"{s['test_accuracy']:.4f} | {s['flash']} | {s['latency']} | {s['trials']} | {s['seconds']} |")
    by = {}
    for r in results:
        b = by.setdefault(r["dataset"], {"acc": True, "dom": True})
        b["acc"] &= r["engine"]["test_accuracy"] >= r["local"]["test_accuracy"]
        b["dom"] &= r["front_dominates"] is not None
    print(f"\nengine chosen DWN at least as accurate (test) at every budget: {sum(b['acc'] for b in by.values())} "
          f"of {len(by)} datasets; engine front dominates the in-process chosen at every budget: "
          f"{sum(b['dom'] for b in by.values())} of {len(by)}")


def summarize(paths: list) -> None:
    """Over the runs (one per seed): per dataset and budget the mean test accuracy of each chosen DWN and
    the seeds where the engine's is at least the in-process one's and where its front dominates; per
    dataset the issue's two targets, judged on the means (accuracy) and on every seed (the front)."""
    runs = [json.load(open(p)) for p in paths]
    seeds = [r["args"]["seed"] for r in runs]
    cells = {}
    for run in runs:
        for r in run["rows"]:
            cells.setdefault((r["dataset"], r["budget"]), []).append(r)
    print(f"seeds {seeds}\n\n| dataset | budget B | local test (mean) | engine test (mean) | engine >= local "
          "(seeds) | front dominates (seeds) |\n| --- | --- | --- | --- | --- | --- |")
    by = {}
    for (name, budget), rs in cells.items():
        lo = float(np.mean([r["local"]["test_accuracy"] for r in rs]))
        en = float(np.mean([r["engine"]["test_accuracy"] for r in rs]))
        ge = sum(r["engine"]["test_accuracy"] >= r["local"]["test_accuracy"] for r in rs)
        dom = sum(r["front_dominates"] is not None for r in rs)
        print(f"| {name} | {budget} | {lo:.4f} | {en:.4f} | {ge} of {len(rs)} | {dom} of {len(rs)} |")
        b = by.setdefault(name, {"acc": True, "dom": True})
        b["acc"] &= en >= lo
        b["dom"] &= dom == len(rs)
    print(f"\nengine at least as accurate (mean test) at every budget: {sum(b['acc'] for b in by.values())} of "
          f"{len(by)} datasets (target 5); engine front dominates at every budget on every seed: "
          f"{sum(b['dom'] for b in by.values())} of {len(by)} (target 4)")


if __name__ == "__main__":
    main()
