"""The command line's single error boundary and its output rules: an output that cannot be written is one
line before any work; --force replaces only what dwn-mcu wrote; a closed stdout, an OSError and Ctrl-C
(also while starting up) are one line or a quiet exit, never a traceback; training writes the same bytes
twice."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import dwn_mcu.cli.boards
from dwn_mcu import load
from dwn_mcu.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--luts", "20", "--bits", "4", "--epochs", "1", "--quiet"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(argv, capsys):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.dwn"
    assert main(["train", "--dataset", "phoneme", *QUICK, "-o", str(path)]) == 0
    return path


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test: the output must be refused before it."""
    from dwn_mcu.training.classifier import DWNClassifier

    def fit(*a, **k):
        raise AssertionError("trained before checking the output")

    monkeypatch.setattr(DWNClassifier, "fit", fit)


# --- outputs that cannot be written: one line, exit 2, before training -----------------------------------

def test_train_into_a_file_as_folder_is_refused_before_training(tmp_path, capsys, no_training):
    (tmp_path / "f").write_text("a file")
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "-o", tmp_path / "f" / "sub" / "m.dwn"], capsys)
    one_line_error(code, err, str(tmp_path / "f"), "not a folder")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc (no files can be made there)")
def test_train_where_nothing_can_be_created_is_refused_before_training(capsys, no_training):
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "-o", "/proc/dwn-mcu-test/m.dwn"], capsys)
    one_line_error(code, err, "/proc/dwn-mcu-test/m.dwn", "cannot write in /proc")
    assert not Path("/proc/dwn-mcu-test").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only folder, so nothing to refuse")
def test_train_into_a_read_only_folder_is_refused_before_training(tmp_path, capsys, no_training):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "-o", ro / "new" / "m.dwn"], capsys)
    finally:
        ro.chmod(0o700)
    one_line_error(code, err, "cannot write in", str(ro))
    assert list(ro.iterdir()) == []


def test_train_refuses_a_folder_output_before_training(tmp_path, capsys, no_training):
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "--force", "-o", tmp_path], capsys)
    one_line_error(code, err, str(tmp_path), "is a folder")


def test_optimize_into_a_folder_with_force_is_one_line(tmp_path, model_file, capsys):
    (tmp_path / "d").mkdir()
    code, _, err = run(["optimize", model_file, "-o", tmp_path / "d", "--force"], capsys)
    one_line_error(code, err, str(tmp_path / "d"), "is a folder")
    assert list((tmp_path / "d").iterdir()) == []


def test_optimize_creates_missing_parent_folders(tmp_path, model_file, capsys):
    out = tmp_path / "a" / "b" / "small.dwn"
    code, text, err = run(["optimize", model_file, "-o", out], capsys)
    assert code == 0, err
    assert load(out).num_classes == 2 and f"wrote {out}" in text
    assert [p.name for p in out.parent.iterdir()] == ["small.dwn"]


# --- folders: never /, the current folder or above; --force only over what dwn-mcu wrote -----------------

@pytest.mark.parametrize("target", [".", "..", "/", "CWD", "sub/.."])
def test_build_refuses_root_cwd_and_its_ancestors_and_leaves_no_litter(tmp_path, model_file, capsys,
                                                                      monkeypatch, target):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work)
    target = str(work) if target == "CWD" else target
    before = {p: sorted(os.listdir(p)) for p in ("/", tmp_path, work)}
    code, _, err = run(["build", model_file, "--board", "nano", "-o", target, "--force"], capsys)
    line = one_line_error(code, err)
    assert "filesystem root" in line if target == "/" else "current folder" in line
    assert {p: sorted(os.listdir(p)) for p in before} == before  # no ..old-* or .tmp- folder anywhere


