"""`dwn-mcu build MODEL --board B -o OUT`: compile a .dwn model into a PlatformIO project."""

from pathlib import Path

import numpy as np

from ..compiler import build_project, get_board, summary
from ..compiler.budget import budget_for, metadata_budget
from ..compiler.plan import LAYOUTS, check_name
from ..compiler.project import selftest_vectors
from ..compiler.write import check_destination
from ..data import load_data
from ..errors import DataError
from ..model_file import load


def register(sub):
    p = sub.add_parser("build", help="compile a .dwn model into a PlatformIO project for a board")
    p.add_argument("model", help="path to a .dwn file")
    p.add_argument("--board", required=True, help="board name or alias (`dwn-mcu boards` lists them)")
    p.add_argument("-o", "--output", required=True, help="project folder to create")
    p.add_argument("--name", default="dwn_model", help="C prefix of the model library (a C identifier)")
    p.add_argument("--layout", choices=LAYOUTS, help="table (smallest) or unrolled (fastest); default: planner")
    p.add_argument("--selftest", action="store_true", help="embed test vectors; the sketch prints PASS/FAIL")
    p.add_argument("--selftest-data", metavar="PATH",
                   help="rows for --selftest: .npy of features, .npz dataset (test split) or CSV (with "
                        "--selftest-target); default: adversarial vectors")
    p.add_argument("--selftest-target", metavar="COLUMN", help="label column of a --selftest-data CSV")
    p.add_argument("--selftest-count", type=int, default=16, help="vectors to embed (default 16)")
    p.add_argument("--flash-budget", type=int, metavar="BYTES",
                   help="the model's flash share (default: the model's training budget for this board, else "
                        "the board's flash less the sketch's)")
    p.add_argument("--ram-budget", type=int, metavar="BYTES", help="the model's RAM share (default: likewise)")
    p.add_argument("--latency-budget", metavar="CYCLES|USus",
                   help="refuse a model whose priced latency per inference exceeds this: cycles (2000; "
                        "instructions on the QEMU-measured targets) or microseconds at the board's clock (150us)")
    p.add_argument("--boards-dir", help="extra folder of board TOML files (default: $DWN_MCU_BOARDS)")
    p.add_argument("--no-optimize", action="store_true",
                   help="compile the model as it is, without the exact netlist optimizer")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=run)


def _selftest_rows(args, model):
    if not args.selftest_data:
        return selftest_vectors(model, None, args.selftest_count)
    path = Path(args.selftest_data)
    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
    else:
        X = load_data(data=str(path), target=args.selftest_target).test_split()[0]
    return selftest_vectors(model, X, args.selftest_count)


def run(args):
    check_name(args.name)  # cheap checks first: nothing is read or written for a bad name or board
    board = get_board(args.board, args.boards_dir)
    check_destination(args.output, args.force)
    given = args.flash_budget is not None or args.ram_budget is not None
    budget = budget_for(board, args.flash_budget, args.ram_budget, args.latency_budget) if given else None
    model = load(args.model)
    if args.latency_budget is not None and not given:  # the latency beside the model's trained (or whole) budget
        shares = metadata_budget(model, board) or budget_for(board)
        budget = budget_for(board, shares.flash, shares.ram, args.latency_budget)
    st = _selftest_rows(args, model) if (args.selftest or args.selftest_data) else None
    report = build_project(model, board, args.output, name=args.name, layout=args.layout, selftest_vectors=st,
                           force=args.force, optimize=not args.no_optimize, budget=budget)
    print(f"wrote {args.output}")
    print(summary(report))
    return 0
