"""How a LUT layer's input slots pick bits of the previous layer: random (fixed) or learnable.

Both produce `(B, L, n)` from the previous bit vector `(B, P)`; `indices()` gives the `(L, n)` mapping a
frozen model stores.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Softmax temperature of the learnable mapping's backward pass (torch_dwn's value).
MAPPING_TAU = 1e-3


def random_mapping(num_inputs: int, num_luts: int, n: int, seed: int) -> np.ndarray:
    """(L, n) int64: successive seeded permutations of the inputs, so every input is used
    `floor` or `ceil` of `L * n / num_inputs` times."""
    rng = np.random.default_rng(seed)
    need = num_luts * n
    reps = -(-need // num_inputs)
    flat = np.concatenate([rng.permutation(num_inputs) for _ in range(reps)])[:need]
    return flat.reshape(num_luts, n).astype(np.int64)


class RandomMapping(nn.Module):
    def __init__(self, num_inputs: int, num_luts: int, n: int, seed: int):
        super().__init__()
        self.num_luts, self.n = num_luts, n
        self.register_buffer("mapping", torch.from_numpy(random_mapping(num_inputs, num_luts, n, seed)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.mapping.reshape(-1)].reshape(x.shape[0], self.num_luts, self.n)

    def indices(self) -> torch.Tensor:
        return self.mapping


class LearnableMappingFunction(torch.autograd.Function):
    """Forward: slot `s` reads input `argmax_p W[p, s]`. Backward (torch_dwn):
    `dW = (2x - 1)^T g` and `dx = g softmax(W / tau)^T`, softmax over the inputs."""

    @staticmethod
    def forward(ctx, x, weights, tau):
        ctx.save_for_backward(x, weights)
        ctx.tau = tau
        return x[:, weights.argmax(dim=0)]

    @staticmethod
    def backward(ctx, grad_out):
        x, weights = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out @ torch.softmax(weights / ctx.tau, dim=0).t()
        if ctx.needs_input_grad[1]:
            grad_w = (2 * x - 1).t() @ grad_out
        return grad_x, grad_w, None


class LearnableMapping(nn.Module):
    """Weights `W` (P inputs, L*n slots), uniform in [0, 1) from the seed; the mapping is their argmax."""

    def __init__(self, num_inputs: int, num_luts: int, n: int, seed: int, tau: float = MAPPING_TAU):
        super().__init__()
        self.num_luts, self.n, self.tau = num_luts, n, tau
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(torch.rand(num_inputs, num_luts * n, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = LearnableMappingFunction.apply(x, self.weights, self.tau)
        return out.reshape(x.shape[0], self.num_luts, self.n)

    def indices(self) -> torch.Tensor:
        return self.weights.argmax(dim=0).reshape(self.num_luts, self.n)