def test_build_force_refuses_a_folder_it_did_not_write(tmp_path, model_file, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8")
    code, _, err = run(["build", model_file, "--board", "nano", "-o", out, "--force"], capsys)
    one_line_error(code, err, str(out), "dwn_report.json", "refusing")
    assert [p.name for p in out.iterdir()] == ["holiday.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_build_creates_missing_parents_and_force_replaces_its_own_project(tmp_path, model_file, capsys):
    out = tmp_path / "a" / "b" / "proj"
    assert run(["build", model_file, "--board", "nano", "-o", out], capsys)[0] == 0
    (out / "stale.txt").write_text("from an older build")
    code, _, err = run(["build", model_file, "--board", "nano", "-o", out, "--force"], capsys)
    assert code == 0, err
    assert (out / "dwn_report.json").is_file() and not (out / "stale.txt").exists()
    assert [p.name for p in out.parent.iterdir()] == ["proj"]


def test_compare_force_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me")
    code, _, err = run(["compare", "--dataset", "phoneme", "--board", "nano", "--no-emulate", "--quiet",
                        "-o", out, "--force"], capsys)
    one_line_error(code, err, str(out), "report.json", "refusing")
    assert [p.name for p in out.iterdir()] == ["todo.txt"]
    code, _, err = run(["compare", "--dataset", "phoneme", "--board", "nano", "--no-emulate", "-o", "/"], capsys)
    one_line_error(code, err, "filesystem root")


# --- the error boundary --------------------------------------------------------------------------------

def test_an_oserror_is_one_line_naming_the_path(monkeypatch, capsys):
    def fail(args):
        raise PermissionError(13, "Permission denied", "/some/where/x.dwn")

    monkeypatch.setattr(dwn_mcu.cli.boards, "run", fail)
    code, _, err = run(["boards"], capsys)
    assert one_line_error(code, err) == "dwn-mcu boards: error: /some/where/x.dwn: Permission denied"


def test_ctrl_c_in_a_command_is_one_line_and_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(dwn_mcu.cli.boards, "run", interrupted)
    code, _, err = run(["boards"], capsys)
    assert code == 130 and err == "dwn-mcu boards: interrupted\n"


@pytest.mark.parametrize("argv", [["boards"], ["--help"], ["boards", "--help"]])
def test_a_closed_stdout_is_a_quiet_exit(argv):
    r, w = os.pipe()
    os.close(r)  # like `dwn-mcu boards | head -1` once head has gone
    try:
        proc = subprocess.run([sys.executable, "-m", "dwn_mcu", *argv], stdout=w, stderr=subprocess.PIPE,
                              text=True, timeout=60, env=ENV)
    finally:
        os.close(w)
    assert proc.stderr == "" and proc.returncode in (0, 1), proc.stderr


BLOCKER = '''
import os, sys, time
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["DWN_TEST_BLOCK_ON"]:
            sys.meta_path.remove(self)
            open(os.environ["DWN_TEST_MARK"], "w").close()
            time.sleep(60)
        return None
sys.meta_path.insert(0, Block())
'''
ENTRIES = {
    "python -m": "import runpy; runpy.run_module('dwn_mcu', run_name='__main__', alter_sys=True)",
    "console script": "import sys; from dwn_mcu.cli import entry; sys.exit(entry())",  # what pip generates
}


def _interrupt_at_import(tmp_path, module, entry):
    (tmp_path / "blocker.py").write_text(BLOCKER)
    mark = tmp_path / f"mark-{module}"
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "DWN_TEST_BLOCK_ON": module,
           "DWN_TEST_MARK": str(mark)}
    argv = ["train", "--dataset", "phoneme", *QUICK, "-o", str(tmp_path / f"{module}.dwn")]
    proc = subprocess.Popen([sys.executable, "-c", f"import blocker; {ENTRIES[entry]}", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mark.exists(), proc.communicate(timeout=30)
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)[1], proc.returncode


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("module", ["numpy", "torch"])
def test_ctrl_c_while_importing_is_one_line_and_130(tmp_path, module, entry):
    """SIGINT exactly while numpy (start-up: the subcommands) or torch (the trainer) is being imported."""
    if module == "torch":
        pytest.importorskip("torch")
    err, code = _interrupt_at_import(tmp_path, module, entry)
    # numpy comes in while the subcommands are collected, before the command is known; torch inside `train`
    expected = "dwn-mcu train: interrupted\n" if module == "torch" else "dwn-mcu: interrupted\n"
    assert code == 130 and err == expected, err


@pytest.mark.slow
def test_ctrl_c_at_any_moment_is_never_a_traceback(tmp_path):
    """SIGINT at several moments of a short training run: exit 130 with one line, or a normal exit."""
    def at(delay):
        proc = subprocess.Popen([sys.executable, "-m", "dwn_mcu", "train", "--dataset", "phoneme", *QUICK, "-o",
                                 str(tmp_path / f"m{delay}.dwn")], env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=60)[1], proc.returncode

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(at, [0.1, 0.3, 0.6, 1.0, 1.5, 2.5]))
    for err, code in results:
        assert "Traceback" not in err, err
        # -SIGINT: the signal came during the interpreter's teardown, once the work was done and Python had
        # restored the default handler; a shell reports it as 130 too
        interrupted = code in (130, -signal.SIGINT) and len(err.strip().splitlines()) <= 1
        assert interrupted or (code == 0 and err == ""), (code, err)
    assert any(code == 130 for _, code in results)


# --- the same run writes the same bytes ----------------------------------------------------------------

def test_training_twice_writes_identical_files_and_prints_the_time(tmp_path):
    pytest.importorskip("torch")

    def train(name):
        argv = ["train", "--dataset", "phoneme", "--luts", "20", "--bits", "4", "--epochs", "1", "--seed", "3",
                "--quiet", "-o", str(tmp_path / name)]
        return subprocess.run([sys.executable, "-m", "dwn_mcu", *argv], capture_output=True, text=True,
                              timeout=120, env=ENV)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(train, ["a.dwn", "b.dwn"]))
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert (tmp_path / "a.dwn").read_bytes() == (tmp_path / "b.dwn").read_bytes()
    assert "train_seconds" not in load(tmp_path / "a.dwn").metadata
    assert " s\n" in runs[0].stdout.split("epochs in")[1]  # the time goes to the terminal
