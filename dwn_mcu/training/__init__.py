"""Training DWNs with PyTorch (CPU or CUDA). The only part of dwn-mcu that imports torch."""

from ..errors import DWNError

try:
    import torch  # noqa: F401
except ImportError as exc:  # the frozen model, the compiler and the verifier work without torch
    raise DWNError(
        "training needs PyTorch, which is not installed: pip install 'dwn-mcu[train]' (or pip install torch)"
    ) from exc
