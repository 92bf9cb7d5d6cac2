"""`dwn-mcu verify OUT [--target T]`: prove a generated project's C against the NumPy reference.

Each target is a function `project -> list of Comparison` in TARGETS; the host target builds the library
with gcc twice (strict warnings, sanitizers). Cross targets (avr, cortex-m*, rv32) plug in here."""

from ..compiler.host import prove
from ..compiler.project import load_project


def verify_host(project):
    return prove(project.lib_src, project.name, project.model, project.vectors)


TARGETS = {"host": verify_host}


def register(sub):
    p = sub.add_parser("verify", help="prove a generated project's C equal to the reference")
    p.add_argument("project", help="folder written by `dwn-mcu build`")
    p.add_argument("--target", choices=sorted(TARGETS), default="host", help="where to run the C (default host)")
    p.set_defaults(func=run)


def _answer(pair):
    cls, scores = pair
    return f"class {cls}, scores {' '.join(str(s) for s in scores)}"


def run(args):
    project = load_project(args.project)
    results = TARGETS[args.target](project)
    print(f"{'target':<8} {'build':<9} {'vectors':>8} {'agreement':>10}")
    for r in results:
        print(f"{args.target:<8} {r.build:<9} {r.vectors:>8} {100 * (r.vectors - r.mismatches) / max(r.vectors, 1):>9.2f}%")
    bad = next((r for r in results if not r.ok), None)
    if bad is None:
        print(f"PASS: {project.name} agrees with the reference on every vector")
        return 0
    f = bad.first
    print(f"FAIL ({args.target}, {bad.build}): vector {f['index']} features {f['features']}")
    print(f"  reference: {_answer(f['reference'])}")
    print(f"  C:         {_answer(f['c'])}")
    return 1
