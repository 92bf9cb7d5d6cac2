"""Without torch: the frozen package imports, loads, predicts and describes models; training says clearly
that it needs torch. Runs a subprocess whose import system refuses `torch`."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK_TORCH = textwrap.dedent(
    """
    import sys

    class BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, BlockTorch())
    """
)


def run_without_torch(code, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(BLOCK_TORCH + textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path)


def test_frozen_package_works_without_torch(tmp_path):
    result = run_without_torch(
        """
        import sys
        import numpy as np
        import dwn_mcu
        from dwn_mcu import load, save
        from dwn_mcu.synthetic import random_model
        from dwn_mcu.thermometer import Thermometer
        from dwn_mcu.cli import main

        model = random_model(seed=1)
        save(model, "m.dwn")
        back = load("m.dwn")
        X = np.random.default_rng(0).normal(size=(50, model.num_features)).astype(np.float32)
        assert np.array_equal(back.predict(X), model.predict(X))
        Thermometer.fit(X, 8).encode(X)
        assert main(["info", "m.dwn"]) == 0
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
        try:
            dwn_mcu.DWNClassifier
        except dwn_mcu.DWNError as exc:
            print("ERROR:", exc)
        code = main(["train", "--dataset", "phoneme", "-o", "x.dwn"])
        print("EXIT:", code)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR: training needs PyTorch" in result.stdout
    assert "EXIT: 2" in result.stdout
    assert "dwn-mcu train: error: training needs PyTorch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.dwn").exists()
