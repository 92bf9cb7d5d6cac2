"""`train --board B --engine ray`: the DWN for a board chosen from a search on the engine (DWN trials
only), by the rule the in-process search uses (`dwn_mcu.selection`: the fastest within one standard
error of the most accurate fitting trial; under a latency budget, the most accurate). The search folder
is `--search-dir`, or a temporary one."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..compiler.budget import BudgetError
from ..selection import choose, most_accurate
from .engine import SearchConfig


def choose_trial(records: list, rows: int, latency_budget=None) -> tuple:
    """(chosen, most accurate) of the fitting trained DWN trials (all within `latency_budget`, if given);
    BudgetError when none fits."""
    kept = [r for r in records if r["family"] == "dwn" and r["status"] == "ok" and r["fits"]]
    if not kept:
        raise BudgetError(f"no trained DWN of the {len(records)} trials fits the budgets")
    items = [(r["val_accuracy"], r["latency"], r["flash"]) for r in kept]
    return kept[choose(items, rows, latency_budget)], kept[most_accurate(items)]


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
        chosen, best = choose_trial(records, int(api.prepare_data(data, args.seed)["y_val"].size), latency)
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


def _engine_data(X_train, y_train, X_val, y_val, num_classes: int, quantization=None) -> dict:
    """The rows as the engine's trials take them, with their digest (the search manifest's).
    `quantization` (an `integer_inputs.Quantization`): the trials price each DWN as its integer-input
    model (the firmware compare builds); its scale and offset are in the digest."""
    from .records import data_digest

    data = {"X_train": np.ascontiguousarray(X_train, np.float32), "y_train": np.asarray(y_train, np.int64),
            "X_val": np.ascontiguousarray(X_val, np.float32), "y_val": np.asarray(y_val, np.int64),
            "num_classes": int(num_classes), "quantization": quantization}
    scaling = () if quantization is None else (np.frombuffer(quantization.input_type.encode(), np.uint8),
                                               np.asarray(quantization.scale, np.float64),
                                               np.asarray(quantization.offset, np.float64))
    data["digest"] = data_digest(data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                                 np.asarray([data["num_classes"]]), *scaling)
    return data


def _none_fits(records: list, flash_budget: int, latency_budget, board) -> BudgetError:
    failed = [r for r in records if r["status"] == "failed"]
    why = f" ({len(failed)} failed: {failed[0]['error']})" if failed else ""
    within = "" if latency_budget is None else f" within {latency_budget} priced"
    return BudgetError(f"no trained DWN of the engine's {len(records)} trials fits {flash_budget} bytes of "
                       f"flash{within} on {board.name}{why}")


def _consider_trials(records, models: Path, num_classes: int, best, quantization) -> None:
    """Each engine trial into `best`: untrained ones (over budget by the estimate, or failed) listed as not
    fitting; trained ones as the engine priced them, or priced again as the integer-input model."""
    from ..budget_search import _cand
    from ..model_file import load
    from .trial import dwn_shape

    for r in records:
        s = dwn_shape(r["params"], num_classes)
        if r["status"] != "ok":
            best.candidates.append(_cand(s, None, r["flash"] or 0, r["ram"] or 0, float("nan"), False, False,
                                         r["seconds"] or 0.0))
            continue
        model = load(models / r["model"])
        if quantization is not None:
            best.consider(s, model, r["seconds"])
            continue
        layout = model.metadata.get("layout")
        cand = _cand(s, layout, r["flash"], r["ram"], r["val_accuracy"], True, r["fits"], r["seconds"],
                     r["latency"])
        best.candidates.append(cand)
        if r["fits"]:
            best.kept.append((cand, model, layout, model))


def search_dwn_on_engine(X_train, y_train, X_val, y_val, num_classes: int, board, flash_budget: int,
                         ram_budget: int, *, max_trials: int = 24, time_limit: float | None = None, seed: int = 0,
                         epochs: int = 40, patience: int = 15, progress=None, incumbents=(),
                         latency_budget: int | None = None, address: str | None = None,
                         num_cpus: int | None = None, dataset: str = "compare", quantization=None):
    """`budget_search.search_dwn`'s result, from the engine's DWN search instead of the fixed shape list:
    the trials of `dwn-mcu search` (Optuna's seeded sampler, each trial seeded from its parameters, run as
    Ray tasks on a local instance or the cluster at `address`, `max_trials` of them or fewer at
    `time_limit`, after which no trial starts) on these rows, into a temporary search folder. `incumbents`
    ((DWNShape, FrozenDWN) pairs, the choices at smaller budgets) are priced again at this budget and
    listed first, as `search_dwn` does; then every trained trial, as the engine priced it. The chosen
    model is the selection rule's (`dwn_mcu.selection`: the fastest within one standard error of the most
    accurate fitting one; under a latency budget, the most accurate). `quantization`: every trained trial
    is priced again as the integer-input model the firmware runs (`budget_search._Best`; the engine priced
    the float one). BudgetError when none fits."""
    import time

    from ..budget_search import DWNSearchResult, _Best
    from ..compiler import get_board
    from ..compiler.budget import Budget
    from . import engine

    board = get_board(board)
    data = _engine_data(X_train, y_train, X_val, y_val, num_classes, quantization)
    config = SearchConfig(board=board.key, flash_budget=int(flash_budget), ram_budget=int(ram_budget),
                          latency_budget=latency_budget, families=("dwn",), trials=int(max_trials), seed=seed,
                          epochs=epochs, patience=patience, time_limit=time_limit, address=address,
                          num_cpus=num_cpus)
    budget = Budget(int(flash_budget), int(ram_budget), latency_budget)
    candidates: list = []
    best = _Best(board, budget, data["X_val"], data["y_val"], candidates, quantization)
    for s, model in incumbents:
        best.consider(s, model, 0.0)
    start = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="dwn-compare-search-"))
    try:
        records = engine.search(data, config, folder / "s", dataset, progress=progress)
        _consider_trials(records, folder / "s" / "models", data["num_classes"], best, quantization)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not best.kept:
        raise _none_fits(records, flash_budget, latency_budget, board)
    cand, model, layout, float_model = best.chosen()
    trained = sum(r["status"] == "ok" for r in records)
    return DWNSearchResult(cand, model, layout, candidates, trained, time.monotonic() - start, int(flash_budget),
                           int(ram_budget), latency_budget, best.leader, float_model)
