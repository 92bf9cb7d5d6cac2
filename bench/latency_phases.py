"""Per-phase latency of the issue-14 reference model on every emulated target, both layouts.

The model: `train --dataset phoneme --luts 50 --bits 32 --threshold-grid float16 --seed 0` (trained into
the work folder unless --model names a .dwn), built with `build --board nano --layout table|unrolled`
and proved with `verify --target all` through the CLI, exactly as a user runs them. Figures come from
each project's `dwn_report.json` "targets" entries: the latency of record (median over the phoneme test
vectors `verify` derives, plain firmware) and the profile firmware's median per phase (encoder, each
layer, scores and argmax: docs/targets.md). Cycles on the ATmega328P (simavr, exact), instructions on
the QEMU targets (never cycles). Every target must agree with the NumPy reference on every vector.

    nice python bench/latency_phases.py [--model ref.dwn] [--workdir DIR] [-o table.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

TARGETS = ("avr", "cortex-m0plus", "cortex-m3", "cortex-m4f", "rv32")
LAYOUTS = ("table", "unrolled")
TRAIN = ["--dataset", "phoneme", "--luts", "50", "--bits", "32", "--threshold-grid", "float16", "--seed", "0"]


def cli(*args) -> None:
    proc = subprocess.run([sys.executable, "-m", "dwn_mcu", *map(str, args)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"dwn_mcu {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def measure(model: Path, work: Path) -> list[dict]:
    """One row per (layout, target): total median, phases, LUTs, agreement."""
    rows = []
    for layout in LAYOUTS:
        out = work / f"nano_{layout}"
        cli("build", model, "--board", "nano", "--layout", layout, "-o", out, "--force")
        cli("verify", out, "--target", "all")
        report = json.loads((out / "dwn_report.json").read_text())
        luts = sum(layer["luts"] for layer in report["model"]["layers"])
        for target in TARGETS:
            t = report["targets"][target]
            rows.append({"layout": layout, "target": target, "unit": t["latency_unit"], "luts": luts,
                         "median": t["latency"]["median"], "agree": f"{t['agree']}/{t['vectors']}",
                         "phases": t["phases"]["median"], "marks": t["phases"]["marks_cost_median"]})
    return rows


def markdown(rows: list[dict]) -> str:
    names = list(rows[0]["phases"])
    head = ["layout", "target", "unit", "per inference (median)", *names, "layers per LUT", "agree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        layers = sum(v for k, v in r["phases"].items() if k.startswith("layer"))
        lines.append("| " + " | ".join([r["layout"], r["target"], r["unit"], f"{r['median']:g}",
                                        *(f"{r['phases'][k]:g}" for k in names),
                                        f"{layers / r['luts']:.1f}", r["agree"]]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="the reference .dwn (default: train it)")
    ap.add_argument("--workdir", type=Path, help="keep the projects here (default: a temporary folder)")
    ap.add_argument("-o", "--output", type=Path, help="also write the Markdown table here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dwn_phases_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        model = args.model
        if model is None:
            model = work / "phoneme50.dwn"
            cli("train", *TRAIN, "--quiet", "-o", model, "--force")
        table = markdown(measure(model, work))
    text = f"{table}\n\nmachine: {platform.platform()}, python {platform.python_version()}\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
