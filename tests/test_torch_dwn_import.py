"""torch_dwn models, built with the real library (1.1.1, fetched as source), imported and checked against
the library's own forward pass on many inputs, including NaN, infinities and every threshold +- 1 ulp.

torch_dwn's LUT lookup is a CUDA kernel with no CPU path; everything else (thermometers, learnable mapping,
straight-through step, GroupSum) runs on CPU. The test replaces only that kernel with a line-by-line
transcription (`_KernelOnCpu`), so the reference is the library's code, not the importer's.
"""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dwn_mcu.cli import main  # noqa: E402
from dwn_mcu.errors import CheckpointError  # noqa: E402
from dwn_mcu.model_file import load  # noqa: E402
from dwn_mcu.torch_dwn_import import import_torch_dwn  # noqa: E402

VERSION = "1.1.1"
CACHE = Path(os.environ.get("DWN_MCU_CACHE", Path.home() / ".cache" / "dwn-mcu"))


def _fetch_sdist() -> Path:
    """The torch_dwn source tree, downloaded once into the cache with pip (no install: it needs CUDA)."""
    src = CACHE / f"torch_dwn-{VERSION}" / "src"
    if (src / "torch_dwn" / "lut_layer.py").is_file():
        return src
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"torch_dwn-{VERSION}.tar.gz"
    if not tarball.is_file():
        # pip prepares the sdist's metadata in an isolated build environment (it installs torch there):
        # slow the first time, cached afterwards.
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), f"torch-dwn=={VERSION}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode or not tarball.is_file():
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            message = f"could not download torch-dwn {VERSION} with pip: {reason}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
    with tarfile.open(tarball) as tf:
        tf.extractall(CACHE, filter="data")
    return src


@pytest.fixture(scope="module")
def dwn():
    src = _fetch_sdist()
    sys.path.insert(0, str(src))
    try:
        import torch_dwn
    finally:
        sys.path.remove(str(src))
    assert Path(torch_dwn.__file__).resolve().is_relative_to(src.resolve())
    return torch_dwn


class _KernelOnCpu:
    """`efd_cuda_forward_kernel` of torch_dwn 1.1.1, transcribed: for sample i and LUT j,
    `addr = input[i][mapping[j][0]] > 0; addr |= (input[i][mapping[j][l]] > 0) << l; out = luts[j][addr]`."""

    @staticmethod
    def apply(x, mapping, luts, alpha, beta):
        n = mapping.shape[1]
        bits = (x[:, mapping.long()] > 0).long()  # (N, L, n)
        addr = (bits << torch.arange(n)).sum(dim=2)
        return luts[torch.arange(luts.shape[0])[None, :], addr]


@pytest.fixture
def forward(dwn, monkeypatch):
    """The library's own model(x), with only the CUDA lookup swapped for its CPU transcription."""
    monkeypatch.setattr(dwn.lut_layer, "EFDFunction", _KernelOnCpu)

    def run(model, thermometer, X):
        model.eval()
        with torch.no_grad():
            bits = thermometer.binarize(torch.from_numpy(X)).flatten(start_dim=1)
            return model(bits).double().numpy()

    return run


def probe_inputs(thresholds: np.ndarray, num_features: int, rows: int, seed: int, scale=3.0) -> np.ndarray:
    """Random rows plus rows putting one feature at a threshold, one float32 ulp either side, and specials."""
    rng = np.random.default_rng(seed)
    t = np.broadcast_to(np.asarray(thresholds, dtype=np.float64).reshape(-1, thresholds.shape[-1]), (num_features, thresholds.shape[-1]))
    X = [rng.normal(scale=scale, size=(rows, num_features)).astype(np.float32)]
    for f in range(num_features):
        for v in t[f]:
            v32 = np.float32(v)
            for w in (v32, np.nextafter(v32, np.float32(-np.inf)), np.nextafter(v32, np.float32(np.inf))):
                row = rng.normal(scale=scale, size=num_features).astype(np.float32)
                row[f] = w
                X.append(row[None])
    for s in (np.nan, np.inf, -np.inf, 0.0, -0.0, np.finfo(np.float32).max):
        X.append(np.full((1, num_features), s, dtype=np.float32))
    return np.concatenate(X)


