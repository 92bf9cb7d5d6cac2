"""The LUT lookup with Extended Finite Difference (EFD) gradients, in plain PyTorch (CPU and CUDA).

Forward: LUT `l` reads the entry of its table `A[l]` at the address `a = sum_k [x[b, l, k] > 0] << k`.

Backward (torch_dwn's EFD with exponential decay, docs/design.md):

* table: the upstream gradient lands on the addressed entry (summed over the batch);
* input slot `k`: `sum_{a'} A[a'] * alpha * beta**H_k(a, a') * (+1 if bit k of a' else -1)`, with
  `H_k` the Hamming distance ignoring bit `k`, `alpha = 0.5 * 0.75**(n - 1)`, `beta = 1/3`.

The fast form splits the input gradient into a per-table part and a per-sample part. The per-table part is
the *slot-gradient table* `G[l, a, k]`, every slot's gradient for every address of LUT `l` (before the
upstream factor): `O(L n 2^n)` values. The per-sample part is one weighted gather of a row of `n` values
per sample and LUT, `O(B L n)`, where the direct sum costs `O(B L n 2^n)`.

`G` comes from one matrix product `A @ W` with the `2^n x n 2^n` matrix of the weights above for `n <= 8`
(the matrix is 2 MB at `n = 8`; a BLAS product of it is faster than any sequence of small tensor ops),
and above that from the factorisation `alpha * beta**H = 0.5 * prod_{j != k} K[a_j, a'_j]` with
`K = [[3/4, 1/4], [1/4, 3/4]]`: smoothing the table with `K` along *every* bit (`S = (K x ... x K) A`)
and then differencing along bit `k` gives `S[a | 1<<k] - S[a & ~(1<<k)] = 0.5 * (K x..x K) D_k` read at
the other bits of `a`, since `K` along bit `k` followed by the difference halves it, `O(L n 2^n)`.
`efd_input_grad_direct` keeps the direct sum as the test oracle.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

BETA = 1.0 / 3.0
# Up to this many LUT inputs the slot-gradient table is one product with `W`: measured with 2000 LUTs on one
# thread, the product takes 0.6 ms against the factorised form's 2.8 ms at n = 6, 13.5 against 18.6 ms at
# n = 8, and loses from n = 9 (63 against 49 ms), its work growing as 4**n where the factorised form's grows
# as 2**n.
MATRIX_MAX_INPUTS = 8


def addresses(x: torch.Tensor) -> torch.Tensor:
    """Addresses (B, L) int32 from inputs (B, L, n): bit k is `x[..., k] > 0`, slot 0 least significant.
    The comparison writes one contiguous bit plane per slot, so that each shift-and-add runs over
    contiguous bytes (n <= 8) or 32-bit integers."""
    n = x.shape[-1]
    planes = torch.empty((n,) + tuple(x.shape[:-1]), dtype=torch.bool, device=x.device)
    torch.gt(x.movedim(-1, 0), 0, out=planes)
    planes = planes.view(torch.uint8) if n <= 8 else planes.to(torch.int32)
    addr = planes[0].clone()
    for k in range(1, n):
        addr.add_(planes[k] << k)
    return addr.to(torch.int32)


def flat_rows(addr: torch.Tensor, size: int) -> torch.Tensor:
    """Rows (B * L,) of the flattened tables (L * size): LUT `l`'s address `a` is row `l * size + a`;
    int32 (half the memory traffic of int64 for the gathers and the scatter) while the rows fit."""
    L = addr.shape[-1]
    dtype = torch.int32 if L * size < 2**31 else torch.int64
    offsets = torch.arange(0, L * size, size, dtype=dtype, device=addr.device)
    return (addr + offsets).reshape(-1)


def smooth_table(entries: torch.Tensor) -> torch.Tensor:
    """`(K x ... x K) A` for tables (L, 2**n): along each bit, `3/4 * own + 1/4 * flipped`."""
    L, size = entries.shape
    n = size.bit_length() - 1
    s = entries
    for k in range(n):
        v = s.reshape(L * (size >> (k + 1)), 2, 1 << k)
        out = torch.empty_like(v)
        torch.add(v[:, 0] * 0.75, v[:, 1], alpha=0.25, out=out[:, 0])
        torch.add(v[:, 1] * 0.75, v[:, 0], alpha=0.25, out=out[:, 1])
        s = out
    return s.reshape(L, size)


def _factorised_slot_table(entries: torch.Tensor) -> torch.Tensor:
    """`G` (L * 2**n, n) from the smoothed tables, differenced along each bit."""
    L, size = entries.shape
    n = size.bit_length() - 1
    s = smooth_table(entries)
    table = torch.empty(L, size, n, dtype=entries.dtype, device=entries.device)
    for k in range(n):
        v = s.view(L, size >> (k + 1), 2, 1 << k)
        d = v[:, :, 1] - v[:, :, 0]
        t = table.view(L, size >> (k + 1), 2, 1 << k, n)
        t[:, :, 0, :, k] = d
        t[:, :, 1, :, k] = d
    return table.view(L * size, n)


@functools.lru_cache(maxsize=32)
def _slot_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """`W` (2**n, 2**n * n) with `W[a', a * n + k] = efd_weights(n)[k, a, a']`; cached, never modified."""
    w = efd_weights(n, dtype=torch.float64, device=device)
    return w.permute(2, 1, 0).reshape(1 << n, (1 << n) * n).to(dtype).contiguous()


def slot_gradient_table(entries: torch.Tensor) -> torch.Tensor:
    """`G[l * 2**n + a, k]`: slot `k`'s EFD gradient at address `a` of LUT `l`, per unit upstream."""
    L, size = entries.shape
    n = size.bit_length() - 1
    if n > MATRIX_MAX_INPUTS:
        return _factorised_slot_table(entries)
    return (entries @ _slot_matrix(n, entries.dtype, entries.device)).view(L * size, n)


