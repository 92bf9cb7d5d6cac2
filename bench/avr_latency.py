"""Latency and size of generated DWN firmware on emulated chips.

ATmega328P at 16 MHz in simavr (exact cycles between markers around each inference), Cortex-M0+ and
Cortex-M4F in QEMU (instructions, never cycles), both layouts, the phoneme model (a trained `.dwn` when
given, else a random model with the phoneme shape: 5 features x 24 thresholds, 160 then 80 LUTs of
n = 6, 2 classes) on the full phoneme test split, which must agree 100% with the NumPy reference.

Cycles per LUT are reported two ways: the whole inference divided by the LUT count (encoder included),
and the marginal cost: the difference between this model and one with the same encoder and half the LUTs
in each layer, divided by the difference in LUTs (the layer loop alone).

    nice python bench/avr_latency.py [--model phoneme.dwn] [-o bench/last-avr_latency.md]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dwn_mcu.compiler import render_model_sources
from dwn_mcu.data import load_dataset
from dwn_mcu.frozen import FrozenDWN, LutLayer
from dwn_mcu.model_file import load
from dwn_mcu.synthetic import random_model
from dwn_mcu.targets.verify import verify_on_target

NAME = "dwn_model"
LAYOUTS = ("table", "unrolled")
BOARD_OF = {"avr": "nano", "cortex-m0plus": "pico", "cortex-m4f": "nucleo_f401re"}
TARGETS_N = 6
GOAL = {"unrolled": 40, "table": 120}


def phoneme_shape(luts=(160, 80), seed=0):
    """5 features x 24 thresholds, 160 then 80 LUTs: the largest of this family whose unrolled layout still
    fits the Nano's 30720 bytes with the sketch (160 -> 200 -> 100 needs 33 KB unrolled)."""
    return random_model(seed=seed, num_features=5, bits_per_feature=24, luts=luts, n=TARGETS_N, num_classes=2)


def halve(model):
    """The same encoder with the first half of each layer's LUTs (the next layer's inputs folded into the
    kept bits): the code shape per LUT is unchanged, so the difference in cycles is the cost of LUTs."""
    layers, prev = [], model.num_input_bits
    for i, layer in enumerate(model.layers):
        n = int(layer.n_inputs[0])
        keep = layer.num_luts // 2
        if i == len(model.layers) - 1:
            keep -= keep % model.num_classes
        mapping = layer.mapping.reshape(layer.num_luts, n)[:keep] % prev
        tables = layer.tables.reshape(layer.num_luts, 1 << n)[:keep]
        layers.append(LutLayer.uniform(mapping, tables))
        prev = keep
    return FrozenDWN(thresholds=model.thresholds, bits_per_feature=model.bits_per_feature, layers=tuple(layers),
                     num_classes=model.num_classes).validate()


def tool_version(cmd):
    try:
        return subprocess.run([cmd, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "absent"


def measure(model, target, X, layout, measure_share=True):
    src = render_model_sources(model, BOARD_OF[target], NAME, layout)
    t0 = time.time()
    r = verify_on_target(model, target, X, src, NAME, measure_model_share=measure_share)
    return r, time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a trained phoneme .dwn (default: random model with the phoneme shape)")
    ap.add_argument("-o", "--output", default="bench/last-avr_latency.md")
    ap.add_argument("--vectors", type=int, default=0, help="limit the test split (0: all)")
    args = ap.parse_args(argv)

    data = load_dataset("phoneme")
    X = data.test_split()[0]
    if args.vectors:
        X = X[: args.vectors]
    if args.model:
        model, origin = load(args.model), f"trained model `{args.model}`"
        half = halve(model)
    else:
        model, origin = phoneme_shape(), "random model with the phoneme shape (no trained phoneme model yet)"
        half = phoneme_shape(luts=(80, 40))
    luts = sum(layer.num_luts for layer in model.layers)

    lines = ["## Targets: latency and size on emulated chips (bench/avr_latency.py)", ""]
    lines += [f"Command: `nice python bench/avr_latency.py{' --model ' + args.model if args.model else ''}`. "
              f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
              f"{tool_version('avr-gcc')}; {tool_version('arm-none-eabi-gcc')}; "
              f"{tool_version('qemu-system-arm')}; simavr through host_tests/simavr/avr_run.c.", ""]
    lines += [f"Model: {origin}: {model.num_features} features, {model.num_input_bits} input bits, layers "
              f"{' -> '.join(str(layer.num_luts) for layer in model.layers)} LUTs (n = {TARGETS_N}), "
              f"{model.num_classes} classes. Vectors: the phoneme test split, {X.shape[0]} rows.", ""]
    lines += ["| target | layout | vectors | agreement | latency per inference (min / median / max) | per LUT (whole / marginal) | model flash B | model RAM B | firmware flash B | stack B |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for target in ("avr", "cortex-m0plus", "cortex-m4f"):
        for layout in LAYOUTS:
            try:
                r, secs = measure(model, target, X, layout)
            except Exception as exc:  # a layout that does not fit is a result too
                lines.append(f"| {target} | {layout} | - | - | failed: {str(exc)[:120]} | | | | | |")
                continue
            lat = r.latency_summary()
            whole = lat["median"] / luts
            # the same 64 vectors through the half model: the difference is the cost of the extra LUTs
            h, _ = measure(half, target, X[:64], layout, measure_share=False)
            extra = float(np.median(np.asarray(r.latency[:64]) - np.asarray(h.latency)))
            marginal = extra / (luts - sum(lay.num_luts for lay in half.layers))
            if target == "avr":
                verdicts.append((layout, marginal))
            unit = r.latency_unit
            stack = r.stack_measured if r.stack_measured is not None else r.stack_static
            lines.append(
                f"| {target} | {layout} | {r.vectors} | {100 * r.agreement:.2f}% | {lat['min']} / {lat['median']:g} / "
                f"{lat['max']} {unit} | {whole:.1f} / {marginal:.1f} | {r.model_size.flash} | {r.model_size.ram} | "
                f"{r.size.flash} | {stack} |")
            print(lines[-1], f"({secs:.1f} s)", flush=True)
            if not r.ok:
                print(f"MISMATCH on {target} {layout}: {r.first_mismatch}", file=sys.stderr)
    lines.append("")
    for layout, v in verdicts:
        lines.append(f"- AVR {layout}: {v:.1f} cycles per LUT (marginal), target <= {GOAL[layout]}: "
                     f"{'met' if v <= GOAL[layout] else 'MISSED'}.")
    text = "\n".join(lines) + "\n"
    out = Path(args.output)
    # Hand-written analysis below this marker survives a rerun.
    marker = "<!-- analysis -->"
    if out.is_file() and marker in out.read_text():
        text += "\n" + marker + out.read_text().split(marker, 1)[1]
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
