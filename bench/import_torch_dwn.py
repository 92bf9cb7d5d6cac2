"""Time `import_torch_dwn` on torch_dwn's MNIST example architecture (784 features × 3 distributive
thresholds, LUTLayer 2000 learnable n=6, LUTLayer 1000 n=6, GroupSum 10), built with the real library.

    nice python bench/import_torch_dwn.py [--src ~/.cache/dwn-mcu/torch_dwn-1.1.1/src]

The source tree is the one `tests/test_torch_dwn_import.py` downloads. Times: the Python function (best of
3) and the whole CLI in a fresh process (`python -m dwn_mcu import-torch-dwn`, best of 3).
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dwn_mcu.torch_dwn_import import import_torch_dwn  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, default=Path.home() / ".cache" / "dwn-mcu" / "torch_dwn-1.1.1" / "src")
    args = ap.parse_args()
    sys.path.insert(0, str(args.src))
    import torch_dwn as dwn

    torch.manual_seed(0)
    thermometer = dwn.DistributiveThermometer(3).fit(torch.rand(10000, 784))
    model = torch.nn.Sequential(
        dwn.LUTLayer(784 * 3, 2000, n=6, mapping="learnable"), dwn.LUTLayer(2000, 1000, n=6), dwn.GroupSum(10)
    )
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, thr, out = Path(tmp) / "m.pt", Path(tmp) / "t.pt", Path(tmp) / "m.dwn"
        torch.save(model.state_dict(), ckpt)
        torch.save(thermometer.thresholds, thr)
        api = []
        for _ in range(3):
            t = time.perf_counter()
            import_torch_dwn(ckpt, thr, num_classes=10)
            api.append(time.perf_counter() - t)
        cli = []
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "dwn_mcu", "import-torch-dwn", str(ckpt), "--thermometer", str(thr),
                 "-o", str(out), "--num-classes", "10", "--force"], check=True, env=env, capture_output=True)
            cli.append(time.perf_counter() - t)
        size = out.stat().st_size
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"checkpoint: {ckpt.name} with mapping.weights {tuple(model[0].mapping.weights.shape)}")
    print(f"import_torch_dwn: {min(api):.2f} s (best of 3); CLI in a fresh process: {min(cli):.2f} s; "
          f".dwn file {size} bytes")


if __name__ == "__main__":
    main()
