"""Every installed family (DWN, XGBoost, emlearn) on the Arduino Nano at 2 KB and 8 KB (issue 17).

`dwn_mcu.compare.compare` per dataset and seed (every family on the same int16-scaled rows, held to the
same budget, built, verified on every test row and timed in simavr), reports in
`--out-dir/<dataset>/seed<k>/`, then a Markdown summary: accuracy, flash, RAM and cycles per family, and
the cells (dataset, seed, budget) where the DWN is the most accurate model with flash <= the budget and
at most the cycles of the fastest tree model within one point of the DWN's accuracy (`--summary`
prints it again from the reports). With `--latency-budget CYCLES` every family is also chosen under that
many AVR cycles per inference (compare's `latency_budget`: priced, then measured in simavr and searched
again while over it; a family with nothing within both budgets is listed so, as compare does), and the
summary lists every chosen model seed by seed, whether its measured median cycles are within the budget,
and the most accurate of those within both budgets (issue 14).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/compare_families.py \\
        --datasets phoneme segment banana --seeds 0 --out-dir bench/compare_families
    ... bench/compare_families.py --seeds 0 --budgets 2048 --latency-budget 1500 --out-dir /tmp/lat
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

DATASETS = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]


def run(args) -> None:
    from dwn_mcu.compare import compare
    from dwn_mcu.data import load_dataset

    for name in args.datasets:
        for seed in args.seeds:
            out = Path(args.out_dir) / name / f"seed{seed}"
            t0 = time.monotonic()
            compare(load_dataset(name), "nano", args.budgets, out, seed=seed, dwn_trials=args.dwn_trials,
                    dwn_time_limit=args.dwn_time_limit, epochs=args.epochs, xgb_time_limit=args.tree_time_limit,
                    emlearn_time_limit=args.tree_time_limit, families=args.families, force=True,
                    latency_budget=args.latency_budget,
                    progress=lambda m: print(f"[{name} s{seed}] {m}", file=sys.stderr, flush=True))
            print(f"[{name} s{seed}] done in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)


def dwn_cell(pool: list) -> bool | None:
    """True when the DWN is the most accurate model among those no slower than the fastest tree model
    within one point of its accuracy (flash: every model in the pool fits the budget); None: no DWN."""
    dwn = next((e for e in pool if e["family"] == "DWN"), None)
    if dwn is None:
        return None
    cyc = lambda e: e["emulator"]["cycles"]["median"]  # noqa: E731
    close = [e for e in pool if e["family"] != "DWN" and e["test_accuracy"] >= dwn["test_accuracy"] - 0.01]
    limit = min(map(cyc, close)) if close else float("inf")
    eligible = [e for e in pool if cyc(e) <= limit]
    return dwn in eligible and all(e["test_accuracy"] <= dwn["test_accuracy"] for e in eligible)


def summary(out_dir: Path) -> list:
    reports = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*/seed*/report.json"))]
    latency = {rep.get("latency_budget") for rep in reports}
    if latency != {None}:  # reports under a latency budget: every chosen model, seed by seed
        return latency_summary(reports, latency)
    lines = ["| dataset | budget B | family | shape (seed 0) | test acc | flash B | RAM B | cycles |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    cells, wins = 0, 0
    by_key = {}
    for rep in reports:
        for row in rep["rows"]:
            pool = [e for r in rep["rows"] if r["budget"] <= row["budget"] for e in r["entries"]]
            win = dwn_cell(pool)
            if win is not None:
                cells, wins = cells + 1, wins + int(win)
            for e in row["entries"]:
                by_key.setdefault((rep["dataset"], row["budget"], e["family"]), []).append(e)
    for (ds, budget, fam), es in sorted(by_key.items()):
        med = lambda f: statistics.median(f(e) for e in es)  # noqa: E731
        lines.append(f"| {ds} | {budget} | {fam} | {es[0]['shape']} | {100 * med(lambda e: e['test_accuracy']):.2f}% "
                     f"| {med(lambda e: e['emulator']['flash']):,.0f} | {med(lambda e: e['emulator']['ram']):,.0f} "
                     f"| {med(lambda e: e['emulator']['cycles']['median']):,.0f} |")
    lines += ["", f"DWN most accurate at equal flash and at most the latency of the fastest tree model within one "
              f"point of its accuracy: {wins} of {cells} cells (dataset x seed x budget)."]
    return lines


def most_accurate_within(entries: list) -> list:
    """The families (ties: all) of the most accurate chosen models measured within the latency budget."""
    within = [e for e in entries if not e["over_latency_budget"]]
    best = max((e["test_accuracy"] for e in within), default=None)
    return [e["family"] for e in within if e["test_accuracy"] == best]


def latency_summary(reports: list, latency: set) -> list:
    """Per dataset, seed and flash budget: every family's chosen model (test accuracy, measured flash, RAM
    and median cycles beside the price), whether its cycles are within the latency budget, the family's most
    accurate candidate on the validation rows, and the most accurate chosen model within both budgets."""
    if len(latency) != 1:
        raise SystemExit(f"the reports were written under different latency budgets: {sorted(map(str, latency))}")
    (cycles,) = latency
    lines = [f"| dataset | seed | budget B | family | chosen shape | val acc | test acc | flash B | RAM B | cycles "
             f"(priced) | <= {cycles:,} | most accurate on validation (val acc, priced) | most accurate within both |",
             "| --- " * 13 + "|"]
    cells, wins = 0, 0
    for rep in reports:
        for row in rep["rows"]:
            best = most_accurate_within(row["entries"])
            cells, wins = cells + 1, wins + int("DWN" in best)
            head = f"| {rep['dataset']} | {rep['seed']} | {row['budget']} "
            lines += [head + _chosen_cells(e) + f" | {', '.join(best) if i == 0 else ''} |"
                      for i, e in enumerate(row["entries"])]
            lines += [head + f"| {u['family']} | none fits: {u['reason']} |" + " - |" * 7 + " |"
                      for u in row.get("unfitted", ())]
    lines += ["", f"DWN the most accurate (ties included) of the chosen models within the flash budget and "
              f"{cycles:,} cycles: {wins} of {cells} cells (dataset x seed x budget).", ""]
    return lines + per_dataset(reports)


def per_dataset(reports: list) -> list:
    """Per dataset and flash budget, over the seeds: each family's mean test accuracy and median cycles (of the
    seeds where it fitted), and how often each family was the most accurate within both budgets."""
    cells = {}
    for rep in reports:
        for row in rep["rows"]:
            cells.setdefault((rep["dataset"], row["budget"]), []).append(row)
    families = list(dict.fromkeys(e["family"] for rep in reports for r in rep["rows"] for e in r["entries"]))
    lines = ["| dataset | budget B | seeds | " + " | ".join(f"{f} mean acc (median cycles)" for f in families)
             + " | most accurate within both (seeds) |", "| --- " * (len(families) + 4) + "|"]
    for (ds, budget), rows in cells.items():
        out = []
        for fam in families:
            es = [e for r in rows for e in r["entries"] if e["family"] == fam]
            out.append(f"{100 * statistics.mean(e['test_accuracy'] for e in es):.2f}% "
                       f"({statistics.median(e['emulator']['cycles']['median'] for e in es):,.0f})"
                       + ("" if len(es) == len(rows) else f", {len(es)} of {len(rows)} fit") if es else "none fits")
        wins = [f for r in rows for f in most_accurate_within(r["entries"])]
        lines.append(f"| {ds} | {budget} | {len(rows)} | " + " | ".join(out) + " | "
                     + ", ".join(f"{f} {wins.count(f)}" for f in families if f in wins) + " |")
    return lines


def _chosen_cells(e: dict) -> str:
    em, m = e["emulator"], e["most_accurate"]
    return (f"| {e['family']} | {e['shape']} | {100 * e['val_accuracy']:.2f}% | {100 * e['test_accuracy']:.2f}% "
            f"| {em['flash']:,} | {em['ram']:,} | {em['cycles']['median']:,.0f} ({e['priced_latency']:,}) "
            f"| {'no' if e['over_latency_budget'] else 'yes'} "
            f"| {m['shape']} ({100 * m['val_accuracy']:.2f}%, {m['priced_latency']:,})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--budgets", type=int, nargs="+", default=[2048, 8192])
    ap.add_argument("--families", default=None, help="comma-separated (default: every installed family)")
    ap.add_argument("--dwn-trials", type=int, default=24)
    ap.add_argument("--dwn-time-limit", type=float, default=300.0)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--tree-time-limit", type=float, default=60.0, help="seconds per XGBoost and emlearn search")
    ap.add_argument("--latency-budget", type=int, default=None,
                    help="AVR cycles per inference: every family is chosen under it too (compare's latency_budget)")
    ap.add_argument("--out-dir", default="bench/compare_families")
    ap.add_argument("--summary", action="store_true", help="only summarize the reports in --out-dir")
    args = ap.parse_args()
    args.families = args.families.split(",") if args.families else None
    if not args.summary:
        run(args)
    print("\n".join(summary(Path(args.out_dir))))


if __name__ == "__main__":
    main()
