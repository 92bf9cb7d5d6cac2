"""`dwn-mcu verify OUT [--target T]`: prove a generated project's C against the NumPy reference.

`host` builds the library with gcc twice (strict warnings, sanitizers). The emulated targets (avr,
cortex-m0plus, cortex-m3, cortex-m4f, rv32) build a bare-metal test firmware with the board's cross
compiler and run it in simavr or QEMU (dwn_mcu/targets), with flash, RAM, stack and latency; on the
project's own board the planner's estimates are checked and, on AVR, the Arduino sketch is run too.
Without --target: the host proof and the project's board's chip; `all` runs every target. The table goes into the
project's `dwn_report.json`."""

from ..compiler.host import prove
from ..compiler.project import load_project
from ..targets.project import expand_targets, format_table, row_dict, verify_project_target, write_report
from ..targets.toolchains import TARGETS as EMULATED, TargetError, get_target, install_hint, missing_tools


def verify_host(project):
    return prove(project.lib_src, project.name, project.model, project.vectors)


CHOICES = ["host", *EMULATED, "all"]


def register(sub):
    p = sub.add_parser("verify", help="prove a generated project's C equal to the reference")
    p.add_argument("project", help="folder written by `dwn-mcu build`")
    p.add_argument("--target", choices=CHOICES, default=None,
                   help="where to run the C: host, an emulated chip, or all (default: host and the project's board)")
    p.set_defaults(func=run)


def _answer(pair):
    cls, scores = pair
    return f"class {cls}, scores {' '.join(str(s) for s in scores)}"


def _emulated_answer(d):
    return "no answer" if d is None else f"class {d['class']}, scores {' '.join(str(s) for s in d['scores'])}"


def run(args):
    project = load_project(args.project)
    names = expand_targets(args.target, project.report)
    print(f"vectors: {project.vectors.shape[0]} (derived from the model's copy, with the {project.stored_vectors} "
          f"of dwn/vectors.npy)")
    host, rows, skipped = [], [], []
    for name in names:
        if name == "host":
            host = verify_host(project)
            continue
        missing = missing_tools(get_target(name))
        if missing:
            if args.target != "all":
                raise TargetError(f"target {name}: {install_hint(missing)}")
            skipped.append(f"{name}: {install_hint(missing)}")
            continue
        rows.append(verify_project_target(project, name))

    failed = False
    if host:
        print(f"{'target':<14} {'build':<9} {'vectors':>7} {'agreement':>9}")
        for r in host:
            print(f"{'host':<14} {r.build:<9} {r.vectors:>7} {100 * (r.vectors - r.mismatches) / max(r.vectors, 1):>8.2f}%")
        for r in host:
            if not r.ok:
                f = r.first
                print(f"FAIL (host, {r.build}): vector {f['index']} features {f['features']}")
                print(f"  reference: {_answer(f['reference'])}")
                print(f"  C:         {_answer(f['c'])}")
                failed = True
                break
    if rows:
        print(format_table(rows))
    host_entry = {"host": {r.build: {"vectors": r.vectors, "agree": r.vectors - r.mismatches, "first_mismatch": r.first}
                           for r in host}} if host else {}
    write_report(project.root, rows, host_entry)
    for line in skipped:
        print(f"skipped {line}")
    for row in rows:
        d = row_dict(row)
        if d["first_mismatch"] is not None:
            f = d["first_mismatch"]
            print(f"FAIL ({d['target']}): vector {f['index']} features {f['features']}")
            print(f"  reference: {_emulated_answer(f['expected'])}")
            print(f"  firmware:  {_emulated_answer(f['got'])}")
            failed = True
        if d["model_data_symbols"]:
            print(f"FAIL ({d['target']}): model tables in RAM (.data): {d['model_data_symbols']}")
            failed = True
        sketch = d.get("sketch")
        if sketch is not None and not sketch["ok"]:
            f = sketch["first_mismatch"]
            detail = (f"vector {f['index']} features {f['features']}: reference {f['expected']}, sketch {f['got']}"
                      if f else sketch["selftest"])
            print(f"FAIL ({d['target']}, Arduino sketch): {detail}")
            failed = True
    if failed:
        return 1
    print(f"PASS: {project.name} agrees with the reference on every vector ({', '.join(names)})")
    return 0
