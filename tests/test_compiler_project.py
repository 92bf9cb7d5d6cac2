"""The generated PlatformIO project: files, PlatformIO's own parser, determinism, the self-test sketch,
`dwn-mcu verify`, every bad input (one line, exit 2, nothing written), and the packaged resources."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dwn_mcu import save
from dwn_mcu.cli import main
from dwn_mcu.compiler import build_project, load_boards, render_model_sources
from dwn_mcu.synthetic import random_model

ROOT = Path(__file__).resolve().parents[1]
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


@pytest.fixture(scope="module")
def model():
    return random_model(3, num_features=5, luts=(120, 60), n=6, num_classes=3)


@pytest.fixture()
def model_file(tmp_path, model):
    path = tmp_path / "model.dwn"
    save(model, path)
    return path


def build(argv):
    return main(["build", *map(str, argv)])


def test_cli_build_writes_project(tmp_path, model_file, capsys):
    out = tmp_path / "out"
    assert build([model_file, "--board", "nano", "-o", out, "--name", "gesture"]) == 0
    printed = capsys.readouterr().out
    assert "layout" in printed and "of 30720 bytes" in printed and "of 2048 bytes" in printed
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["dwn/model.dwn", "dwn/vectors.npy", "dwn_report.json", "lib/gesture/CMakeLists.txt",
                     "lib/gesture/library.json",
                     "lib/gesture/library.properties", "lib/gesture/src/gesture.c", "lib/gesture/src/gesture.h",
                     "platformio.ini", "src/main.cpp", "test/test_custom_runner.py", "test/test_model/test_main.cpp"]
    report = json.loads((out / "dwn_report.json").read_text())
    assert report["board"]["key"] == "nano" and report["layout"] in ("table", "unrolled")
    assert report["flash"]["budget"] == 30720 and report["flash"]["estimate"] <= 30720
    assert json.loads((out / "lib/gesture/library.json").read_text())["name"] == "gesture"
    assert "name=gesture" in (out / "lib/gesture/library.properties").read_text()
    header = (out / "lib/gesture/src/gesture.h").read_text()
    assert "uint8_t gesture_predict(const gesture_input_t *features, gesture_score_t *scores);" in header
    assert "typedef float gesture_input_t;" in header
    assert "#define GESTURE_NUM_FEATURES 5u" in header and "#define GESTURE_NUM_CLASSES 3u" in header
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left behind


@pytest.mark.parametrize("board", sorted(load_boards()))
def test_platformio_ini_read_back_by_platformio(tmp_path, model, board):
    config_mod = pytest.importorskip("platformio.project.config")
    out = tmp_path / board
    build_project(model, board, out, name="m", layout="table")
    config = config_mod.ProjectConfig(str(out / "platformio.ini"))
    b = load_boards()[board]
    simavr = [f"{board}_simavr"] if b.mcu == "atmega328p" else []  # `pio test` in simavr (ATmega328P boards)
    assert config.envs() == [board, *simavr, "native"]
    for env in simavr:
        assert config.get(f"env:{env}", "extends") == [f"env:{board}"]
        assert config.get(f"env:{env}", "test_testing_command")[1:5] == ["-m", b.mcu, "-f", str(b.f_cpu)]
    assert config.get(f"env:{board}", "test_framework") == "custom"  # test/test_custom_runner.py
    assert config.get("platformio", "default_envs") == [board]
    assert config.get(f"env:{board}", "board") == b.pio_board
    assert config.get(f"env:{board}", "platform") == b.pio_platform
    assert config.get(f"env:{board}", "framework") == [b.pio_framework]
    assert config.get("env:native", "platform") == "native"
    assert config.getraw("platformio", "lib_dir") == "lib"  # relative to the project: resolved from its folder
    lib_dir = out / config.getraw("platformio", "lib_dir")
    assert (lib_dir / "m" / "library.json").is_file() and (lib_dir / "m" / "src" / "m.h").is_file()


def test_two_builds_are_byte_identical(tmp_path, model):
    X = np.random.default_rng(0).normal(size=(5, 5)).astype(np.float32)
    for out in ("a", "b"):
        build_project(model, "nano", tmp_path / out, selftest_vectors=X)
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert a == b and len(a) == 12


def test_layout_choice_and_override(tmp_path, model):
    small = build_project(model, "nucleo_f401re", tmp_path / "a")
    assert small["layout"] == "unrolled" and "fits" in small["layout_reason"]
    big = random_model(1, num_features=16, luts=(400, 200), n=6, num_classes=2)
    auto = build_project(big, "nano", tmp_path / "b")
    assert auto["layout"] == "table" and "unrolled would need" in auto["layout_reason"]
    forced = build_project(model, "nucleo_f401re", tmp_path / "c", layout="table")
    assert forced["layout"] == "table" and forced["layout_reason"] == "table layout requested"
    assert "DWN_MODEL_LAYOUT_TABLE 1" in (tmp_path / "c/lib/dwn_model/src/dwn_model.h").read_text()


@needs_gcc
def test_selftest_sketch_passes_natively(tmp_path, model_file, model):
    out = tmp_path / "out"
    assert build([model_file, "--board", "nano", "-o", out, "--selftest", "--selftest-count", "40"]) == 0
    exe = tmp_path / "sketch"
    lib = out / "lib/dwn_model/src"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", lib / "dwn_model.c",
                    "-o", tmp_path / "m.o"], check=True)
    subprocess.run(["g++", "-Wall", "-Wextra", "-Werror", f"-I{lib}", out / "src/main.cpp", tmp_path / "m.o", "-o", exe],
                   check=True)
    x = np.array([0.25, -1.5, np.nan, 3.0, -0.0], np.float32)
    proc = subprocess.run([exe], input="0.25,-1.5,nan,3,-0\n1,2\nid\n", capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "selftest PASS 40 vectors"
    s = model.scores(x)[0]
    assert re.fullmatch(f"class {int(np.argmax(s))} scores " + " ".join(map(str, s)) + r" us \d+", lines[1])
    assert lines[2].startswith("error: expected 5 numbers")
    identity = hashlib.sha256((out / "dwn/model.dwn").read_bytes()).hexdigest()[:16]
    assert lines[3] == f"id dwn_model {identity}"  # the model's identity, on request


@needs_gcc
def test_selftest_from_user_data(tmp_path, model_file, model):
    data = tmp_path / "rows.npy"
    np.save(data, np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32))
    out = tmp_path / "out"
    assert build([model_file, "--board", "uno", "-o", out, "--selftest-data", data, "--selftest-count", "7"]) == 0
    assert json.loads((out / "dwn_report.json").read_text())["selftest_vectors"] == 7
    assert "#define SELFTEST_COUNT 7u" in (out / "src/main.cpp").read_text()


@needs_gcc
def test_verify_cli_passes_and_reports_a_mismatch(tmp_path, model_file, model, capsys):
    out = tmp_path / "out"
    assert build([model_file, "--board", "nano", "-o", out, "--layout", "table"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PASS" in printed and "sanitize" in printed and "strict" in printed
    # corrupt one table byte of the C the host compiles (the word path's table when the layer has one, the
    # AVR branch's bytes otherwise): verify must find it and show both answers
    c_file = out / "lib/dwn_model/src/dwn_model.c"
    text = c_file.read_text()
    start = text.rfind("dwn_model_l2_tabw[")  # the last: the Cortex-M0+ assembly's bit-reversed copy comes first
    start = start if start >= 0 else text.index("dwn_model_l2_tab[")
    brace = text.index("{", start) + 1
    first = text.index("0x", brace)
    value = int(text[first:first + 4], 16)
    c_file.write_text(text[:first] + f"0x{value ^ 0xFF:02X}" + text[first + 4:])
    assert main(["verify", str(out), "--target", "host"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "reference: class" in printed and "C:         class" in printed


def test_verify_rejects_a_folder_that_is_not_a_project(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "dwn_report.json" in capsys.readouterr().err


BAD = [
    (["--board", "nanno"], "unknown board 'nanno'; did you mean nano"),
    (["--board", "nano", "--name", "2fast"], "not a C identifier"),
    (["--board", "nano", "--name", "int"], "not a C identifier"),
]


@pytest.mark.parametrize("extra, message", BAD)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, model_file, capsys, extra, message):
    out = tmp_path / "out"
    assert build([model_file, "-o", out, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model.dwn"]


def test_over_budget_lists_budget_and_parts(tmp_path, capsys):
    big = random_model(0, num_features=20, luts=(3000, 1000), n=6, num_classes=2)
    path = tmp_path / "big.dwn"
    save(big, path)
    assert build([path, "--board", "attiny85", "-o", tmp_path / "out"]) == 2
    err = capsys.readouterr().err
    assert "does not fit ATtiny85" in err and "> 8192 bytes" in err and "lut tables" in err and "mappings" in err
    assert not (tmp_path / "out").exists()


def test_ram_over_budget(tmp_path, capsys):
    wide = random_model(0, num_features=600, bits_per_feature=1, luts=(20,), n=2, num_classes=2)
    path = tmp_path / "wide.dwn"
    save(wide, path)
    assert build([path, "--board", "nano", "-o", tmp_path / "out"]) == 2
    err = capsys.readouterr().err
    assert "RAM" in err and "> 2048 bytes" in err and "sketch input buffer 2400" in err


def test_corrupted_model_file(tmp_path, model_file, capsys):
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.dwn"
    bad.write_bytes(bytes(data[: len(data) - 10]))
    assert build([bad, "--board", "nano", "-o", tmp_path / "out"]) == 2
    err = capsys.readouterr().err
    assert "bad.dwn" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_force(tmp_path, model_file, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert build([model_file, "--board", "nano", "-o", out]) == 2
    assert "exists (use --force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # --force replaces only a folder dwn-mcu wrote (it has a dwn_report.json) or an empty one
    assert build([model_file, "--board", "nano", "-o", out, "--force"]) == 2
    err = capsys.readouterr().err
    assert "dwn_report.json" in err and str(out) in err and err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert build([model_file, "--board", "nano", "-o", out, "--force"]) == 0  # empty
    (out / "keep.txt").write_text("mine")
    assert build([model_file, "--board", "nano", "-o", out, "--force"]) == 0  # a project
    assert not (out / "keep.txt").exists() and (out / "platformio.ini").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.dwn", "out"]


def test_avr_tables_stay_out_of_ram(tmp_path, model):
    avr = shutil.which("avr-gcc")
    if avr is None:
        pytest.skip("avr-gcc not installed")
    from elftools.elf.elffile import ELFFile

    for layout in ("table", "unrolled"):
        for name, text in render_model_sources(model, "nano", "m", layout).items():
            (tmp_path / name).write_text(text)
        obj = tmp_path / f"{layout}.o"
        subprocess.run([avr, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os", "-mmcu=atmega328p",
                        "-c", tmp_path / "m.c", "-o", obj], check=True)
        with open(obj, "rb") as fh:
            sizes = {s.name: s["sh_size"] for s in ELFFile(fh).iter_sections()}
        assert sizes.get(".data", 0) == 0 and not any(k.startswith(".rodata") for k in sizes if sizes[k])
        assert sizes[".progmem.data"] > 0


def test_wheel_ships_boards_templates_and_runner(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for part in ("pyproject.toml", "README.md", "dwn_mcu", "boards", "firmware_templates", "host_tests"):
        p = ROOT / part
        (shutil.copytree if p.is_dir() else shutil.copy)(p, src / part, **({"ignore": shutil.ignore_patterns(
            "__pycache__")} if p.is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    for key in load_boards():
        assert f"dwn_mcu/boards/{key}.toml" in names
    for t in ("model.c.j2", "model.h.j2", "layout_table.c.j2", "layout_unrolled.c.j2", "main.cpp.j2",
              "platformio.ini.j2", "library.json.j2", "library.properties.j2", "CMakeLists.txt.j2",
              "pio_test/test_main.cpp.j2", "pio_test/test_custom_runner.py.j2"):
        assert f"dwn_mcu/firmware_templates/{t}" in names
    assert "dwn_mcu/host_tests/dwn_runner.c" in names


@pytest.mark.parametrize("cc, flags, board", [
    ("avr-gcc", ["-mmcu=atmega328p"], "nano"),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m3", "-mthumb"], "bluepill_f103c8"),
])
def test_flash_estimate_within_ten_percent_of_compiled_object(tmp_path, cc, flags, board):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    from elftools.elf.elffile import ELFFile
    from test_compiler_pack import mixed_model

    from dwn_mcu.compiler import get_board, make_plan

    model = mixed_model(8, num_features=12, max_bits=20, luts=(70, 30), n_range=(2, 7), num_classes=3)
    for layout in ("table", "unrolled"):
        plan = make_plan(model, get_board(board), "m", layout)
        for name, text in render_model_sources(model, board, "m", layout).items():
            (tmp_path / name).write_text(text)
        obj = tmp_path / "m.o"
        subprocess.run([cc, "-std=c99", "-Os", *flags, "-c", tmp_path / "m.c", "-o", obj], check=True)
        with open(obj, "rb") as fh:
            flash = sum(s["sh_size"] for s in ELFFile(fh).iter_sections()
                        if s.name.startswith((".text", ".data", ".rodata", ".progmem")))
        assert abs(plan.model_flash - flash) <= 0.1 * flash, (layout, plan.model_flash, flash)
