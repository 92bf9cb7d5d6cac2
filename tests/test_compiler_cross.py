"""The generated library compiles warning-free with every cross compiler on this machine, for both
layouts and every mapping format (objects only: running them is the target-verification issue)."""

import shutil
import subprocess

import numpy as np
import pytest
from test_compiler_pack import mixed_model

from dwn_mcu.compiler import render_model_sources
from dwn_mcu.synthetic import random_model

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os"]
COMPILERS = {
    "avr": ("avr-gcc", ["-mmcu=atmega328p"], "nano"),
    "cortex-m0plus": ("arm-none-eabi-gcc", ["-mcpu=cortex-m0plus", "-mthumb"], "pico"),
    "cortex-m4f": ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
                   "nucleo_f401re"),
    "rv32imc": ("riscv64-unknown-elf-gcc", ["-march=rv32imc", "-mabi=ilp32", "-ffreestanding"], "esp32c3"),
}


def models():
    wide = mixed_model(4, num_features=3, max_bits=150, luts=(20, 9), n_range=(0, 10), num_classes=3)
    huge_input = random_model(5, num_features=2, bits_per_feature=2500, luts=(16, 4), n=7, num_classes=2)
    constant = mixed_model(7, thresholds=[np.zeros(0, np.float32)] * 3, luts=(6, 4), n_range=(0, 0))
    return {"mixed n 0..10, 12-bit indices": wide, "16-bit indices": huge_input, "no input bits": constant,
            "uniform": random_model(6, num_features=4, luts=(30, 10), n=6, num_classes=5)}


@pytest.mark.parametrize("arch", sorted(COMPILERS))
def test_library_compiles_without_warnings(tmp_path, arch):
    cc, flags, board = COMPILERS[arch]
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    for label, model in models().items():
        for layout in ("table", "unrolled"):
            for name, text in render_model_sources(model, board, "x", layout, check_budget=False).items():
                (tmp_path / name).write_text(text)
            proc = subprocess.run([cc, *STRICT, *flags, "-c", tmp_path / "x.c", "-o", tmp_path / "x.o"],
                                  capture_output=True, text=True)
            assert proc.returncode == 0 and not proc.stderr, (label, layout, proc.stderr[:2000])


def test_header_compiles_as_cplusplus(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    model = random_model(1, num_features=3, luts=(16,), n=4, num_classes=2)
    (tmp_path / "x.h").write_text(render_model_sources(model, "nano", "x", "table")["x.h"])
    (tmp_path / "use.cpp").write_text('#include "x.h"\nint f(const float *v) { x_score_t s[X_NUM_CLASSES]; '
                                      "return x_predict(v, s); }\n")
    subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", tmp_path / "use.cpp",
                    "-o", tmp_path / "use.o"], check=True)  # raises when g++ rejects the header
