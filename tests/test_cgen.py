"""cgen: C identifiers, comments, string literals, JSON and INI values, unit by unit and end to end:
models and boards with hostile names are built, and the generated C compiles with gcc -Werror with none
of the hostile text live."""

import dataclasses
import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dwn_mcu.baselines import BaselineError
from dwn_mcu.cli import main
from dwn_mcu.compiler import build_project, get_board, make_plan
from dwn_mcu.compiler.cgen import (MAX_IDENTIFIER, CGenError, c_comment, c_identifier, c_string, environment,
                                   ini_value, json_value)
from dwn_mcu.compiler.plan import PlanError
from dwn_mcu.compiler.program import pack_program
from dwn_mcu.compiler.render import render_project
from dwn_mcu.errors import DWNError
from dwn_mcu.frozen import FrozenDWN
from dwn_mcu.synthetic import random_model
from dwn_mcu.targets.testbench import render_testbench
from dwn_mcu.targets.toolchains import TARGETS, TargetError

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wtrigraphs", "-Wcomment"]

HOSTILE = ["*/ extern int x; /*", "*/ #error x", '"\\', "??/", "a\nb", "caf\u00e9 \u2603", "#include <stdio.h>",
           "x" * 200, "*/ int x; //", "end\\", "*", "/", "??=??(??)", "\r\n\t\x00\x7f", "*/\n#error y\n/*"]


# ------------------------------------------------------------------------------------------ units

@pytest.mark.parametrize("name", ["a", "_x", "dwn_model", "Gesture2", "x" * MAX_IDENTIFIER, "Int", "_Bool_"])
def test_c_identifier_accepts_identifiers(name):
    assert c_identifier(name) == name


@pytest.mark.parametrize("name", ["", "2fast", "a-b", "a b", "int", "while", "_Bool", "caf\u00e9", "x" * 64,
                                  "a\nb", "*/", None, 3])
def test_c_identifier_refuses_everything_else_in_one_line(name):
    with pytest.raises(CGenError) as info:
        c_identifier(name)
    assert "not a C identifier" in str(info.value) and "\n" not in str(info.value)
    assert len(str(info.value)) < 160  # a 200-character name is cut in the message


def test_c_identifier_raises_the_callers_error():
    with pytest.raises(PlanError, match="model name"):
        c_identifier("int", "model name", PlanError)
    with pytest.raises(PlanError, match="not a C identifier"):
        make_plan(random_model(0), get_board("nano"), name="x" * 64)


@pytest.mark.parametrize("text", ["walk", "run-up: 2.5 m/s, 'x' & y", "idle #3 [a] {b} <c> ~!@$%^", "a * b / c",
                                  "what?", "0 = x"])
def test_c_comment_keeps_ordinary_text(text):
    assert c_comment(text) == text


@pytest.mark.parametrize("text, want", [
    ("*/ extern int x; /*", " * / extern int x; / * "),
    ("a*/b", "a* /b"), ("a/*b", "a/ *b"), ("*/*/", " * / * / "),
    ("??/", "?\\?/ "), ("???", "?\\?\\?"), ("\\", "\\\\"),
    ("a\nb", "a\\x0Ab"), ("\u00e9", "\\xC3\\xA9"), ("\x00\x7f", "\\x00\\x7F"),
    ("/x", " /x"), ("x*", "x* "), ("x/", "x/ "),
])
def test_c_comment_neutralises_markers_trigraphs_and_bytes(text, want):
    assert c_comment(text) == want


@pytest.mark.parametrize("text, want", [
    ("abc", '"abc"'), ('say "hi"', '"say \\"hi\\""'), ("a\\b", '"a\\\\b"'), ("??/", '"?\\?/"'),
    ("???", '"?\\?\\?"'), ("a?b?", '"a?b?"'), ("\n1", '"\\0121"'), ("\u00e9", '"\\303\\251"'),
    ("\x00", '"\\000"'), ("*/", '"*/"'),
])
def test_c_string_escapes(text, want):
    assert c_string(text) == want


def test_json_and_ini_values():
    assert json_value('a"b\n\u00e9') == '"a\\"b\\n\\u00e9"' and json.loads(json_value("x\ny")) == "x\ny"
    assert ini_value("Arduino Nano (ATmega328P)") == "Arduino Nano (ATmega328P)"
    for bad in ("a\nb", "a\rb", "x\x00", "\x7f"):
        with pytest.raises(CGenError, match="control character"):
            ini_value(bad)


