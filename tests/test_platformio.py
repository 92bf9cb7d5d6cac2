"""PlatformIO itself builds the generated project, offline (`pio run -e nano`, `pio run -e native`):
its library finder, `lib_dir`, build flags and size check. Then PlatformIO's firmware.elf runs in simavr
and answers the project's vectors over its UART as the reference does, the native `program` answers
them on stdin, and PlatformIO's own RAM / Flash report holds against the planner's figures. `pio test`
runs the project's own model test (test/, PlatformIO's custom runner) natively and in simavr.

One project per case (popcount and reduction models, float and integer inputs, both layouts), built
once per module and shared by the asserts."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from pio_helpers import core_dir, pio, pio_run
from dwn_mcu.compiler import build_project
from dwn_mcu.compiler.project import load_project
from dwn_mcu.integer_inputs import to_integer_model
from dwn_mcu.synthetic import adversarial_inputs, random_model, random_reduction_model
from dwn_mcu.targets.project import decimal_safe_rows, sketch_agreement, verify_sketch
from dwn_mcu.targets.sketch_protocol import row_line
from tests.target_tools import require_target

#: The planner's flash estimate may differ from PlatformIO's by this share; its RAM is never below.
FLASH_TOLERANCE = 0.05


def _as_int(model, input_type):
    scale = np.full(model.num_features, 12.0 / 255)
    return to_integer_model(model, input_type, scale, np.full(model.num_features, -6.0))


def _model(case: str):
    if case.startswith("popcount"):
        model = random_model(seed=5, num_features=4, bits_per_feature=6, luts=(40, 20), n=6, num_classes=2)
    else:
        model = random_reduction_model(seed=2, num_features=4, bits_per_feature=5, luts=(30,), head=(3, 2), n=3,
                                       num_classes=3, group_size=6)
    kind = case.split("-")[1]
    return model if kind == "float" else _as_int(model, kind)


def _build(case: str, out):
    model = _model(case)
    X = adversarial_inputs(model, seed=3, random_rows=24)
    build_project(model, "nano", out, name="pm", layout=case.split("-")[2], selftest_vectors=X[::9],
                  verify_vectors=X)
    return load_project(out)


CASES = ["popcount-float-table", "popcount-int16-unrolled", "reduction-float-unrolled", "reduction-uint8-table"]


@pytest.fixture(scope="module", params=CASES)
def built(request, tmp_path_factory):
    """(project, nano build, native build, platformio.ini before the builds)."""
    require_target("avr")
    core = core_dir()
    case = request.param
    project = _build(case, tmp_path_factory.mktemp(case) / "project")
    ini = (project.root / "platformio.ini").read_bytes()
    return project, pio_run(core, project.root, "nano"), pio_run(core, project.root, "native"), ini, case


def test_pio_builds_both_environments_and_leaves_the_project_alone(built):
    project, nano, native, ini, _ = built
    assert nano.artifact(project.root, "firmware.elf").is_file()
    assert nano.artifact(project.root, "firmware.hex").is_file()
    assert native.artifact(project.root, "program").is_file()
    assert f"|-- {project.name} @" in nano.output  # the library finder found lib/<name> through lib_dir
    assert (project.root / "platformio.ini").read_bytes() == ini


def test_pio_firmware_answers_over_uart_in_simavr(built):
    project, nano, _, _, _ = built
    X = decimal_safe_rows(project.model, project.vectors)  # every vector the sketch reads back exactly
    result = verify_sketch(project, count=X.shape[0], elf=nano.artifact(project.root, "firmware.elf"))
    assert result.vectors == X.shape[0] >= 20, "too few decimal-safe vectors to prove anything"
    assert result.first_mismatch is None and result.agree == result.vectors
    assert result.selftest is not None and "PASS" in result.selftest


def test_native_program_answers_every_vector_on_stdin(built):
    project, _, native, _, _ = built
    X = project.vectors  # glibc's strtof is correctly rounded: NaN, infinities and threshold edges too
    lines = "".join(row_line(project.model, row) for row in X)
    proc = subprocess.run([str(native.artifact(project.root, "program"))], input=lines, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = sketch_agreement(project.model, X, proc.stdout)
    assert result.vectors == X.shape[0] and result.first_mismatch is None and result.agree == X.shape[0]
    assert result.selftest is not None and "PASS" in result.selftest


def test_planner_holds_against_platformio_size_report(built):
    project, nano, _, _, case = built
    flash, ram = project.report["flash"]["estimate"], project.report["ram"]["estimate"]
    figures = f"planner flash {flash} B, RAM {ram} B; PlatformIO flash {nano.flash} B, RAM {nano.ram} B"
    print(figures)
    assert nano.flash is not None and nano.ram is not None, nano.output[-2000:]
    assert abs(flash - nano.flash) <= FLASH_TOLERANCE * nano.flash, figures
    assert ram >= nano.ram, figures



def _pio_test(project, env):
    proc = pio(core_dir(), project, "test", "-e", env, timeout=300)
    return proc.returncode, proc.stdout


@pytest.mark.parametrize("case", ["popcount-float-table", "reduction-uint8-table"])
@pytest.mark.parametrize("env", ["native", "nano_simavr"])
def test_pio_test_runs_the_projects_own_model_test(tmp_path, case, env):
    require_target("avr")
    project = _build(case, tmp_path / "project")
    rc, out = _pio_test(project.root, env)
    count = project.report["selftest_vectors"]
    assert rc == 0 and f"{count} test cases: {count} succeeded" in out, out[-3000:]


def test_pio_test_fails_when_the_model_disagrees(tmp_path):
    require_target("avr")
    project = _build("popcount-float-table", tmp_path / "project")
    test_main = project.root / "test" / "test_model" / "test_main.cpp"
    text = test_main.read_text()
    start = text.index("test_class[TEST_COUNT] TEST_FLASH = { ") + len("test_class[TEST_COUNT] TEST_FLASH = { ")
    flipped = "1" if text[start] == "0" else "0"  # the first vector's expected class, changed
    test_main.write_text(text[:start] + flipped + text[start + 1:])
    rc, out = _pio_test(project.root, "native")
    count = project.report["selftest_vectors"]
    assert rc != 0 and f"{count} test cases: 1 failed, {count - 1} succeeded" in out, out[-3000:]
