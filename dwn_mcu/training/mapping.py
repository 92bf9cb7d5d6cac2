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
        return x.index_select(1, self.mapping.reshape(-1)).reshape(x.shape[0], self.num_luts, self.n)

    def indices(self) -> torch.Tensor:
        return self.mapping


def block_random_mapping(num_inputs: int, num_luts: int, n: int, seed: int, num_classes: int) -> np.ndarray:
    """(L, n) int64 for a learnable reduction: class `c`'s `L / C` LUTs read only class `c`'s block of
    `num_inputs / C` inputs (`random_mapping` inside each block, seeded `seed + c`)."""
    per_in, per_out = num_inputs // num_classes, num_luts // num_classes
    return np.concatenate(
        [c * per_in + random_mapping(per_in, per_out, n, seed + c) for c in range(num_classes)]
    ).astype(np.int64)


class BlockRandomMapping(RandomMapping):
    """A fixed per-class block-diagonal mapping (`block_random_mapping`)."""

    def __init__(self, num_inputs: int, num_luts: int, n: int, seed: int, num_classes: int):
        nn.Module.__init__(self)
        self.num_luts, self.n = num_luts, n
        mapping = block_random_mapping(num_inputs, num_luts, n, seed, num_classes)
        self.register_buffer("mapping", torch.from_numpy(mapping))


class LearnableMappingFunction(torch.autograd.Function):
    """Forward: slot `s` reads input `argmax_p W[p, s]`. Backward (torch_dwn):
    `dW = (2x - 1)^T g` and `dx = g softmax(W / tau)^T`, softmax over the inputs.

    `weights` is stored transposed, `Wt = W^T` of shape (slots, inputs), so that the argmax and the
    softmax over the inputs run along contiguous rows (on MNIST, 12000 x 2352: the strided argmax alone
    cost more than the rest of the step on CPU)."""

    @staticmethod
    def forward(ctx, x, weights_t, tau):
        ctx.save_for_backward(x, weights_t)
        ctx.tau = tau
        return x.index_select(1, weights_t.argmax(dim=1))

    @staticmethod
    def backward(ctx, grad_out):
        x, weights_t = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out @ torch.softmax(weights_t / ctx.tau, dim=1)
        if ctx.needs_input_grad[1]:
            grad_w = grad_out.t() @ (2 * x - 1)
        return grad_x, grad_w, None


class LearnableMapping(nn.Module):
    """Weights `W` (P inputs, L*n slots), uniform in [0, 1) from the seed, stored transposed as
    `weights` (L*n, P); the mapping is their argmax over the inputs."""

    def __init__(self, num_inputs: int, num_luts: int, n: int, seed: int, tau: float = MAPPING_TAU):
        super().__init__()
        self.num_luts, self.n, self.tau = num_luts, n, tau
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(torch.rand(num_luts * n, num_inputs, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = LearnableMappingFunction.apply(x, self.weights, self.tau)
        return out.reshape(x.shape[0], self.num_luts, self.n)

    def indices(self) -> torch.Tensor:
        return self.weights.argmax(dim=1).reshape(self.num_luts, self.n)
