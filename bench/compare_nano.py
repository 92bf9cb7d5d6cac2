"""DWN vs XGBoost on the Arduino Nano (ATmega328P) at 2 KB, 8 KB and the whole board (issue 5).

Default: `dwn_mcu.compare.compare` per dataset and seed (both families fitted by the planner's rules,
built, verified and timed in simavr; the seed picks the validation split and seeds both searches),
reports in `--out-dir/<dataset>/seed<k>/`, then a summary over seeds (`--summary` prints it again from
the reports, e.g. after runs split over several processes).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/compare_nano.py --seeds 0 1 2 --out-dir bench/compare_nano

`--xgboost-only`: the baseline alone, with its budget held to the measured ELF share. For each dataset
and budget: the budget-fitted search (`train_xgboost`) on the training rows minus a
stratified 20% validation split (seed 0), with the budget checked against the model's measured share of
the AVR firmware's flash (tables + code + the float routines it pulls in: the ELF with the model minus
the same ELF without it). The chosen model is then run on the whole test split in simavr (exact cycles)
and compared with xgboost's own predictions, bit for bit.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/compare_nano.py --xgboost-only [--out F.json]

`--latency-matched` (issue 14): per dataset, seed and flash budget (2 KB, 8 KB), `compare` of the DWN
and XGBoost (the issue's two families; the other tree families are bench/compare_families.py's) at that flash
budget alone, then the DWN alone with the latency budget set to the simavr cycles (`--board pico`: QEMU
instructions of the Cortex-M0+) of the XGBoost model chosen in the first run; the DWN chosen under both
budgets against that XGBoost model, and the plain DWN/XGBoost cycle ratio at equal flash. Reports in
`--out-dir/<dataset>/seed<k>/{flash,latency}<budget>/`; `--latency-matched --summary` sums up every
latency_matched.json under `--out-dir` (runs split over processes).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/compare_nano.py --latency-matched \
        --seeds 0 1 2 3 4 --out-dir bench/compare_nano_latency
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dwn_mcu.baselines.xgb_export import render_sources
from dwn_mcu.baselines.xgb_target import verify_on_avr
from dwn_mcu.baselines.xgb_train import train_xgboost
from dwn_mcu.data import load_dataset, stratified_split

DATASETS = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]
NANO_FLASH = 30720  # PlatformIO's nanoatmega328 flash (the bootloader takes the rest of the 32 KiB)


def xgboost_predictions(booster, X, num_classes):
    import xgboost as xgb

    d = xgb.DMatrix(X)
    margins = np.asarray(booster.predict(d, output_margin=True), np.float32).reshape(X.shape[0], -1)
    out = booster.predict(d)
    return ((out > 0.5) if num_classes == 2 else out).astype(np.int64), margins


def fit(ds, budget, overhead, time_limit, seed):
    """Search with `size = table bytes + overhead`; measure the chosen model on the AVR; if its measured
    share exceeds the budget (the code overhead grew with wider types), search again with the measured
    overhead."""
    X, y = ds.train_split()
    val = stratified_split(y, 0.2, seed=seed)
    Xt, yt = ds.test_split()
    for _ in range(3):
        t0 = time.monotonic()
        res = train_xgboost(X[~val], y[~val], X[val], y[val], ds.num_classes, budget,
                            size_fn=lambda t, o=overhead: t.table_bytes + o, time_limit=time_limit, seed=seed)
        search_s = time.monotonic() - t0
        expected = xgboost_predictions(res.booster, Xt, ds.num_classes)
        avr = verify_on_avr(res.tables, render_sources(res.tables, "xgbm"), "xgbm", Xt, expected=expected)
        measured_overhead = avr.model_size.flash - res.tables.table_bytes
        if avr.model_size.flash <= budget:
            return res, avr, expected, search_s, measured_overhead
        overhead = measured_overhead
    raise SystemExit(f"{ds.name} @ {budget}: could not fit the measured flash")


def _parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per XGBoost search")
    ap.add_argument("--seed", type=int, default=0, help="--xgboost-only: the validation split's seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="compare: one run per seed")
    ap.add_argument("--summary", action="store_true", help="compare: only summarize the reports in --out-dir")
    ap.add_argument("--out", default="bench/xgb_nano.json", help="--xgboost-only: the JSON of every row")
    ap.add_argument("--xgboost-only", action="store_true")
    ap.add_argument("--latency-matched", action="store_true",
                    help="issue 14: the DWN under the flash budget and the cycles of XGBoost's choice there")
    ap.add_argument("--budgets", type=int, nargs="+", default=[2048, 8192], help="--latency-matched: flash budgets")
    ap.add_argument("--board", default="nano", help="--latency-matched: the board (pico: Cortex-M0+, QEMU "
                                                     "instructions)")
    ap.add_argument("--representation", action="store_true",
                    help="the two fixed models compared with the reference exporter's figures")
    ap.add_argument("--out-dir", default="bench/compare_nano", help="compare: one report folder per dataset")
    ap.add_argument("--dwn-trials", type=int, default=24, help="DWN shapes trained per budget at most")
    ap.add_argument("--dwn-time-limit", type=float, default=240.0, help="seconds of DWN search per budget")
    ap.add_argument("--epochs", type=int, default=40)
    return ap


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.representation:
        return run_representation()
    if args.summary:
        print(latency_summary(args.out_dir) if args.latency_matched else summary(args.out_dir))
        return 0
    if args.latency_matched:
        return run_latency_matched(args)
    if not args.xgboost_only:
        return run_compare(args)
    return run_xgboost_only(args)


def run_xgboost_only(args):
    """`--xgboost-only` (see the module docstring): one row per dataset and budget, printed and written."""
    rows = []
    for name in args.datasets:
        ds = load_dataset(name)
        # The rest of a firmware (startup, main, the testbench) is the bare ELF: what "the whole Nano"
        # leaves the model is the board's flash minus that.
        whole = None
        overhead = 950  # first guess of code + float routines; corrected from measurements below
        for label in ("2 KB", "8 KB", "whole Nano"):
            budget = {"2 KB": 2048, "8 KB": 8192}.get(label)
            if budget is None:
                budget = whole
            res, avr, expected, search_s, overhead = fit(ds, budget, overhead, args.time_limit, args.seed)
            if whole is None:
                # bare firmware = firmware with model minus model share; measured on the first build
                whole = NANO_FLASH - (_firmware_flash(res, ds) - avr.model_size.flash)
            Xt, yt = ds.test_split()
            row = {
                "dataset": name, "budget_label": label, "budget": budget, "shape": res.best.shape(),
                "trees": res.best.trees, "depth": res.best.depth, "learning_rate": res.best.learning_rate,
                "max_bin": res.best.max_bin, "val_accuracy": res.best.val_accuracy,
                "test_accuracy": float(np.mean(expected[0] == yt)), "table_bytes": res.tables.table_bytes,
                "model_flash": avr.model_size.flash, "model_ram": avr.model_size.ram, "stack": avr.stack_measured,
                "cycles": avr.latency_summary(), "avr_agree": avr.agree, "avr_vectors": avr.vectors,
                "trials": res.trials, "candidates": len(res.candidates), "search_s": round(search_s, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    with open(args.out, "w") as fh:
        json.dump(rows, fh, indent=1)
    print("\n| dataset | budget | model | val acc | test acc | tables B | flash B | RAM B (stack) "
          "| cycles median (min-max) | simavr = xgboost |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        c = r["cycles"]
        print(f"| {r['dataset']} | {r['budget_label']} ({r['budget']}) | {r['shape']} | {100 * r['val_accuracy']:.1f}% "
              f"| {100 * r['test_accuracy']:.1f}% | {r['table_bytes']} | {r['model_flash']} | {r['model_ram']} "
              f"({r['stack']}) | {c['median']:,.0f} ({c['min']:,}-{c['max']:,}) | {r['avr_agree']}/{r['avr_vectors']} |")
    return 0


def run_representation():
    """phoneme 100 trees and segment 10 rounds, depth 6, eta 0.3, on all non-test rows; 300 test rows
    with 10% NaN in simavr (the reference exporter's models, /work/shared/notes/xgboost_avr.md)."""
    import xgboost as xgb

    from dwn_mcu.baselines.xgb_export import pack, parse_booster

    for name, rounds in (("phoneme", 100), ("segment", 10)):
        ds = load_dataset(name)
        X, y = ds.train_split()
        params = {"max_depth": 6, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1}
        params.update({"objective": "binary:logistic"} if ds.num_classes == 2 else
                      {"objective": "multi:softmax", "num_class": ds.num_classes})
        booster = xgb.train(params, xgb.DMatrix(X, label=y), rounds)
        tables = pack(parse_booster(booster))
        Xt = ds.test_split()[0][:300].copy()
        Xt[np.random.default_rng(0).random(Xt.shape) < 0.1] = np.nan
        r = verify_on_avr(tables, render_sources(tables, "xgbm"), "xgbm", Xt,
                          expected=xgboost_predictions(booster, Xt, ds.num_classes))
        print(f"{name} {rounds} rounds x depth 6: tables {tables.table_bytes} B, flash share {r.model_size.flash} B, "
              f"cycles {r.latency_summary()}, agree {r.agree}/{r.vectors}")
    return 0


def run_compare(args):
    """One `compare` per dataset and seed (the seed picks the validation split and seeds both families),
    reports in out_dir/<dataset>/seed<k>/; per-seed tables, then the summary over seeds."""
    from dwn_mcu.compare import compare, table_lines

    for seed in args.seeds:
        for name in args.datasets:
            t0 = time.monotonic()
            report = compare(load_dataset(name), "nano", [2048, 8192, 30720 - 4200],
                             Path(args.out_dir) / name / f"seed{seed}", seed=seed, dwn_trials=args.dwn_trials,
                             dwn_time_limit=args.dwn_time_limit, epochs=args.epochs,
                             xgb_time_limit=args.time_limit, force=True,
                             progress=lambda m: print(m, file=sys.stderr, flush=True))
            print(f"\n## {name}, seed {seed} ({time.monotonic() - t0:.0f} s)\n" + "\n".join(table_lines(report)),
                  flush=True)
    print(summary(args.out_dir))
    return 0


def run_latency_matched(args):
    """See the module docstring (`--latency-matched`); prints one table row per run and writes them to
    out_dir/latency_matched.json."""
    from dwn_mcu.compare import compare

    kw = {"dwn_trials": args.dwn_trials, "dwn_time_limit": args.dwn_time_limit, "epochs": args.epochs,
          "xgb_time_limit": args.time_limit, "families": ["dwn", "xgboost"], "force": True, "progress": lambda m: print(m, file=sys.stderr, flush=True)}
    rows, out = [], Path(args.out_dir)
    print("| dataset | seed | flash B | XGBoost (flash only) acc | XGB cycles | DWN (flash only) acc | DWN/XGB cycles "
          "| DWN (flash + latency) acc | its cycles | its priced | DWN >= XGB |")
    print("| --- " * 11 + "|")
    for seed in args.seeds:
        for name in args.datasets:
            ds = load_dataset(name)
            for budget in args.budgets:
                t0 = time.monotonic()
                plain = compare(ds, args.board, [budget], out / name / f"seed{seed}" / f"flash{budget}", seed=seed,
                                **kw)
                e = {x["family"]: x for x in plain["rows"][0]["entries"]}
                xgb_cycles = int(e["XGBoost"]["emulator"]["cycles"]["median"])
                row = {"dataset": name, "seed": seed, "budget": budget, "xgb_acc": e["XGBoost"]["test_accuracy"],
                       "xgb_cycles": xgb_cycles, "dwn_acc": e["DWN"]["test_accuracy"],
                       "ratio": e["DWN"]["emulator"]["cycles"]["median"] / xgb_cycles,
                       **_timed(ds, args.board, budget, out / name / f"seed{seed}" / f"latency{budget}", seed,
                                xgb_cycles, kw),
                       "seconds": round(time.monotonic() - t0)}
                rows.append(row)
                print(_latency_row(row), flush=True)
                out.mkdir(parents=True, exist_ok=True)
                (out / "latency_matched.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def _timed(ds, board, budget, out, seed, xgb_cycles, kw) -> dict:
    """`compare` of the DWN alone under the flash budget and XGBoost's cycles (XGBoost's own search under
    its measured cycles can fail where its price is over them, which must not hide the DWN); no DWN
    fitting both is a result too."""
    from dwn_mcu.compare import compare
    from dwn_mcu.errors import DWNError

    try:
        row = compare(ds, board, [budget], out, seed=seed, latency_budget=xgb_cycles,
                      **{**kw, "families": ["dwn"]})["rows"][0]
    except DWNError as exc:  # no DWN shape fits within the cycles
        return {"dwn_timed_acc": None, "timed_error": str(exc)}
    t = {x["family"]: x for x in row["entries"]}
    if "DWN" not in t:
        return {"dwn_timed_acc": None, "timed_error": "; ".join(u["reason"] for u in row["unfitted"])}
    return {"dwn_timed_acc": t["DWN"]["test_accuracy"], "dwn_timed_cycles": t["DWN"]["emulator"]["cycles"]["median"],
            "dwn_timed_priced": t["DWN"]["priced_latency"]}


def _latency_row(row: dict) -> str:
    head = (f"| {row['dataset']} | {row['seed']} | {row['budget']} | {100 * row['xgb_acc']:.2f}% | {row['xgb_cycles']:,} "
            f"| {100 * row['dwn_acc']:.2f}% | {row['ratio']:.2f} ")
    if row["dwn_timed_acc"] is None:
        return head + f"| none fits: {row['timed_error']} | - | - | no |"
    return head + (f"| {100 * row['dwn_timed_acc']:.2f}% | {row['dwn_timed_cycles']:,.0f} | {row['dwn_timed_priced']:,} "
                   f"| {'yes' if row['dwn_timed_acc'] >= row['xgb_acc'] else 'no'} |")


def _in_dataset_order(rows: dict) -> list:
    """The items of {(dataset, budget): ...} in DATASETS' order (others last), then by budget."""
    order = {name: i for i, name in enumerate(DATASETS)}
    return sorted(rows.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))


def latency_summary(out_dir) -> str:
    """Every latency_matched.json under out_dir (runs split over processes write one each), per dataset and
    budget over seeds: XGBoost's mean test accuracy, the mean of the DWN chosen under both budgets (over
    the seeds where one fits), the seeds where it is at least as accurate, and the median DWN/XGBoost cycle
    ratio at equal flash; then the issue's counts (a dataset counts at a budget when a DWN fits on every
    seed and its mean is at least XGBoost's)."""
    rows = {}
    for path in sorted(Path(out_dir).rglob("latency_matched.json")):
        for r in json.loads(path.read_text()):
            rows.setdefault((r["dataset"], r["budget"]), {})[r["seed"]] = r
    out = ["| dataset | budget B | seeds | XGBoost mean acc | DWN (both budgets) mean acc | seeds a DWN fits "
           "| seeds DWN >= XGB | DWN/XGB cycles at equal flash (median) |", "| --- " * 8 + "|"]
    met, stretch, cells = {}, {}, 0
    for (name, budget), by_seed in _in_dataset_order(rows):
        runs = [by_seed[s] for s in sorted(by_seed)]
        fit = [r for r in runs if r["dwn_timed_acc"] is not None]
        xgb = 100 * np.mean([r["xgb_acc"] for r in runs])
        dwn = 100 * np.mean([r["dwn_timed_acc"] for r in fit]) if fit else None
        ratio = float(np.median([r["ratio"] for r in runs]))
        wins = sum(r["dwn_timed_acc"] >= r["xgb_acc"] for r in fit)
        met[budget] = met.get(budget, 0) + int(len(fit) == len(runs) and dwn >= xgb)
        stretch[budget] = stretch.get(budget, 0) + int(ratio <= 1)
        cells += len(runs)
        out.append(f"| {name} | {budget} | {len(runs)} | {xgb:.2f}% | {'-' if dwn is None else f'{dwn:.2f}%'} "
                   f"| {len(fit)} | {wins} | {ratio:.2f} |")
    counts = [f"{budget} B: DWN mean at least XGBoost's on {met[budget]} datasets, cycle ratio at most 1 on "
              f"{stretch[budget]}" for budget in sorted(met)]
    return "\n".join(out + ["", f"{cells} runs. " + "; ".join(counts) + "."])


def summary(out_dir) -> str:
    """Every report under out_dir/<dataset>/seed<k>/: per seed, the chosen models' test accuracy, measured
    flash and median cycles side by side; then per dataset and budget the mean over seeds and the wins."""
    rows = {}
    for path in sorted(Path(out_dir).glob("*/seed*/report.json")):
        report = json.loads(path.read_text())
        for row in report["rows"]:
            e = {x["family"]: x for x in row["entries"]}
            rows.setdefault((report["dataset"], row["budget"]), []).append((report["seed"], e, row["winner"]))
    out = ["| dataset | budget B | seed | DWN shape | DWN acc | DWN flash B | DWN cycles | XGBoost shape | XGB acc "
           "| XGB flash B | XGB cycles | winner |", "| --- " * 12 + "|"]
    agg = ["| dataset | budget B | seeds | DWN acc (mean ± sd) | XGBoost acc (mean ± sd) | DWN wins | XGBoost wins "
           "| equal acc | DWN cycles / XGBoost cycles (median of seeds) |", "| --- " * 9 + "|"]
    for (name, budget), runs in _in_dataset_order(rows):
        acc = {f: np.array([100 * e[f]["test_accuracy"] for _, e, _ in runs]) for f in ("DWN", "XGBoost")}
        ratio = np.median([e["DWN"]["emulator"]["cycles"]["median"] / e["XGBoost"]["emulator"]["cycles"]["median"]
                           for _, e, _ in runs])
        for seed, e, winner in sorted(runs, key=lambda r: r[0]):
            d, x = e["DWN"], e["XGBoost"]
            out.append(f"| {name} | {budget} | {seed} | {d['shape']} | {100 * d['test_accuracy']:.2f}% "
                       f"| {d['emulator']['flash']} | {d['emulator']['cycles']['median']:,.0f} | {x['shape']} "
                       f"| {100 * x['test_accuracy']:.2f}% | {x['emulator']['flash']} "
                       f"| {x['emulator']['cycles']['median']:,.0f} | {winner} |")
        diff = acc["DWN"] - acc["XGBoost"]
        agg.append(f"| {name} | {budget} | {len(runs)} | {acc['DWN'].mean():.2f} ± {acc['DWN'].std():.2f} "
                   f"| {acc['XGBoost'].mean():.2f} ± {acc['XGBoost'].std():.2f} | {(diff > 0).sum()} "
                   f"| {(diff < 0).sum()} | {(diff == 0).sum()} | {ratio:.2f} |")
    return "\n".join(["", "Per seed:", ""] + out + ["", "Over seeds:", ""] + agg)


def _firmware_flash(res, ds):
    """Flash of the whole testbench firmware (16 vectors) with the chosen model."""
    import tempfile

    from dwn_mcu.baselines.xgb_target import render_testbench
    from dwn_mcu.targets.elf_size import elf_size
    from dwn_mcu.targets.testbench import build_firmware
    from dwn_mcu.targets.toolchains import get_target

    target = get_target("avr")
    with tempfile.TemporaryDirectory() as tmp:
        Xt, _ = ds.test_split()
        fw = build_firmware(target, render_sources(res.tables, "xgbm"),
                            render_testbench("xgbm", Xt[:16], res.tables.num_margins), tmp)
        return elf_size(fw.elf, target.flash_sections, target.ram_sections).flash


if __name__ == "__main__":
    sys.exit(main())
