"""The model search (dwn_mcu/search): seeds, records, the front, and the engine on a local Ray instance
on 127.0.0.1 (1 and 2 CPUs give the same trials; a dead worker is retried; a failing trial is recorded;
--resume runs only what is missing; bad folders, addresses and clusters are one-line errors)."""

import csv
import io
import math
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from dwn_mcu.cli import main  # noqa: E402
from dwn_mcu.data import Dataset  # noqa: E402
from dwn_mcu.search import api  # noqa: E402
from dwn_mcu.search.cluster import SearchError  # noqa: E402
from dwn_mcu.search.engine import SearchConfig  # noqa: E402
from dwn_mcu.search.pareto import front  # noqa: E402
from dwn_mcu.search.records import ResumeError, read_trials, to_csv  # noqa: E402
from dwn_mcu.search.space import trial_seed  # noqa: E402
from dwn_mcu.search.trial import run_trial  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402

TIMING = ("seconds", "cpu_seconds", "worker")

import ray.cloudpickle  # noqa: E402

# the workers cannot import this test module: its trial functions travel by value
ray.cloudpickle.register_pickle_by_value(__import__(__name__))


def tiny_dataset(name="tiny", shift=1.5):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 80)
    X = (rng.normal(size=(160, 3)) + shift * y[:, None]).astype(np.float32)
    return Dataset(name, X, y.astype(np.int64), np.arange(160) % 5 == 0, ("a", "b"), ("f0", "f1", "f2"))


def config(**kw):
    base = dict(board="nano", flash_budget=6000, ram_budget=1500, trials=4, batch=2, epochs=1, patience=1,
                num_cpus=1)
    return SearchConfig(**{**base, **kw})


def without_timing(path: Path) -> list:
    rows = list(csv.DictReader(io.StringIO((path / "trials.csv").read_text())))
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "one"
    records, best = api.run(tiny_dataset(), config(num_cpus=1), out)
    return out, records, best


def test_a_local_instance_serves_on_loopback_only():
    """Ray maps a node address of 127.0.0.1 to the machine's external one; the local instance must not."""
    import ray

    from dwn_mcu.search.cluster import connected

    with connected(num_cpus=1):
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42


def test_trial_seed_is_a_function_of_the_parameters():
    p = {"depth": 3, "learning_rate": 0.1, "max_bin": 16, "rounds": 5}
    assert trial_seed("xgboost", p, 0) == trial_seed("xgboost", dict(reversed(list(p.items()))), 0)
    assert trial_seed("xgboost", p, 0) != trial_seed("xgboost", {**p, "rounds": 6}, 0)
    assert trial_seed("xgboost", p, 0) != trial_seed("xgboost", p, 1)


def _r(n, acc, flash, latency, fits=True, status="ok"):
    return {"number": n, "family": "xgboost", "params": {"depth": 1, "learning_rate": 0.1, "max_bin": 16,
            "rounds": 1}, "seed": 1, "status": status, "val_accuracy": acc, "flash": flash, "ram": 10,
            "latency": latency, "fits": fits, "error": "", "seconds": 0.5, "cpu_seconds": 0.4, "worker": "w",
            "model": ""}


def test_front_keeps_the_non_dominated_fitting_trials():
    rs = [_r(0, 0.9, 1000, 500), _r(1, 0.8, 1200, 600),  # 1 is dominated by 0
          _r(2, 0.8, 500, 700), _r(3, 0.95, 3000, 100), _r(4, 0.99, 100, 10, fits=False),
          _r(5, float("nan"), 100, 10, status="over budget"), _r(6, 0.9, 1000, 500)]  # 6 ties 0: first kept
    assert [r["number"] for r in front(rs)] == [3, 0, 2]


def test_trials_csv_reads_back_exactly(tmp_path):
    rs = [_r(1, 0.1 + 0.2, 1000, None), _r(0, float("nan"), 10, 3, status="failed")]
    rs[1]["error"] = "ValueError: two\nlines"
    (tmp_path / "trials.csv").write_bytes(to_csv(rs))
    back = read_trials(tmp_path)
    assert [r["number"] for r in back] == [0, 1]
    assert back[1]["val_accuracy"] == 0.1 + 0.2 and back[1]["latency"] is None
    assert math.isnan(back[0]["val_accuracy"]) and back[0]["error"] == "ValueError: two lines"