def check_same(frozen, model, thermometer, X, forward, tau):
    torch_out = forward(model, thermometer, X)  # popcounts / tau
    scores = frozen.scores(X)
    np.testing.assert_array_equal(scores, np.rint(torch_out * tau).astype(np.int64))
    np.testing.assert_array_equal(frozen.predict(X), torch_out.argmax(axis=1))
    return scores


def save_state(tmp_path, model, name="model.pt"):
    path = tmp_path / name
    torch.save(model.state_dict(), path)
    return path


def test_learnable_and_random_layers_distributive_thermometer(dwn, forward, tmp_path):
    torch.manual_seed(0)
    F, B = 6, 4
    # Integer data: the distributive thermometer's quantiles repeat, which the importer must merge.
    data = torch.randint(0, 5, (500, F)).float()
    thermometer = dwn.DistributiveThermometer(B).fit(data)
    assert thermometer.thresholds.shape == (F, B) and thermometer.thresholds.dtype == torch.float32
    assert any(len(set(row.tolist())) < B for row in thermometer.thresholds)
    model = torch.nn.Sequential(
        dwn.LUTLayer(F * B, 30, n=3, mapping="learnable"),
        dwn.LUTLayer(30, 20, n=4, mapping="random"),
        dwn.LUTLayer(20, 12, n=2, mapping="arange"),
        dwn.GroupSum(3, tau=1),
    )
    with torch.no_grad():
        luts = model[1].luts
        luts.view(-1)[::7] = 0.0  # entry > 0 is the bit: 0 and -0 are 0
        luts.view(-1)[3::11] = -0.0
        w = model[0].mapping.weights  # ties in the argmax go to the first input
        w[:, 5] = 0.5
        w[[2, 9], 5] = 2.0
    thr = tmp_path / "thr.pt"
    torch.save(thermometer.thresholds, thr)
    frozen = import_torch_dwn(save_state(tmp_path, model), thr, num_classes=3)

    assert frozen.metadata["merged_duplicate_thresholds"] > 0
    X = probe_inputs(thermometer.thresholds.numpy(), F, 400, seed=1)
    X[:300] = np.rint(X[:300])  # integer rows sit on the thresholds
    scores = check_same(frozen, model, thermometer, X, forward, tau=1)
    assert len(np.unique(scores, axis=0)) > 10  # the comparison is not between constant outputs


def test_float64_thresholds_uneven_groups_and_tau(dwn, forward, tmp_path):
    torch.manual_seed(1)
    F, B = 4, 5
    data = torch.randn(300, F, dtype=torch.float64) * 1.7 + 0.1
    thermometer = dwn.Thermometer(B).fit(data)
    assert thermometer.thresholds.dtype == torch.float64  # the comparison runs in float64
    model = torch.nn.Sequential(
        dwn.LUTLayer(F * B, 16, n=5, mapping="random"),
        dwn.LUTLayer(16, 10, n=2, mapping="random"),  # 10 LUTs, 3 classes: GroupSum pads two zero bits
        dwn.GroupSum(3, tau=1 / 0.3),
    )
    np.save(tmp_path / "thr.npy", thermometer.thresholds.numpy())
    frozen = import_torch_dwn(save_state(tmp_path, model), tmp_path / "thr.npy", num_classes=3)
    assert frozen.metadata["group_padding_luts"] == 2 and frozen.group_size == 4
    assert not np.array_equal(thermometer.thresholds.numpy().astype(np.float32).reshape(-1), frozen.thresholds)
    X = probe_inputs(thermometer.thresholds.numpy(), F, 400, seed=2)
    check_same(frozen, model, thermometer, X, forward, tau=1 / 0.3)


