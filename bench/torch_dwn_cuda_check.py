"""Check `import_torch_dwn` against torch_dwn's own CUDA forward pass (needs a CUDA GPU and nvcc).

torch_dwn 1.1.1's LUT lookup exists only as a CUDA kernel; the CPU tests replace it with a transcription.
This script builds the real kernel (`efd_cuda`) from the sdist with torch's JIT extension loader, trains
models for a few steps with the library's own EFD backward (so the tables are not just random), imports
their saved state dicts, and compares the imported FrozenDWN's scores with the library's outputs on
many inputs. It also times `spectral_penalty` (forward + backward) on CPU and CUDA.

    python bench/torch_dwn_cuda_check.py --sdist PATH/torch_dwn-1.1.1 [--out results.json]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dwn_mcu.torch_dwn_import import import_torch_dwn  # noqa: E402
from dwn_mcu.training.spectral import spectral_penalty  # noqa: E402

DEV = "cuda"


def build_kernel(sdist: Path):
    from torch.utils.cpp_extension import load

    cuda = sdist / "src" / "torch_dwn" / "custom_operators" / "cuda"
    t0 = time.time()
    module = load(name="efd_cuda", sources=[str(cuda / "efd_cuda.cpp"), str(cuda / "efd_cuda_kernel.cu")], verbose=False)
    sys.modules["efd_cuda"] = module
    sys.path.insert(0, str(sdist / "src"))
    import torch_dwn

    return torch_dwn, time.time() - t0


def check_model(dwn, name, F, B, thermo_cls, layers, k, tau, steps, rows, seed):
    torch.manual_seed(seed)
    dev = DEV
    data = torch.randn(4096, F) * 2
    data[:, : F // 2] = torch.round(data[:, : F // 2])  # ties: repeated quantiles
    labels = (data[:, 0] + data[:, 1] > 0).long() % k
    thermometer = thermo_cls(B).fit(data)
    mods, prev = [], F * B
    for width, n, mapping in layers:
        mods.append(dwn.LUTLayer(prev, width, n=n, mapping=mapping))
        prev = width
    model = torch.nn.Sequential(*mods, dwn.GroupSum(k, tau=tau)).to(dev)
    bits = thermometer.binarize(data).flatten(start_dim=1).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(steps):  # the library's own EFD backward (CUDA)
        idx = torch.randint(0, data.shape[0], (256,))
        loss = torch.nn.functional.cross_entropy(model(bits[idx]), labels[idx].to(dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "m.pt"
        torch.save(model.state_dict(), ckpt)
        torch.save(thermometer.thresholds, Path(tmp) / "t.pt")
        t0 = time.time()
        frozen = import_torch_dwn(ckpt, Path(tmp) / "t.pt", num_classes=k)
        import_s = time.time() - t0
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(rows, F)) * 2).astype(np.float32)
    X[: rows // 2, : F // 2] = np.rint(X[: rows // 2, : F // 2])
    t = thermometer.thresholds.numpy()
    for i in range(min(rows // 4, 2000)):  # features exactly at, and one ulp around, thresholds
        f, b = rng.integers(F), rng.integers(B)
        X[i, f] = np.nextafter(np.float32(t[f, b]), np.float32(rng.choice([-np.inf, np.inf]))) if i % 3 else t[f, b]
    X[-1] = np.nan
    X[-2] = np.inf
    X[-3] = -np.inf
    with torch.no_grad():
        out = []
        for chunk in np.array_split(X, max(1, rows // 4096)):
            x_bits = thermometer.binarize(torch.from_numpy(chunk)).flatten(start_dim=1).to(dev)
            out.append(model(x_bits).double().cpu().numpy())
        torch_scores = np.rint(np.concatenate(out) * tau).astype(np.int64)
    scores = frozen.scores(X)
    mismatched_rows = int((scores != torch_scores).any(axis=1).sum())
    return {
        "model": name,
        "layers": [list(map(str, l)) for l in layers],
        "features": F, "bits_per_feature": B, "classes": k, "train_steps": steps, "rows": rows,
        "mismatched_rows": mismatched_rows,
        "prediction_agreement": float((frozen.predict(X) == np.argmax(torch_scores, axis=1)).mean()),
        "distinct_score_rows": int(len(np.unique(scores, axis=0))),
        "merged_duplicate_thresholds": frozen.metadata["merged_duplicate_thresholds"],
        "import_seconds": round(import_s, 3),
    }


def time_spectral(device, L, n, reps=20):
    A = (torch.rand(L, 1 << n, device=device) * 2 - 1).requires_grad_(True)
    for _ in range(3):
        spectral_penalty(A).backward()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        spectral_penalty(A).backward()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", required=True, type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA device"
    dwn, build_s = build_kernel(args.sdist)
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "kernel_build_seconds": round(build_s, 1)}
    res["models"] = [
        check_model(dwn, "small", 8, 6, dwn.DistributiveThermometer,
                    [(64, 4, "learnable"), (48, 3, "random"), (30, 2, "random")], 3, 1.0, 200, 50000, 0),
        check_model(dwn, "uneven groups, tau 1/0.3", 12, 8, dwn.Thermometer,
                    [(200, 6, "random"), (101, 6, "random")], 4, 1 / 0.3, 200, 50000, 1),
        check_model(dwn, "mnist-sized", 784, 3, dwn.DistributiveThermometer,
                    [(2000, 6, "learnable"), (1000, 6, "random")], 10, 1 / 0.3, 100, 20000, 2),
    ]
    A = torch.rand(500, 64, dtype=torch.float64)
    res["spectral_cpu_cuda_rel_diff"] = abs(spectral_penalty(A.cuda()).item() / spectral_penalty(A).item() - 1)
    res["spectral_ms_fwd_bwd"] = {
        f"{dev} L={L} n={n}": round(time_spectral(dev, L, n), 3)
        for dev in ("cuda", "cpu") for L, n in ((2000, 6), (1000, 6), (10000, 6))
    }
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    sys.exit(0 if all(m["mismatched_rows"] == 0 for m in res["models"]) else 1)


if __name__ == "__main__":
    main()