def efd_input_grad(entries: torch.Tensor, addr: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """Fast EFD gradient for the inputs (B, L, n), from tables (L, 2**n), addresses (B, L) and the
    upstream gradient (B, L)."""
    return _gather_scaled(slot_gradient_table(entries), flat_rows(addr, entries.shape[1]), grad_out)


def _gather_scaled(table: torch.Tensor, rows: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """`table[rows] * grad_out`, (B, L, n), in one pass: a weighted embedding bag of one row each."""
    picked = F.embedding_bag(rows.view(-1, 1), table, per_sample_weights=grad_out.reshape(-1, 1), mode="sum")
    return picked.view(*grad_out.shape, table.shape[1])


def efd_weights(n: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """W[k, a, a'] = alpha * beta**H_k(a, a') * (+1 if bit k of a' is set else -1), (n, 2**n, 2**n)."""
    size = 1 << n
    a = torch.arange(size, device=device)
    diff = a[:, None] ^ a[None, :]
    alpha = 0.5 * 0.75 ** (n - 1)
    out = []
    for k in range(n):
        others = diff & ~(1 << k)
        hamming = torch.zeros_like(others)
        for j in range(n):
            hamming += (others >> j) & 1
        sign = ((a[None, :] >> k) & 1) * 2 - 1
        out.append(alpha * BETA ** hamming.to(dtype) * sign.to(dtype))
    return torch.stack(out)


def efd_input_grad_direct(entries: torch.Tensor, addr: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """The direct sum of docs/design.md, per sample and slot: the test oracle, `O(B L n 2^n)`."""
    L, size = entries.shape
    n = size.bit_length() - 1
    w = efd_weights(n, dtype=entries.dtype, device=entries.device)  # (n, 2^n, 2^n)
    grads = []
    for k in range(n):
        rows = w[k].index_select(0, addr.reshape(-1)).view(*addr.shape, size)  # (B, L, 2^n) weights
        grads.append((rows * entries[None, :, :]).sum(dim=-1))
    return torch.stack(grads, dim=-1) * grad_out[..., None]


class LutFunction(torch.autograd.Function):
    """`entries[l, address(x[b, l])]` with EFD gradients; `direct=True` uses the direct sum. Forward
    saves the flat table rows, which the table gradient's scatter and the input gradient's gather share."""

    @staticmethod
    def forward(ctx, x, entries, direct=False):
        addr = addresses(x)
        rows = flat_rows(addr, entries.shape[1])
        ctx.save_for_backward(entries, addr, rows)
        ctx.direct = direct
        return entries.reshape(-1).index_select(0, rows).view(addr.shape)

    @staticmethod
    def backward(ctx, grad_out):
        entries, addr, rows = ctx.saved_tensors
        grad_x = grad_entries = None
        if ctx.needs_input_grad[0]:
            if ctx.direct:
                grad_x = efd_input_grad_direct(entries, addr, grad_out)
            else:
                grad_x = _gather_scaled(slot_gradient_table(entries), rows, grad_out)
        if ctx.needs_input_grad[1]:
            grad_entries = torch.zeros(entries.numel(), dtype=grad_out.dtype, device=grad_out.device)
            grad_entries = grad_entries.index_add_(0, rows, grad_out.reshape(-1)).view(entries.shape)
        return grad_x, grad_entries, None


def lut_lookup(x: torch.Tensor, entries: torch.Tensor, direct: bool = False) -> torch.Tensor:
    """Look up tables `entries` (L, 2**n) at the addresses of `x` (B, L, n); output (B, L)."""
    return LutFunction.apply(x, entries, direct)