@pytest.mark.parametrize("kind", ["gaussian_shared", "distributive_shared_learnable", "multidim"])
def test_thermometer_layouts(dwn, forward, tmp_path, kind):
    torch.manual_seed(2)
    B = 3
    shape = (2, 3) if kind == "multidim" else (5,)
    F = int(np.prod(shape))
    data = torch.randn(200, *shape) * 2
    if kind == "gaussian_shared":
        thermometer = dwn.GaussianThermometer(B, feature_wise=False).fit(data)
        first = dwn.LUTLayer(F * B, 20, n=4, mapping="random")
    elif kind == "distributive_shared_learnable":
        thermometer = dwn.DistributiveThermometer(B, feature_wise=False).fit(data)
        first = dwn.LUTLayer(F * B, 20, n=4, mapping="learnable")
    else:
        thermometer = dwn.DistributiveThermometer(B).fit(data)
        first = dwn.LUTLayer(F * B, 20, n=4, mapping="random")
    model = torch.nn.Sequential(first, dwn.LUTLayer(20, 8, n=3), dwn.GroupSum(2))
    path = save_state(tmp_path, model)
    if kind == "gaussian_shared":
        with pytest.raises(CheckpointError, match="num-features"):
            import_torch_dwn(path, thermometer.thresholds, num_classes=2)
    frozen = import_torch_dwn(
        path, thermometer.thresholds, num_classes=2, num_features=F if kind == "gaussian_shared" else None
    )
    assert frozen.num_features == F
    X2 = probe_inputs(thermometer.thresholds.numpy(), F, 300, seed=3)
    X = X2.reshape(-1, *shape)
    torch_out = forward(model, thermometer, X)
    np.testing.assert_array_equal(frozen.scores(X2), np.rint(torch_out).astype(np.int64))


def test_group_permutation_and_dict_checkpoint(dwn, forward, tmp_path):
    torch.manual_seed(3)
    F, B = 3, 4
    thermometer = dwn.DistributiveThermometer(B).fit(torch.randn(100, F))
    perm = torch.randperm(12)
    model = torch.nn.Sequential(dwn.LUTLayer(F * B, 12, n=3), dwn.GroupSum(4))
    model[1].randperm = perm
    path = tmp_path / "bundle.pt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "thresholds": thermometer.thresholds,
            "num_classes": 4,
            "class_names": ["a", "b", "c", "d"],
            "group_permutation": perm,
        },
        path,
    )
    frozen = import_torch_dwn(path)
    assert frozen.class_names == ("a", "b", "c", "d")
    X = probe_inputs(thermometer.thresholds.numpy(), F, 200, seed=4)
    check_same(frozen, model, thermometer, X, forward, tau=1)


def test_cli_writes_a_dwn_that_matches(dwn, forward, tmp_path, capsys):
    torch.manual_seed(4)
    F, B = 4, 3
    thermometer = dwn.DistributiveThermometer(B).fit(torch.randn(100, F))
    model = torch.nn.Sequential(dwn.LUTLayer(F * B, 18, n=4, mapping="learnable"), dwn.GroupSum(3))
    ckpt = save_state(tmp_path, model)
    torch.save({"thresholds": thermometer.thresholds}, tmp_path / "thr.pt")
    out = tmp_path / "m.dwn"
    args = [
        "import-torch-dwn", str(ckpt), "--thermometer", str(tmp_path / "thr.pt"), "-o", str(out),
        "--class-names", "x,y,z", "--feature-names", "a,b,c,d",
    ]
    assert main(args) == 0
    frozen = load(out)
    assert frozen.class_names == ("x", "y", "z") and frozen.feature_names == ("a", "b", "c", "d")
    X = probe_inputs(thermometer.thresholds.numpy(), F, 200, seed=5)
    check_same(frozen, model, thermometer, X, forward, tau=1)
    first = out.read_bytes()
    assert main(args) == 2 and "exists" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0 and out.read_bytes() == first  # deterministic
    nested = tmp_path / "new" / "sub" / "m.dwn"  # missing parent folders are created, as for every output
    assert main([str(nested) if a == str(out) else a for a in args]) == 0 and nested.read_bytes() == first


