"""Data-parallel training (dwn_mcu/training/distributed.py): two gloo processes on 127.0.0.1 train what one
process trains on the same global batches, within float tolerance; under torchrun only rank 0 writes."""

import datetime
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dwn_mcu.data import stratified_split
from dwn_mcu.model_file import load
from dwn_mcu.training import distributed
from dwn_mcu.training.classifier import DWNClassifier
from dwn_mcu.training.layers import DWN

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = {"MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo"}
# 201 rows, 20% held out: 161 training rows, batches of 32: the last global batch has one row, so rank 1's
# share of it is empty (the uneven case the loss scaling is for)
# patience 1: the early-stopping decision is taken (and must be taken alike) within the few epochs
PARAMS = dict(luts=(24,), lut_inputs=4, bits=8, epochs=6, patience=1, batch_size=32, seed=3, verbose=False,
              device="cpu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data(rows=201, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


def _worker(rank, world, port, out_dir, data_seed_of_rank_1=0):
    os.environ.update(LOOPBACK, MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=30))
    try:
        try:
            # verbose differs between the ranks, as a script showing rank 0's bar would set it: it is allowed
            clf = DWNClassifier(**dict(PARAMS, verbose=rank == 0)).fit(*_data(seed=data_seed_of_rank_1 if rank else 0))
        except ValueError as exc:
            (Path(out_dir) / f"rank{rank}.error").write_text(str(exc))
            return
        state = {k: v.detach().clone() for k, v in clf.model_.state_dict().items()}
        torch.save({"state": state, "history": [{k: v for k, v in r.items() if k != "seconds"} for r in clf.history_],
                    "train_accuracy": clf.train_accuracy_, "best_epoch": clf.best_epoch_},
                   Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _spawn(world, out_dir, *args, limit=60.0):
    ctx = mp.start_processes(_worker, args=(world, _free_port(), str(out_dir), *args), nprocs=world, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + limit
    try:
        while not ctx.join(timeout=1.0):
            if time.monotonic() > deadline:
                pytest.fail(f"the {world} training processes did not finish within {limit} s")
    finally:
        for p in ctx.processes:  # only the processes this test started
            if p.is_alive():
                p.kill()
                p.join()


def test_two_gloo_processes_train_what_one_process_trains(tmp_path):
    train_rows = int((~stratified_split(_data()[1], 0.2, PARAMS["seed"])).sum())
    assert train_rows % PARAMS["batch_size"] == 1  # the uneven last batch the comment at PARAMS describes
    _spawn(2, tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    single = DWNClassifier(**PARAMS).fit(*_data())
    # the ranks hold one model: the averaged gradients are the same bits on both
    for k, v in ranks[0]["state"].items():
        assert torch.equal(v, ranks[1]["state"][k]), k
    assert ranks[0]["history"] == ranks[1]["history"]
    # and it is the single process's model up to the order of float sums
    state = single.model_.state_dict()
    assert set(state) == set(ranks[0]["state"])
    initial = DWN(single.thermometer_.num_bits, single.luts_, PARAMS["lut_inputs"], len(single.classes_),
                  single.tau_, single.mapping, PARAMS["seed"]).state_dict()
    for k, v in state.items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(ranks[0]["state"][k], v, rtol=0, atol=1e-5)
            assert (v - initial[k]).abs().max() > 1e-3, f"{k}: training did not move it; the test would be void"
        else:
            assert torch.equal(ranks[0]["state"][k], v), k
    for got, want in zip(ranks[0]["history"], single.history_):
        assert got["epoch"] == want["epoch"]
        assert got["train_accuracy"] == want["train_accuracy"]
        assert got["val_accuracy"] == want["val_accuracy"]
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert len(ranks[0]["history"]) == len(single.history_)
    assert ranks[0]["best_epoch"] == ranks[1]["best_epoch"] == single.best_epoch_
    assert ranks[0]["train_accuracy"] == ranks[1]["train_accuracy"] == single.train_accuracy_


def test_ranks_fed_different_data_all_refuse_to_train(tmp_path):
    _spawn(2, tmp_path, 1)  # rank 1 gets other rows
    errors = [(tmp_path / f"rank{r}.error").read_text() for r in (0, 1)]
    assert errors[0] == errors[1] == ("the 2 data-parallel processes disagree on training rows, validation rows: "
                                      "every process must fit the same data with the same parameters")
    assert not list(tmp_path.glob("*.pt"))


def _run(cmd, cwd, limit=90.0):
    """Run `cmd` in its own process group; on timeout kill that group (what this test started) and fail."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **LOOPBACK)
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{' '.join(cmd[:6])} ... did not finish within {limit} s")
    return proc.returncode, out, err


def test_torchrun_train_writes_one_model_from_rank_0_equal_to_one_process(tmp_path):
    X, y = _data(rows=401, seed=1)
    np.savez(tmp_path / "set.npz", X=X, y=y)
    train = ["-m", "dwn_mcu", "train", "--data", "set.npz", "--luts", "24", "--lut-inputs", "4", "--bits", "8",
             "--epochs", "1", "--batch-size", "32", "--quiet"]
    (tmp_path / "dist").mkdir()
    rc, out, err = _run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
                         "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
                         *train, "-o", "dist/model.dwn"], tmp_path)
    assert rc == 0, err[-2000:]
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["model.dwn"]  # nothing else, no temp file
    assert out.count("wrote          dist/model.dwn") == 1  # rank 0 reports, rank 1 is silent
    rc, single_out, err = _run([sys.executable, *train, "-o", "single.dwn"], tmp_path)
    assert rc == 0, err[-2000:]
    dist_model, single = load(tmp_path / "dist" / "model.dwn"), load(tmp_path / "single.dwn")
    for got, want in zip(dist_model.layers, single.layers, strict=True):
        assert np.array_equal(got.tables, want.tables) and np.array_equal(got.mapping, want.mapping)
    assert np.array_equal(dist_model.predict(X), single.predict(X))
    # the same global batches: the same accuracy line
    assert [line for line in out.splitlines() if line.startswith("test accuracy")] == [
        line for line in single_out.splitlines() if line.startswith("test accuracy")]


def test_launched_reads_the_torchrun_variables():
    assert not distributed.launched({})
    assert not distributed.launched({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
    assert distributed.launched({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert distributed.local_device(torch.device("cuda"), env) == torch.device("cuda", 1)
    assert distributed.local_device(torch.device("cuda", 0), env) == torch.device("cuda", 0)
    assert distributed.local_device(torch.device("cpu"), env) == torch.device("cpu")
    assert distributed.backend_for(torch.device("cuda", 1)) == "nccl"
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    assert distributed.is_main() and distributed.Group.current() is None  # no process group here


def test_board_search_is_refused_under_torchrun(tmp_path, monkeypatch, capsys):
    from dwn_mcu.cli import main

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    X, y = _data()
    np.savez(tmp_path / "set.npz", X=X, y=y)
    code = main(["train", "--data", str(tmp_path / "set.npz"), "--board", "uno", "-o", str(tmp_path / "m.dwn")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == "dwn-mcu train: error: --board cannot run under torchrun: the shape search trains each shape in one process"
    assert not (tmp_path / "m.dwn").exists()


def test_torchrun_bad_input_prints_one_line_from_rank_0_and_every_rank_exits_2(tmp_path):
    X, y = _data()
    np.savez(tmp_path / "set.npz", X=X, y=y)
    rc, out, err = _run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
                         "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), "-m", "dwn_mcu", "train",
                         "--data", "set.npz", "--spectral", "-1", "--quiet", "-o", "model.dwn"], tmp_path)
    line = "dwn-mcu train: error: --spectral -1.0: the penalty's weight cannot be negative"
    assert rc != 0 and err.count(line) == 1, err[-2000:]
    assert [ln for ln in err.splitlines() if ln.startswith("dwn-mcu")] == [line]
    # torchrun's summary of the failed workers: rank 0 with the CLI's exit code 2, rank 1 with 2 too, unless
    # it was slower and torchrun stopped it (SIGTERM, -15) once rank 0 had failed
    ranks = dict(re.findall(r"rank\s*: (\d+) \(local_rank: \d+\)\s*exitcode\s*: (-?\d+)", err))
    assert ranks.get("0") == "2" and ranks.get("1") in ("2", "-15"), err[-2000:]
    assert not (tmp_path / "model.dwn").exists() and out == ""


def test_only_rank_0_of_a_torchrun_launch_reports():
    from dwn_mcu import launch

    assert launch.reports({}) and launch.reports({"RANK": "1", "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
    assert launch.reports({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    assert not launch.reports({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert not launch.launched({"RANK": "0", "WORLD_SIZE": "two", "LOCAL_RANK": "0"})
