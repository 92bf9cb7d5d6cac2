"""`dwn-mcu optimize MODEL -o OUT`: the exact netlist passes, and what each removed."""

from ..model_file import load, save
from ..optimize import optimize
from ..outputs import check_output_file, make_parents


def register(sub):
    p = sub.add_parser("optimize", help="shrink a .dwn model with exact netlist passes")
    p.add_argument("model", help="path to a .dwn file")
    p.add_argument("-o", "--output", required=True, help="where to write the optimized .dwn file")
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    p.add_argument("--keep-mixed", action="store_true",
                   help="never pad a layer back to one input count (smallest model bits, maybe more flash)")
    p.set_defaults(func=run)


def run(args):
    out = check_output_file(args.output, args.force)
    model, report = optimize(load(args.model), uniform=not args.keep_mixed)
    save(model, make_parents(out))  # atomic: a temporary file in the same folder, then a rename
    print(report.summary())
    print(f"wrote {out}")
    return 0
