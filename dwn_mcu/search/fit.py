"""`train --board B --engine ray`: the DWN for a board chosen from a search on the engine (DWN trials
only), by the rule the in-process search uses (`dwn_mcu.selection`: the fastest within one standard
error of the most accurate fitting trial). The search folder is `--search-dir`, or a temporary one."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..compiler.budget import BudgetError
from ..selection import choose, most_accurate
from .engine import SearchConfig


def choose_trial(records: list, rows: int) -> tuple:
    """(chosen, most accurate) of the fitting trained DWN trials; BudgetError when none fits."""
    kept = [r for r in records if r["family"] == "dwn" and r["status"] == "ok" and r["fits"]]
    if not kept:
        raise BudgetError(f"no trained DWN of the {len(records)} trials fits the budgets")
    items = [(r["val_accuracy"], r["latency"], r["flash"]) for r in kept]
    return kept[choose(items, rows)], kept[most_accurate(items)]


def fit_to_board(data, args, out: Path) -> int:
    from ..budget_search import budgets
    from ..compiler import get_board
    from ..compiler.budget import budget_for
    from ..model_file import load, save
    from . import api

    board = get_board(args.board)
    flash, ram = budgets(board, args.flash_budget, args.ram_budget)
    latency = budget_for(board, args.flash_budget, args.ram_budget, args.latency_budget).latency
    config = SearchConfig(board=board.key, flash_budget=flash, ram_budget=ram, latency_budget=latency,
                          families=("dwn",), trials=args.trials, seed=args.seed, epochs=args.epochs,
                          patience=args.patience, time_limit=args.time_limit, address=args.address)
    folder = Path(args.search_dir) if args.search_dir else Path(tempfile.mkdtemp(prefix="dwn-search-")) / "s"
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        records, _ = api.run(data, config, folder, progress=say)
        chosen, best = choose_trial(records, int(api.prepare_data(data, args.seed)["y_val"].size))
        model = load(folder / "models" / chosen["model"])
    finally:
        if not args.search_dir:
            shutil.rmtree(folder.parent, ignore_errors=True)
    Xt, yt = data.test_split()
    test_acc = float(np.mean(model.predict(Xt) == yt)) if yt.size else float("nan")
    model.metadata.update(dataset=data.name, test_accuracy=test_acc, flash_budget=flash, ram_budget=ram)
    if latency is not None:
        model.metadata["latency_budget"] = latency
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, out)
    for label, r in (("most accurate", best), ("chosen", chosen)):
        lat = "" if r["latency"] is None else f", {r['latency']} latency (priced)"
        print(f"{label:<14} trial {r['number']} {r['params']}: {r['flash']} of {flash} bytes of flash, "
              f"{r['ram']} of {ram} bytes of RAM (planned){lat}; validation {r['val_accuracy']:.4f}")
    print(f"test accuracy  {test_acc:.4f} (NumPy reference on the test split)")
    print(f"wrote          {out}")
    return 0
