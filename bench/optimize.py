"""Benchmark of the optimizer: model bits and Nano flash before and after, each pass's share, changed
predictions, and what the float16 threshold grid costs in accuracy.

    PYTHONPATH=. python bench/optimize.py [--source trained|random|both] [--seeds 3] [--out FILE]

Models, for each of the six shared tabular datasets, small one-layer models (n = 6):
* trained: `dwn_mcu.training.classifier.DWNClassifier`, 30 epochs, seed 0, configurations CONFIGS;
  and (50 LUTs, 32 thresholds, learnable mapping) over `--seeds` seeds with and without the float16
  threshold grid (`threshold_grid.snap_thermometer_to_float16` applied to the fitted thermometer; until
  the classifier has an option for it, this script wraps `Thermometer.fit` while it trains).
* random: random-structured models (`planted.quantile_model`: training-quantile thresholds, random
  mapping and tables), labelled as such.
Every row checks the optimized model against the original on every test-split row plus adversarial
inputs: "changed" must be 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # planted.py, the optimizer tests' model generator

from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.optimize import PASSES, optimize  # noqa: E402
from planted import quantile_model  # noqa: E402
from dwn_mcu.threshold_grid import fits_float16_grid, snap_thermometer_to_float16  # noqa: E402
from dwn_mcu.synthetic import adversarial_inputs  # noqa: E402

TABULAR = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]
# (LUTs, thresholds per feature, first-layer mapping); the first is also the float16 comparison's.
CONFIGS = [(50, 32, "learnable"), (100, 16, "random"), (200, 16, "learnable")]


@contextlib.contextmanager
def float16_thermometer():
    """While active, the classifier's thermometer is snapped to the float16 grid after fitting."""
    from dwn_mcu.training import classifier

    fit = classifier.Thermometer.fit.__func__

    def fit16(cls, X, bits=16, encoding="distributive"):
        th = fit(cls, X, bits, encoding)
        return cls(*snap_thermometer_to_float16(th.thresholds, th.bits_per_feature), th.encoding)

    with mock.patch.object(classifier.Thermometer, "fit", classmethod(fit16)):
        yield


def trained_model(data, luts, bits, mapping, seed, f16=False):
    from dwn_mcu.training.classifier import DWNClassifier

    X, y = data.train_split()
    clf = DWNClassifier(luts=(luts,), lut_inputs=6, bits=bits, mapping=mapping, epochs=30, seed=seed,
                        verbose=False, device="cpu")
    with float16_thermometer() if f16 else contextlib.nullcontext():
        clf.fit(X, y, feature_names=list(data.feature_names), class_names=list(data.class_names))
    return clf.freeze()


