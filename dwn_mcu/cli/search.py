"""`dwn-mcu search`: the model search on Ray + Optuna (dwn_mcu/search, docs/search.md). Ray and Optuna
are imported only when the command runs."""

from __future__ import annotations

import sys

from ..errors import DWNError
from . import add_data_arguments
from .train import _int_range, _positive_float


def register(sub):
    p = sub.add_parser("search", help="search DWN and XGBoost models for a board on Ray (accuracy-flash-latency front)")
    add_data_arguments(p)
    p.add_argument("--board", required=True, help="board name (see `dwn-mcu boards`)")
    p.add_argument("--flash-budget", type=_int_range(1), metavar="BYTES", help="the model's flash share")
    p.add_argument("--ram-budget", type=_int_range(1), metavar="BYTES", help="the model's RAM share")
    p.add_argument("--latency-budget", metavar="CYCLES|USus",
                   help="priced latency per inference at most: cycles (instructions on the QEMU-measured "
                        "targets) or microseconds at the board's clock (150us)")
    p.add_argument("--families", default="dwn,xgboost", metavar="LIST", help="comma-separated: dwn,xgboost")
    p.add_argument("--trials", type=_int_range(1), default=24, help="trials per family (default 24)")
    p.add_argument("--batch", type=_int_range(1), default=4,
                   help="trials per family asked at once (default 4): the results depend on it, not on the workers")
    p.add_argument("--time-limit", type=_positive_float, metavar="S", help="no new round after S seconds")
    p.add_argument("--epochs", type=_int_range(1), default=40,
                   help="DWN epochs per trial (default 40; more on a small training split, to make 1,000 steps)")
    p.add_argument("--patience", type=_int_range(1), default=15, help="DWN early-stopping patience (default 15)")
    p.add_argument("--seed", type=_int_range(0), default=0, help="the search's seed (default 0)")
    p.add_argument("--address", metavar="HOST:PORT", help="join this Ray cluster (default: a local instance)")
    p.add_argument("--cpus", type=_int_range(1), help="a local instance's CPUs (default: the machine's)")
    p.add_argument("--trial-memory", type=_int_range(64), metavar="MB",
                   help="memory (data segment) a worker may use while it runs a trial; past it the trial fails")
    p.add_argument("--resume", action="store_true", help="continue the search in DIR, keeping its finished trials")
    p.add_argument("--force", action="store_true", help="replace DIR (one a search wrote)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the search folder")
    p.set_defaults(func=run)


def _families(text: str) -> tuple:
    from ..search.space import FAMILIES

    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in FAMILIES]
    if bad or not names:
        raise DWNError(f"--families {text!r}: choose from {', '.join(FAMILIES)}")
    return names


def config_from_args(args):
    """The engine's configuration from the options; the budgets default to the board's share."""
    from ..budget_search import budgets
    from ..compiler import get_board
    from ..compiler.budget import budget_for
    from ..search.engine import SearchConfig

    if args.address and args.cpus:
        raise DWNError("--cpus is for a local instance; a cluster joined with --address has its own")
    if args.address:  # before the data are read and prepared (a minute for a large data set)
        from ..search.cluster import check_reachable

        check_reachable(args.address)
    families = _families(args.families)
    board = get_board(args.board)
    flash, ram = budgets(board, args.flash_budget, args.ram_budget)
    latency = budget_for(board, args.flash_budget, args.ram_budget, args.latency_budget).latency
    if latency is not None:
        from ..latency import check_calibrated

        for family in families:
            check_calibrated(board.arch, family)
    return SearchConfig(board=board.key, flash_budget=flash, ram_budget=ram, latency_budget=latency,
                        families=families, trials=args.trials, batch=args.batch, seed=args.seed,
                        epochs=args.epochs, patience=args.patience, time_limit=args.time_limit,
                        address=args.address, num_cpus=args.cpus,
                        trial_memory=None if args.trial_memory is None else args.trial_memory << 20)


def run(args):
    from ..data import load_data
    from ..search.api import run as run_search

    config = config_from_args(args)  # cheap checks first
    data = load_data(args.data, args.target, args.dataset)
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    records, best = run_search(data, config, args.output, resume=args.resume, force=args.force, progress=say)
    failed = sum(r["status"] == "failed" for r in records)
    within = "" if config.latency_budget is None else f", {config.latency_budget} latency"
    print(f"trials         {len(records)} ({failed} failed) on {config.board}: {config.flash_budget} B flash, "
          f"{config.ram_budget} B RAM{within}")
    for r in best:
        lat = "" if r["latency"] is None else f", {r['latency']} latency"
        print(f"front          trial {r['number']} {r['family']}: val {r['val_accuracy']:.4f}, {r['flash']} B "
              f"flash{lat} ({r['model']})")
    print(f"wrote          {args.output}/trials.csv, pareto.csv, pareto.png, front/")
    return 0
