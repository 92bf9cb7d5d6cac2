"""`dwn-mcu compare`: DWN against the baselines on one board at one or more flash budgets (dwn_mcu.compare)."""

from __future__ import annotations

import sys

from . import add_data_arguments


def _budget(text):
    import argparse

    try:
        value = int(text.lower().replace("kb", "")) * 1024 if text.lower().endswith("kb") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (e.g. 2048 or 2kb)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a budget must be positive")
    return value


def register(sub):
    p = sub.add_parser("compare", help="fit DWN and the baselines (XGBoost, emlearn, forest) to a board's budgets and measure them")
    add_data_arguments(p)
    p.add_argument("--board", required=True, help="board name (see `dwn-mcu boards`)")
    p.add_argument("--budgets", nargs="+", type=_budget, metavar="BYTES",
                   help="model flash budgets (default: the whole board and two smaller shares)")
    p.add_argument("--latency-budget", metavar="CYCLES|USus",
                   help="both families' priced latency per inference at most: cycles (instructions on the "
                        "QEMU-measured targets) or microseconds at the board's clock (150us)")
    p.add_argument("-o", "--output", default="compare", metavar="DIR", help="report folder (default compare)")
    p.add_argument("--dwn-trials", type=int, default=24, help="DWN shapes trained per budget (default 24)")
    p.add_argument("--dwn-time-limit", type=float, default=300.0,
                   help="seconds of DWN search per budget (default 300)")
    p.add_argument("--epochs", type=int, default=40,
                   help="DWN epochs per trial (default 40; more on a small training split, to make 1,000 steps)")
    p.add_argument("--xgb-trials", type=int, default=None, help="XGBoost trials per budget (default: all)")
    p.add_argument("--xgb-time-limit", type=float, default=60.0, help="seconds of XGBoost search per budget")
    p.add_argument("--emlearn-trials", type=int, default=None, help="emlearn trials per budget (default: all)")
    p.add_argument("--emlearn-time-limit", type=float, default=60.0, help="seconds of emlearn search per budget")
    p.add_argument("--families", type=lambda t: [n for n in t.split(",") if n.strip()], default=None,
                   metavar="LIST", help="comma-separated: dwn,xgboost,emlearn,forest (default: every installed one)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="the DWN search: local, the in-process shape search (default); ray, the search engine "
                        "of `dwn-mcu search` (Optuna's sampler, trials as Ray tasks; docs/search.md)")
    p.add_argument("--address", metavar="HOST:PORT", help="with --engine ray: join this Ray cluster")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-emulate", action="store_true", help="skip building and running on the emulator")
    p.add_argument("--force", action="store_true", help="overwrite the report folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args):
    from ..compare import REPORT_MARKER, check_engine, compare, select_families, table_lines
    from ..compiler.write import check_destination
    from ..data import load_data

    select_families(args.families)  # cheap checks first
    check_engine(args.engine, args.address)
    check_destination(args.output, args.force, REPORT_MARKER, allow_empty=True)
    data = load_data(args.data, args.target, args.dataset)
    report = compare(
        data, args.board, args.budgets, args.output, seed=args.seed, dwn_trials=args.dwn_trials,
        dwn_time_limit=args.dwn_time_limit, epochs=args.epochs, xgb_trials=args.xgb_trials,
        xgb_time_limit=args.xgb_time_limit, emlearn_trials=args.emlearn_trials,
        emlearn_time_limit=args.emlearn_time_limit, families=args.families, emulate=not args.no_emulate,
        force=args.force, latency_budget=args.latency_budget, engine=args.engine, address=args.address,
        progress=None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True)),
    )
    print("\n".join(table_lines(report)))
    print(f"wrote {args.output}/report.md, report.json and its plots")
    return 0