def test_one_environment_for_every_renderer():
    assert environment() is environment("")
    for env in (environment(), environment("testbench"), environment("xgboost", trim_blocks=True)):
        assert {"c_comment", "c_string", "json", "ini"} <= set(env.filters)
    sources = list((Path(__file__).resolve().parents[1] / "dwn_mcu").rglob("*.py"))
    assert sum("jinja2.Environment(" in p.read_text() for p in sources) == 1  # cgen's factory only


def _fuzz_texts(count=300, seed=0):
    rng = random.Random(seed)
    alphabet = list("*/?\\\"'\n\r\t #<>=()-!a0") + ["\u00e9", "\u2603", "\x00", "\x7f", "??/", "*/", "/*"]
    return [HOSTILE[i % len(HOSTILE)] if i < len(HOSTILE) else
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for i in range(count)]


@needs_gcc
def test_fuzzed_comments_and_strings_compile_and_strings_round_trip(tmp_path):
    """Each text as a comment between a template's `*` and `/` on both sides, and as a string literal;
    gcc -Werror (trigraph and comment warnings on) compiles it and the program prints each string's
    bytes, which must be the text's UTF-8."""
    texts = _fuzz_texts()
    lines = ["#include <stdio.h>", "static const char *const s[] = {"]
    for t in texts:
        lines += [f"/* a*{c_comment(t)}*b */ /* a/{c_comment(t)}/b */", f"    {c_string(t)},"]
    lines += ["};", "int main(void) {", "    unsigned i; const char *p;",
              f"    for (i = 0; i < {len(texts)}u; i++) {{",
              "        for (p = s[i]; *p; p++) printf(\"%02x\", (unsigned)(unsigned char)*p);",
              "        printf(\"\\n\");", "    }", "    return 0;", "}"]
    (tmp_path / "fuzz.c").write_text("\n".join(lines) + "\n")
    for t in texts:
        out = c_comment(t)
        assert all(0x20 <= ord(ch) < 0x7F for ch in out) and "*/" not in out and "/*" not in out and "??" not in out
    subprocess.run(["gcc", *CFLAGS, str(tmp_path / "fuzz.c"), "-o", str(tmp_path / "fuzz")], check=True)
    printed = subprocess.run([str(tmp_path / "fuzz")], capture_output=True, text=True, check=True).stdout
    # a NUL ends a C string: what prints is the UTF-8 up to the first NUL
    want = [t.encode("utf-8").split(b"\x00")[0].hex() for t in texts]
    assert printed.splitlines() == want


# ------------------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def base_model():
    return random_model(3, num_features=3, luts=(24, 12), n=4, num_classes=3)


def _hostile_model(base, names):
    return dataclasses.replace(base, class_names=tuple(names),
                               feature_names=tuple(names[i % len(names)] for i in range(base.num_features)))