def _bad_cases(dwn, tmp_path):
    torch.manual_seed(5)
    F, B = 3, 2
    thr = tmp_path / "thr.npy"
    np.save(thr, np.sort(np.random.default_rng(0).normal(size=(F, B)), axis=1).astype(np.float32))
    good = torch.nn.Sequential(dwn.LUTLayer(F * B, 4, n=2), dwn.GroupSum(2))
    sd = good.state_dict()
    learn = torch.nn.Sequential(dwn.LUTLayer(F * B + 1, 4, n=2, mapping="learnable"), dwn.GroupSum(2))
    cases = {
        "no LUT layer": {"0.weight": torch.zeros(3, 3)},
        "unexpected key '0.bias'": {**sd, "0.bias": torch.zeros(2)},
        "refused by torch.load": good,  # the module object itself: a pickle of classes
        "mapping has shape": {"0.mapping": torch.zeros(4, 3, dtype=torch.int32), "0.luts": sd["0.luts"]},
        "outside the 6 bits": {"0.mapping": torch.full((4, 2), 6, dtype=torch.int32), "0.luts": sd["0.luts"]},
        "luts of shape": {"0.mapping": sd["0.mapping"], "0.luts": torch.zeros(4, 3)},
        "mapping.weights has shape": learn.state_dict(),
        "integer tensor": {"0.mapping": sd["0.mapping"].float(), "0.luts": sd["0.luts"]},
    }
    paths = {}
    for i, (message, obj) in enumerate(cases.items()):
        paths[message] = tmp_path / f"bad{i}.pt"
        torch.save(obj, paths[message])
    paths["not a readable torch file"] = tmp_path / "garbage.pt"
    paths["not a readable torch file"].write_bytes(b"PK\x03\x04 this is not a checkpoint")
    return thr, paths


def test_bad_checkpoints_are_one_line_errors(dwn, tmp_path, capsys):
    thr, paths = _bad_cases(dwn, tmp_path)
    for message, path in paths.items():
        out = tmp_path / "out.dwn"
        rc = main(["import-torch-dwn", str(path), "--thermometer", str(thr), "-o", str(out), "--num-classes", "2"])
        err = capsys.readouterr().err
        assert rc == 2, message
        assert err.startswith("dwn-mcu import-torch-dwn: error:") and err.count("\n") == 1, err
        assert message in err, (message, err)
        assert not out.exists()


def test_missing_classes_and_thresholds(dwn, tmp_path, capsys):
    thr, _ = _bad_cases(dwn, tmp_path)
    model = torch.nn.Sequential(dwn.LUTLayer(6, 4, n=2), dwn.GroupSum(2))
    ckpt = save_state(tmp_path, model)
    with pytest.raises(CheckpointError, match="num-classes"):
        import_torch_dwn(ckpt, thr)
    with pytest.raises(CheckpointError, match="thresholds"):
        import_torch_dwn(ckpt, num_classes=2)
    bad = np.load(thr)
    bad[1, 0] = np.inf
    with pytest.raises(CheckpointError, match="feature 1"):
        import_torch_dwn(ckpt, bad, num_classes=2)
    with pytest.raises(CheckpointError, match="feature_names: 1 names for 3 features"):
        import_torch_dwn(ckpt, thr, num_classes=2, feature_names=["a"])
    with pytest.raises(CheckpointError, match="3 class names for 2 classes"):
        import_torch_dwn(ckpt, thr, num_classes=2, class_names=["a", "b", "c"])


@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_generated_c_agrees_with_torch_dwn(dwn, forward, tmp_path, layout):
    """torch_dwn's forward pass and the C the compiler generates from the imported model, compared
    directly: merged thresholds, a learnable mapping, and input-less padding LUTs (10 LUTs, 3 classes)."""
    from dwn_mcu.compiler import compile_host
    from dwn_mcu.compiler.host import host_compiler

    if host_compiler() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no host C compiler (gcc) in CI")
        pytest.skip("no host C compiler (gcc)")
    torch.manual_seed(6)
    F, B = 5, 4
    thermometer = dwn.DistributiveThermometer(B).fit(torch.randint(0, 5, (500, F)).float())
    model = torch.nn.Sequential(
        dwn.LUTLayer(F * B, 30, n=4, mapping="learnable"), dwn.LUTLayer(30, 10, n=3), dwn.GroupSum(3)
    )
    frozen = import_torch_dwn(save_state(tmp_path, model), thermometer.thresholds, num_classes=3)
    assert frozen.metadata["merged_duplicate_thresholds"] > 0 and frozen.metadata["group_padding_luts"] == 2
    X = probe_inputs(thermometer.thresholds.numpy(), F, 100, seed=7)
    X[:50] = np.rint(X[:50])
    with compile_host(frozen, board="nano", layout=layout) as c:
        classes, scores = c.run(X)
    torch_out = forward(model, thermometer, X)
    np.testing.assert_array_equal(scores, np.rint(torch_out).astype(np.int64))
    np.testing.assert_array_equal(classes, torch_out.argmax(axis=1))