def test_a_search_writes_every_trial_and_its_front(one_worker):
    out, records, best = one_worker
    assert [r["number"] for r in records] == list(range(8))
    assert {r["family"] for r in records} == {"dwn", "xgboost"}
    assert all(r["status"] in ("ok", "over budget") for r in records)
    assert best and all(r["fits"] for r in best)
    pareto = list(csv.DictReader(io.StringIO((out / "pareto.csv").read_text())))
    assert sorted(int(r["number"]) for r in pareto) == sorted(r["number"] for r in best)
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    for r in best:
        assert (out / "front" / r["model"]).read_bytes() == (out / "models" / r["model"]).read_bytes()
    dwn = [r for r in best if r["family"] == "dwn"]
    if dwn:  # a front model is the model the record describes
        from dwn_mcu.model_file import load

        data = api.prepare_data(tiny_dataset(), 0)
        model = load(out / "front" / dwn[0]["model"])
        assert float(np.mean(model.predict(data["X_val"]) == data["y_val"])) == dwn[0]["val_accuracy"]



def test_the_dwn_study_starts_from_the_in_process_search_first_shapes(one_worker):
    from dwn_mcu.budget_search import default_shapes
    from dwn_mcu.compiler import get_board
    from dwn_mcu.search.space import first_dwn_trials
    from dwn_mcu.search.trial import dwn_shape

    _, records, _ = one_worker
    c = config()
    first = first_dwn_trials(get_board("nano"), c.flash_budget, c.ram_budget, None, 3, 2, c.batch)
    shapes = default_shapes(3, 2, get_board("nano"), c.flash_budget, c.ram_budget)
    assert [dwn_shape(p, 2) for p in first] == shapes[:c.batch] and len(first) == c.batch
    dwn = [r for r in records if r["family"] == "dwn"]
    assert [r["params"] for r in dwn[:c.batch]] == first  # asked first, in that order
    assert all(r["status"] == "ok" for r in dwn[:c.batch])  # each fits: trained, not priced out


def test_two_workers_give_the_same_trials(tmp_path):
    # three rounds per family: round 2 is asked after round 0 is told, while round 1 may still run
    api.run(tiny_dataset(), config(trials=6), tmp_path / "one")
    api.run(tiny_dataset(), config(trials=6, num_cpus=2), tmp_path / "two")
    assert len(read_trials(tmp_path / "one")) == 12
    assert without_timing(tmp_path / "two") == without_timing(tmp_path / "one")
    workers = {r["worker"] for r in read_trials(tmp_path / "two")}
    assert len(workers) == 2  # both CPUs ran trials


def _counting(spec, data):
    """A trial that leaves a mark of each run (the marks' folder travels in the spec's data)."""
    Path(data["marks"], str(spec["number"])).touch()
    return run_trial(spec, data)


def test_resume_runs_only_the_missing_trials(one_worker, tmp_path):
    out, _, _ = one_worker
    dest = tmp_path / "resumed"
    api.run(tiny_dataset(), config(trials=2, num_cpus=2), dest)  # the first round only
    rows = (dest / "trials.csv").read_text().splitlines()
    (dest / "trials.csv").write_text("\n".join(rows[:-1]) + "\n")  # trial 3 lost, as if interrupted
    marks = tmp_path / "marks"
    marks.mkdir()
    original = api.prepare_data

    def with_marks(dataset, seed=0):
        return {**original(dataset, seed), "marks": str(marks)}

    api.prepare_data = with_marks
    try:
        api.run(tiny_dataset(), config(trials=4, num_cpus=2), dest, resume=True, trial_fn=_counting)
    finally:
        api.prepare_data = original
    assert sorted(int(p.name) for p in marks.iterdir()) == [3, 4, 5, 6, 7]
    assert without_timing(dest) == without_timing(out)


def _dies_once_or_fails(spec, data):
    marker = Path(data["marks"], "died")
    if spec["number"] == 1 and not marker.exists():
        marker.touch()
        os._exit(1)  # the worker process dies: Ray must retry the task
    if spec["number"] == 2:
        raise ValueError("this trial fails\non purpose")
    return run_trial(spec, data)


