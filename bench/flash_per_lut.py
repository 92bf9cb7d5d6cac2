"""Flash bytes per LUT (n = 6) of both layouts against the information bound, on the ATmega328P.

Random models (random tables and mappings: a trained model has the same storage shape) with one LUT layer
of L LUTs reading 128 thermometer bits (16 features x 8), for several L. Each model library is compiled
with avr-gcc -Os for the ATmega328P; its flash is .text + .data + .progmem.data of the object (the
model's own share: nothing else is linked). A least-squares line over L separates the per-LUT cost
from the fixed cost. The information bound per LUT is 2^n table bits plus n * log2(inputs) mapping bits.

    python bench/flash_per_lut.py [--arch avr|cortex-m3|...]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from elftools.elf.elffile import ELFFile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwn_mcu.compiler import get_board, make_plan, render_model_sources  # noqa: E402
from dwn_mcu.synthetic import random_model  # noqa: E402

COMPILERS = {  # arch: (compiler, flags, board used for rendering)
    "avr": ("avr-gcc", ["-Os", "-mmcu=atmega328p", "-DF_CPU=16000000L"], "nano"),
    "cortex-m0plus": ("arm-none-eabi-gcc", ["-Os", "-mcpu=cortex-m0plus", "-mthumb"], "pico"),
    "cortex-m3": ("arm-none-eabi-gcc", ["-Os", "-mcpu=cortex-m3", "-mthumb"], "bluepill_f103c8"),
    "cortex-m4f": ("arm-none-eabi-gcc", ["-Os", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                         "-mfpu=fpv4-sp-d16"], "nucleo_f401re"),
    "riscv32": ("riscv64-unknown-elf-gcc", ["-Os", "-march=rv32imc", "-mabi=ilp32", "-ffreestanding"], "esp32c3"),
}
FLASH_SECTIONS = (".text", ".data", ".rodata", ".progmem")


def object_flash(sources: dict, name: str, arch: str) -> int:
    """Flash bytes of the compiled model object: code, constants and initialised data."""
    cc, flags, _ = COMPILERS[arch]
    with tempfile.TemporaryDirectory() as tmp:
        for fname, text in sources.items():
            (Path(tmp) / fname).write_text(text)
        obj = Path(tmp) / "model.o"
        subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", *flags,
                        "-ffunction-sections", "-fdata-sections", "-c", str(Path(tmp) / f"{name}.c"), "-o", str(obj)],
                       check=True)
        with open(obj, "rb") as fh:
            elf = ELFFile(fh)
            return sum(s["sh_size"] for s in elf.iter_sections()
                       if s.name.startswith(FLASH_SECTIONS) and s["sh_type"] != "SHT_NOBITS")


def measure(arch: str, sizes=(32, 64, 128, 256, 384), n: int = 6, features: int = 16, bits: int = 8):
    board = get_board(COMPILERS[arch][2])
    rows = []
    for L in sizes:
        model = random_model(seed=L, num_features=features, bits_per_feature=bits, luts=(L,), n=n, num_classes=2)
        for layout in ("table", "unrolled"):
            flash = object_flash(render_model_sources(model, board, "bench", layout, check_budget=False), "bench", arch)
            plan = make_plan(model, board, "bench", layout, check_budget=False)
            rows.append({"luts": L, "layout": layout, "flash": flash, "estimate": plan.model_flash})
    return rows


def other_shapes(arch: str):
    """The planner's estimate against the compiled size on shapes the calibration did not use."""
    board = get_board(COMPILERS[arch][2])
    rng = np.random.default_rng(0)
    shapes = {
        "160 bits -> 200 -> 100, n=6": random_model(1, num_features=5, bits_per_feature=32, luts=(200, 100), n=6),
        "64 bits -> 90 -> 45 -> 30, n=6/5/2, 10 classes": random_model(
            2, num_features=8, bits_per_feature=8, luts=(90, 45, 30), n=[6, 5, 2], num_classes=10),
    }
    # mixed input counts, as the optimizer leaves them
    base = random_model(3, num_features=10, bits_per_feature=12, luts=(150, 60), n=6, num_classes=3)
    layers = []
    for layer in base.layers:
        n = rng.integers(2, 7, size=layer.num_luts)
        prev = base.num_input_bits if not layers else layers[-1].num_luts
        layers.append(type(layer)(n_inputs=n, mapping=rng.integers(0, prev, size=int(n.sum())),
                                  tables=rng.integers(0, 2, size=int((1 << n).sum())).astype(np.uint8)))
    shapes["120 bits -> 150 -> 60, n=2..6 mixed"] = type(base)(
        thresholds=base.thresholds, bits_per_feature=base.bits_per_feature, layers=tuple(layers), num_classes=3).validate()
    rows = []
    for label, model in shapes.items():
        for layout in ("table", "unrolled"):
            flash = object_flash(render_model_sources(model, board, "bench", layout, check_budget=False), "bench", arch)
            est = make_plan(model, board, "bench", layout, check_budget=False).model_flash
            rows.append((label, layout, flash, est))
    return rows


def fit(rows, layout):
    pts = [(r["luts"], r["flash"]) for r in rows if r["layout"] == layout]
    x, y = np.array(pts, dtype=float).T
    slope, intercept = np.polyfit(x, y, 1)
    return slope, intercept


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="avr", choices=sorted(COMPILERS))
    ap.add_argument("--features", type=int, default=16, help="features (8 thresholds each) feeding the layer")
    ap.add_argument("--no-other-shapes", action="store_true", help="skip the estimate check on other shapes")
    args = ap.parse_args(argv)
    n, inputs = 6, args.features * 8
    bound_bits = 2**n + n * np.log2(inputs)
    rows = measure(args.arch, features=args.features)
    print(f"arch {args.arch}; n = {n}; one layer reading {inputs} bits; bound {bound_bits:.0f} bits = "
          f"{bound_bits / 8:.2f} bytes per LUT\n")
    print("| LUTs | layout | flash bytes | planner estimate | estimate error |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for r in rows:
        err = 100 * (r["estimate"] - r["flash"]) / r["flash"]
        print(f"| {r['luts']} | {r['layout']} | {r['flash']} | {r['estimate']} | {err:+.1f}% |")
    print("\n| layout | bytes per LUT (fit) | x bound | fixed bytes (fit) |")
    print("| --- | ---: | ---: | ---: |")
    for layout in ("table", "unrolled"):
        slope, intercept = fit(rows, layout)
        print(f"| {layout} | {slope:.2f} | {slope * 8 / bound_bits:.2f} | {intercept:.0f} |")
    if args.no_other_shapes:
        return
    print("\nPlanner estimate on shapes outside the calibration:\n")
    print("| model | layout | flash bytes | planner estimate | estimate error |")
    print("| --- | --- | ---: | ---: | ---: |")
    for label, layout, flash, est in other_shapes(args.arch):
        print(f"| {label} | {layout} | {flash} | {est} | {100 * (est - flash) / flash:+.1f}% |")


if __name__ == "__main__":
    main()