def random_model(data, luts, bits, seed):
    X, _ = data.train_split()
    C = data.num_classes
    return quantile_model(X, seed=seed, bits_per_feature=bits, luts=(max(1, luts // C) * C,), n=6, num_classes=C)


def avr_flash(model, layout="table"):
    """Flash bytes (text + data, PROGMEM tables included) of the generated model library compiled for
    the Nano (ATmega328P) with avr-gcc -Os, or None without avr-gcc."""
    from dwn_mcu.compiler import render_model_sources

    if shutil.which("avr-gcc") is None:
        return None
    sources = render_model_sources(model, "nano", "m", layout)
    with tempfile.TemporaryDirectory() as tmp:
        for fname, text in sources.items():
            Path(tmp, fname).write_text(text)
        subprocess.run(["avr-gcc", "-std=c99", "-Os", "-mmcu=atmega328p", "-ffunction-sections", "-fdata-sections",
                        "-c", "m.c", "-o", "m.o"], cwd=tmp, check=True)
        out = subprocess.run(["avr-size", "m.o"], cwd=tmp, check=True, capture_output=True, text=True).stdout
    text, data = out.splitlines()[1].split()[:2]
    return int(text) + int(data)


def avr_cycles(model, X, layout):
    """Median AVR cycles per inference (simavr, cycle-exact) over the rows X, after checking that the
    firmware agrees with the reference on every one; None without `dwn_mcu.targets`."""
    try:
        from dwn_mcu.targets.verify import verify_on_target
    except ImportError:
        return None
    from dwn_mcu.compiler import render_model_sources

    result = verify_on_target(model, "avr", X, render_model_sources(model, "nano", "m", layout), "m",
                              measure_model_share=False)
    assert result.agree == result.vectors, f"AVR firmware disagrees: {result.first_mismatch}"
    return result.latency_summary()["median"]


def layout_costs(model, X):
    """{layout: {variant: (Nano flash bytes, AVR cycles)}} for the original model and the optimized one
    with mixed input counts kept (`uniform=False`) or padded back (`uniform=True`)."""
    variants = {"original": model, "mixed": optimize(model, uniform=False)[0], "uniform": optimize(model)[0]}
    return {layout: {k: (avr_flash(m, layout), avr_cycles(m, X, layout)) for k, m in variants.items()}
            for layout in ("table", "unrolled")}


def measure(label, data, model, luts, bits, mapping, seed, cycles=False):
    """Optimize `model` and measure it; `luts, bits, mapping` name the configuration it was built with."""
    X_test, y_test = data.test_split()
    t0 = time.perf_counter()
    small, report = optimize(model)
    seconds = time.perf_counter() - t0
    X = np.concatenate([X_test, adversarial_inputs(model, seed=0)])
    changed = int(np.sum((small.predict(X) != model.predict(X)) | np.any(small.scores(X) != model.scores(X), axis=1)))
    row = dict(source=label, dataset=data.name, config=(luts, bits, mapping), luts=model.layers[-1].num_luts,
               bits=bits, mapping=mapping,
               seed=seed, acc=float(np.mean(model.predict(X_test) == y_test)), report=report, changed=changed,
               seconds=seconds, flash=(avr_flash(model), avr_flash(small)),
               half=report.after["total_bits"] - 16 * small.num_input_bits if fits_float16_grid(small.thresholds)
               else None,
               layouts=layout_costs(model, X_test[:32]) if cycles else None)
    b, a = report.before["total_bits"], report.after["total_bits"]
    print(f"{label:12} {data.name:11} {row['luts']:4} LUTs {bits:3} bits {mapping:9} seed {seed} {b:7} -> {a:7} bits "
          f"({100 * (b - a) / b:5.1f}% fewer) changed {changed} acc {row['acc']:.4f} flash {row['flash']} "
          f"{row['layouts'] or ''}", flush=True)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["trained", "random", "both"], default="both")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of the float16 accuracy comparison")
    ap.add_argument("--datasets", nargs="+", default=TABULAR, choices=TABULAR)
    ap.add_argument("--cycles", action="store_true",
                    help="Nano flash and AVR cycles (simavr) of both layouts, original / mixed / uniform, for the "
                         "trained 50- and 200-LUT learnable models, seed 0")
    ap.add_argument("--out", default=str(ROOT / "bench" / "last-optimize.md"))
    args = ap.parse_args(argv)
    os.environ.setdefault("DWN_MCU_DATA", str(ROOT.parent / "shared" / "datasets"))
    rows = []
    for name in args.datasets:
        data = load_dataset(name)
        if args.source in ("random", "both"):
            for luts, bits, _ in CONFIGS:
                rows.append(measure("random", data, random_model(data, luts, bits, 0), luts, bits, "random", 0))
        if args.source in ("trained", "both"):
            for luts, bits, mapping in CONFIGS:
                rows.append(measure("trained", data, trained_model(data, luts, bits, mapping, 0), luts, bits, mapping, 0,
                                    cycles=args.cycles and mapping == "learnable"))
            luts, bits, mapping = CONFIGS[0]
            for seed in range(args.seeds):
                if seed:
                    rows.append(measure("trained", data, trained_model(data, luts, bits, mapping, seed), luts, bits,
                                        mapping, seed))
                rows.append(measure("trained f16", data, trained_model(data, luts, bits, mapping, seed, f16=True),
                                    luts, bits, mapping, seed))
    write_results(Path(args.out), rows, " ".join(sys.argv[1:] if argv is None else argv))


def write_results(path: Path, rows, argline: str):
    names = [name for name, _ in PASSES] + ["uniform_layers"]
    fewer = lambda r: 100 * (r["report"].before["total_bits"] - r["report"].after["total_bits"]) / r["report"].before["total_bits"]  # noqa: E731
    lines = [
        "## Optimizer",
        "",
        f"Command: `PYTHONPATH=. nice python bench/optimize.py {argline}`".replace(" `", " `"),
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), Python "
        f"{platform.python_version()}, NumPy {np.__version__}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "Model bits: `FrozenDWN.size_bits()['total_bits']` (tables + mapping at ceil(log2 inputs) bits per entry "
        "+ 32 bits per threshold). *after (16-bit thr.)*: bits after with thresholds counted at 16 bits, for "
        "models trained on the float16 grid (`trained f16`). *Nano flash*: text + data bytes of the generated "
        "model library (table layout) compiled with avr-gcc -Os -mmcu=atmega328p, before -> after. *changed*: "
        "test-split rows plus adversarial inputs whose class or scores differ (must be 0). Pass columns: the "
        "change each pass made, in % of the original model's bits (they add up to *fewer*); `uniform_layers` "
        "pads layers back to one input count where the compiler's per-LUT count byte would cost more flash. `random` rows are random-structured models (training-quantile "
        "thresholds, random mapping, random tables), not trained models.",
        "",
        "| source | dataset | LUTs | thr/feat | mapping | seed | test acc | bits before | bits after | fewer "
        "| after (16-bit thr.) | Nano flash | changed | " + " | ".join(names) + " | ignored features | time |",
        "| --- " * (16 + len(names)) + "|",
    ]
    for r in rows:
        rep = r["report"]
        b, a = rep.before["total_bits"], rep.after["total_bits"]
        share = [f"{-100 * rep.removed[p]['total_bits'] / b:+.1f}%" for p in names]
        flash = "n/a" if None in r["flash"] else f"{r['flash'][0]} -> {r['flash'][1]}"
        half = "-" if r["half"] is None else f"{r['half']} ({100 * (b - r['half']) / b:.1f}% fewer)"
        lines.append(
            f"| {r['source']} | {r['dataset']} | {r['luts']} | {r['bits']} | {r['mapping']} | {r['seed']} | "
            f"{100 * r['acc']:.1f}% | {b} | {a} | {fewer(r):.1f}% | {half} | {flash} | {r['changed']} | "
            + " | ".join(share) + f" | {len(rep.ignored_features)} | {r['seconds']:.2f}s |"
        )
    timed = [r for r in rows if r.get("layouts")]
    if timed:
        lines += ["", "Layouts: Nano flash bytes / AVR cycles per inference (ATmega328P under simavr, median over 32 "
                  "test rows, each checked against the reference) of the original model, the optimized one with "
                  "mixed input counts (`uniform=False`) and padded back to one count (`uniform=True`), trained "
                  "learnable models, seed 0:", "",
                  "| dataset | LUTs | table: original | table: mixed | table: uniform | unrolled: original "
                  "| unrolled: mixed | unrolled: uniform |", "| --- " * 8 + "|"]
        for r in timed:
            cells = [f"{f} B / {c:.0f}" if None not in (f, c) else "n/a"
                     for lay in ("table", "unrolled") for f, c in r["layouts"][lay].values()]
            lines.append(f"| {r['dataset']} | {r['luts']} | " + " | ".join(cells) + " |")
    lines += ["", f"Changed predictions or scores over all {len(rows)} rows: {sum(r['changed'] for r in rows)}.", "",
              "Trained models, bits fewer after optimization, by configuration (all datasets and seeds):", ""]
    for config in CONFIGS:
        got = [fewer(r) for r in rows if r["source"] == "trained" and r["config"] == config]
        if got:
            lines.append(f"* {config[0]} LUTs, {config[1]} thresholds/feature, {config[2]} mapping: {len(got)} models, "
                         f"mean {np.mean(got):.1f}% (min {min(got):.1f}%, max {max(got):.1f}%)")
    half = [r for r in rows if r["source"] == "trained f16"]
    if half:
        got = [100 * (r["report"].before["total_bits"] - r["half"]) / r["report"].before["total_bits"] for r in half]
        lines.append(f"* {CONFIGS[0][0]} LUTs on the float16 grid, thresholds stored in 16 bits: {len(got)} models, "
                     f"mean {np.mean(got):.1f}% (min {min(got):.1f}%, max {max(got):.1f}%)")
    f16 = [r for r in rows if r["source"] == "trained f16"]
    if f16:
        lines += ["", "Float16 threshold grid, (50 LUTs, 32 thresholds, learnable) over the seeds: mean test "
                  "accuracy without / with the grid, and bits after optimization with 32-bit / 16-bit thresholds.",
                  "", "| dataset | seeds | acc float32 thr. | acc float16 grid | bits after (32-bit thr.) | "
                  "bits after f16 (16-bit thr.) |", "| --- | --- | --- | --- | --- | --- |"]
        for name in dict.fromkeys(r["dataset"] for r in f16):
            base = [r for r in rows if r["source"] == "trained" and r["dataset"] == name
                    and r["config"] == CONFIGS[0]]
            grid = [r for r in f16 if r["dataset"] == name]
            lines.append(
                f"| {name} | {len(grid)} | {100 * np.mean([r['acc'] for r in base]):.1f}% | "
                f"{100 * np.mean([r['acc'] for r in grid]):.1f}% | "
                f"{np.mean([r['report'].after['total_bits'] for r in base]):.0f} | "
                f"{np.mean([r['half'] for r in grid if r['half'] is not None]):.0f} |")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