def test_a_dead_worker_is_retried_and_a_failing_trial_recorded(tmp_path):
    from dwn_mcu.search.engine import search

    marks = tmp_path / "marks"
    marks.mkdir()
    data = {**api.prepare_data(tiny_dataset(), 0), "marks": str(marks)}
    records = search(data, config(trials=2, num_cpus=2, families=("xgboost",)), tmp_path / "s", "tiny",
                     trial_fn=_dies_once_or_fails)
    assert (marks / "died").exists()
    by = {r["number"]: r for r in records}
    assert by[1]["status"] == "ok" and by[0]["status"] == "ok"
    # the third is a failure of the trial itself: recorded with its error, in one line
    search(data, config(trials=4, num_cpus=2, families=("xgboost",)), tmp_path / "s", "tiny", resume=True,
           trial_fn=_dies_once_or_fails)
    by = {r["number"]: r for r in read_trials(tmp_path / "s")}
    assert by[2]["status"] == "failed" and by[2]["error"] == "ValueError: this trial fails on purpose"
    assert by[3]["status"] == "ok" and len(by) == 4


def _slow(spec, data):
    Path(data["marks"], str(spec["number"])).write_text(repr(time.time()))  # when a worker started it
    time.sleep(2.0)
    return run_trial(spec, data)


def test_no_trial_starts_after_the_time_limit(tmp_path):
    from dwn_mcu.search.engine import search

    marks = tmp_path / "marks"
    marks.mkdir()
    data = {**api.prepare_data(tiny_dataset(), 0), "marks": str(marks)}
    t0 = time.time()
    records = search(data, config(trials=6, num_cpus=1, families=("xgboost",), time_limit=3.0), tmp_path / "s",
                     "tiny", trial_fn=_slow)
    # one worker, 2 s a trial: the two rounds asked at the start hold 4 trials, and at most two of them can
    # start within 3 s; the ones a worker took later were not run, so not recorded
    started = {int(m.name): float(m.read_text()) for m in marks.iterdir()}
    assert len(records) <= 2 and sorted(started) == [r["number"] for r in records]
    assert all(t <= t0 + 3.0 + 0.5 for t in started.values())  # the deadline is set as the search starts
    again = search(data, config(trials=6, num_cpus=1, families=("xgboost",)), tmp_path / "s", "tiny",
                   resume=True, trial_fn=run_trial)
    assert [r["number"] for r in again] == list(range(6))  # --resume ran the ones not run, same parameters

def _greedy(spec, data):
    if spec["number"] == 0:
        np.ones(1 << 31, np.uint8)  # 2 GiB: over the trial's memory
    return run_trial(spec, data)


def test_a_trial_over_its_memory_is_a_recorded_failure(tmp_path):
    from dwn_mcu.search.engine import search

    data = api.prepare_data(tiny_dataset(), 0)
    records = search(data, config(trials=2, num_cpus=1, families=("xgboost",), trial_memory=1 << 30),
                     tmp_path / "s", "tiny", trial_fn=_greedy)
    assert records[0]["status"] == "failed" and records[0]["error"].startswith("MemoryError")
    assert records[1]["status"] == "ok"  # the same worker, its limit lifted after the failure, goes on


def test_resume_refuses_another_search(one_worker, tmp_path, capsys):
    out, _, _ = one_worker
    with pytest.raises(ResumeError, match="another dataset"):
        api.run(tiny_dataset("other"), config(), out, resume=True)
    with pytest.raises(ResumeError, match="another data_sha256"):
        api.run(tiny_dataset(shift=1.0), config(), out, resume=True)
    with pytest.raises(ResumeError, match="another flash_budget"):
        api.run(tiny_dataset(), config(flash_budget=5000), out, resume=True)
    with pytest.raises(ResumeError, match="resume with --trials 4 or more"):
        api.run(tiny_dataset(), config(trials=3), out, resume=True)
    with pytest.raises(ResumeError, match="no such search folder"):
        api.run(tiny_dataset(), config(), tmp_path / "none", resume=True)