def _compile(tmp_path, lib_src: Path, name: str) -> str:
    """Compile the library with gcc -Werror into an object; return its `nm` symbols."""
    obj = tmp_path / f"{name}.o"
    proc = subprocess.run(["gcc", *CFLAGS, "-c", str(lib_src / f"{name}.c"), "-o", str(obj)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout


def _symbols(nm_out: str) -> set:
    return {line.split()[-1] for line in nm_out.splitlines() if line.strip()}


@needs_gcc
@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_hostile_class_names_build_and_compile_without_live_code(tmp_path, base_model, layout):
    names = ["*/ extern int x; /*", "*/ #error x", '"\\ ??/ #include <stdio.h> caf\u00e9']
    model = _hostile_model(base_model, names)
    out = tmp_path / "out"
    build_project(model, "nano", out, layout=layout, optimize=False)
    lib = out / "lib" / "dwn_model" / "src"
    header = (lib / "dwn_model.h").read_text()
    assert "0 =  * / extern int x; / * , 1 =  * / #error x, 2 = \"\\\\ ?\\?/ #include <stdio.h> caf\\xC3\\xA9" \
        in header
    symbols = _symbols(_compile(tmp_path, lib, "dwn_model"))
    assert "x" not in symbols and "dwn_model_predict" in symbols
    # the header also compiles as C++ (the sketch includes it), and the project's JSON and INI files parse
    subprocess.run(["g++", "-fsyntax-only", "-Wall", "-Werror", "-x", "c++", str(lib / "dwn_model.h")], check=True)
    assert json.loads((out / "lib/dwn_model/library.json").read_text())["name"] == "dwn_model"


@needs_gcc
@pytest.mark.parametrize("text", HOSTILE)
def test_every_hostile_name_renders_to_compiling_c(tmp_path, base_model, text, monkeypatch):
    """Names the model's validation refuses (newline, NUL, 200 characters) are still safe if one got
    past it: with validation switched off, the library renders, compiles, and no hostile line is live
    (the escaping does not lean on the loader)."""
    model = _hostile_model(base_model, [text, text + "1", "2" + text])
    monkeypatch.setattr(FrozenDWN, "validate", lambda self: self)
    files = render_project(pack_program(model, make_plan(model, get_board("nano"), layout="table")))
    lib = tmp_path / "lib"
    lib.mkdir()
    for rel, body in files.items():
        if rel.startswith("lib/dwn_model/src/"):
            (lib / Path(rel).name).write_text(body)
    symbols = _symbols(_compile(tmp_path, lib, "dwn_model"))
    assert "x" not in symbols and "y" not in symbols
    header = (lib / "dwn_model.h").read_text()
    assert f"0 = {c_comment(text)}, 1 = {c_comment(text + '1')}" in header
    assert "#error" not in "".join(line for line in header.splitlines() if line.startswith("#"))


def _board_dir(tmp_path, stem, **fields):
    text = (Path(__file__).resolve().parents[1] / "boards" / "nano.toml").read_text()
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key == "aliases":
            line = f'aliases = ["{stem}"]'
        elif key in fields:
            line = f"{key} = {json.dumps(fields[key])}"
        lines.append(line)
    d = tmp_path / "boards"
    d.mkdir(exist_ok=True)
    (d / f"{stem}.toml").write_text("\n".join(lines) + "\n")
    return d


@needs_gcc
def test_hostile_board_name_stays_in_comments(tmp_path, base_model):
    d = _board_dir(tmp_path, "evil", name="*/ extern int x; /* ??/")
    out = tmp_path / "out"
    build_project(base_model, get_board("evil", d), out, layout="table", optimize=False)
    lib = out / "lib" / "dwn_model" / "src"
    assert "Generated for  * / extern int x; / * ?\\?/  (table layout)" in (lib / "dwn_model.h").read_text()
    assert "x" not in _symbols(_compile(tmp_path, lib, "dwn_model"))
    main_cpp = (out / "src" / "main.cpp").read_text()
    assert main_cpp.startswith("/* main.cpp: Arduino sketch for the dwn_model model on  * / extern int x; / * ?\\?/ ")
    subprocess.run(["g++", "-fsyntax-only", "-Wall", "-Werror", f"-I{lib}", "-x", "c++", str(out / "src/main.cpp")],
                   check=True)
    assert "for */ extern int x; /* ??/." in (out / "lib/dwn_model/library.properties").read_text()


@pytest.mark.parametrize("field, where, value", [
    ("name", "'name'", "Nano\n[env:evil]"), ("board", "'platformio.board'", "nanoatmega328\nextra_scripts = x.py"),
    ("platform", "'platformio.platform'", "atmelavr\r")])
def test_board_value_with_a_newline_is_refused_in_one_line(tmp_path, model_file_for, capsys, field, where, value):
    d = _board_dir(tmp_path, "evil", **{field: value})
    out = tmp_path / "out"
    argv = ["build", str(model_file_for(tmp_path)), "--board", "evil", "--boards-dir", str(d), "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "control character" in err and where in err and "evil.toml" in err
    assert "\n" not in err and "Traceback" not in err and not out.exists()


def test_in_memory_board_with_a_newline_cannot_reach_platformio_ini(base_model):
    """A Board built in memory skips the file check; the template's `ini` filter still refuses it."""
    board = dataclasses.replace(get_board("nano"), key="nano]\n[env:evil")
    with pytest.raises(CGenError, match="control character"):
        render_project(pack_program(base_model, make_plan(base_model, board)))


@pytest.fixture()
def model_file_for(base_model):
    from dwn_mcu import save

    def write(folder):
        path = folder / "model.dwn"
        save(base_model, path)
        return path
    return write


def test_testbench_and_xgboost_renderers_check_the_name():
    X = np.zeros((1, 3), np.float32)
    assert "#include \"m.h\"" in render_testbench(TARGETS["avr"], "m", X, 3)
    with pytest.raises(TargetError, match="not a C identifier"):
        render_testbench(TARGETS["avr"], 'm.h"\n#error x\n"', X, 3)
    from dwn_mcu.baselines.xgb_target import render_testbench as xgb_testbench
    with pytest.raises(BaselineError, match="not a C identifier"):
        xgb_testbench("*/ x", X, 1)
    assert issubclass(CGenError, DWNError)
