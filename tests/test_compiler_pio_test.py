"""The project's own model test (test/test_model/test_main.cpp, for `pio test`) compiles without a
warning as C++ on the host, passes every vector, and reports a wrong expectation as FAIL. (PlatformIO runs
it in tests/test_platformio.py.)"""

import shutil
import subprocess

import pytest

from dwn_mcu.compiler import build_project
from dwn_mcu.synthetic import random_model
from test_compiler_integer import integer_model

needs_gcc = pytest.mark.skipif(shutil.which("g++") is None, reason="host g++ not installed")


def _run_test(tmp_path, model, **kw):
    out = tmp_path / "out"
    report = build_project(model, "nano", out, name="pt", **kw)
    lib = out / "lib/pt/src"
    exe = tmp_path / "test"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", lib / "pt.c", "-o",
                    tmp_path / "m.o"], check=True)
    subprocess.run(["g++", "-Wall", "-Wextra", "-Werror", f"-I{lib}", out / "test/test_model/test_main.cpp",
                    tmp_path / "m.o", "-o", exe], check=True)
    return report, subprocess.run([exe], capture_output=True, text=True, check=True).stdout.splitlines()


@needs_gcc
@pytest.mark.parametrize("kind", ["float", "int16"])
def test_model_test_passes_every_vector(tmp_path, kind):
    model = random_model(seed=3, num_features=5, luts=(30, 12), n=5, num_classes=3) if kind == "float" \
        else integer_model("int16")[1]
    _, lines = _run_test(tmp_path, model)  # no self-test: 16 of the adversarial inputs
    assert lines == [f"test vector {i} PASS" for i in range(16)] + ["tests done"]


@needs_gcc
def test_model_test_reports_a_wrong_expectation(tmp_path):
    model = random_model(seed=3, num_features=5, luts=(30, 12), n=5, num_classes=3)
    out = tmp_path / "out"
    build_project(model, "nano", out, name="pt")
    path = out / "test/test_model/test_main.cpp"
    text = path.read_text()
    start = text.index("test_class[TEST_COUNT] TEST_FLASH = { ") + len("test_class[TEST_COUNT] TEST_FLASH = { ")
    path.write_text(text[:start] + ("1" if text[start] == "0" else "0") + text[start + 1:])
    lib = out / "lib/pt/src"
    exe = tmp_path / "test"
    subprocess.run(["g++", "-Wall", "-Werror", f"-I{lib}", "-x", "c++", path, "-x", "c", lib / "pt.c", "-o", exe],
                   check=True)
    lines = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0].startswith("test vector 0 FAIL class ") and lines[1] == "test vector 1 PASS"