def test_cli_errors_are_one_line(tmp_path, capsys):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "s"
    base = ["search", "--dataset", "phoneme", "--board", "nano", "-o", str(out)]
    cases = [(["--address", f"127.0.0.1:{port}"], "cannot reach a Ray cluster at 127.0.0.1"),
             (["--address", "nowhere"], "expected HOST:PORT"),
             (["--families", "dwn,svm"], "choose from dwn, xgboost"),
             (["--resume"], "no such search folder")]
    for extra, needle in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()


def test_a_cluster_without_cpus_is_refused(tmp_path):
    with pytest.raises(SearchError, match="no CPU"):
        api.run(tiny_dataset(), config(num_cpus=0), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def _descendants(pid: int) -> set:
    """Every process below `pid` now (from /proc): the Ray processes a search started."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, set()).add(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pids: set) -> set:
    return {p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in
            Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[:1]}


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_ctrl_c_keeps_the_finished_trials_and_stops_the_workers(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "dwn_mcu", "search", "--dataset", "phoneme", "--board", "nano", "--cpus", "1",
           "--families", "xgboost", "--trials", "40", "--batch", "40", "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    started = set()
    try:
        lines = []
        for line in proc.stderr:  # the first finished trial
            lines.append(line)
            if line.startswith("trial "):
                break
        started = _descendants(proc.pid)
        assert started  # the local Ray instance: its processes are the search's children
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(60) == 130, lines + [rest]
        assert rest.strip().splitlines()[-1] == "dwn-mcu search: interrupted"
        assert "Traceback" not in rest
        deadline = time.monotonic() + 30
        while _alive(started) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(started)  # the local Ray instance and its workers are gone
        kept = read_trials(out)
        assert 1 <= len(kept) < 40 and all(r["status"] == "ok" for r in kept)
        assert all((out / "models" / r["model"]).is_file() for r in kept)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _alive(started):  # what this test's search started, by its own pids
            with __import__("contextlib").suppress(ProcessLookupError):
                os.kill(pid, 9)


def test_train_board_on_the_engine_writes_the_chosen_trial(tmp_path, capsys):
    from dwn_mcu.model_file import load

    shared_dataset("banana")  # skips with the reason in a clone without the shared datasets
    out, folder = tmp_path / "m.dwn", tmp_path / "search"
    assert main(["train", "--dataset", "banana", "--board", "nano", "--flash-budget", "2048", "--engine", "ray", "--trials", "2",
                 "--epochs", "1", "--quiet", "--search-dir", str(folder), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    records = read_trials(folder)
    assert len(records) == 2 and {r["family"] for r in records} == {"dwn"}
    number = int(printed.split("chosen")[1].split("trial ")[1].split()[0])
    chosen = next(r for r in records if r["number"] == number)
    assert chosen["fits"] and load(out).metadata["search_trial"] == number
    trial_model = load(folder / "models" / chosen["model"])
    from dwn_mcu.data import load_dataset

    X = load_dataset("banana").X
    assert np.array_equal(load(out).predict(X), trial_model.predict(X))


def test_train_engine_options_need_the_engine(tmp_path, capsys):
    shared_dataset("banana")
    assert main(["train", "--dataset", "banana", "--board", "nano", "--address", "127.0.0.1:1",
                 "-o", str(tmp_path / "m.dwn")]) == 2
    assert "need --board and --engine ray" in capsys.readouterr().err


def test_the_cli_starts_without_ray_or_optuna():
    import subprocess
    import sys

    code = "import sys; from dwn_mcu.cli import build_parser; build_parser(); " \
           "print(sorted(m for m in ('ray', 'optuna') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_search_prints_a_line_per_trial_and_the_front(tmp_path, capsys):
    shared_dataset("banana")
    out = tmp_path / "s"
    assert main(["search", "--dataset", "banana", "--board", "nano", "--families", "xgboost", "--trials", "2",
                 "--cpus", "1", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert len([line for line in captured.err.splitlines() if line.startswith("trial ")]) == 2
    assert "trials         2 (0 failed) on nano" in captured.out and "front          trial" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["front", "models", "pareto.csv", "pareto.png",
                                                      "search.json", "trials.csv"]
    assert main(["search", "--dataset", "banana", "--board", "nano", "-o", str(out)]) == 2  # exists
    err = capsys.readouterr().err
    assert "exists (use --force to replace it)" in err and len(err.strip().splitlines()) == 1
