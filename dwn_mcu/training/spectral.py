r"""Spectral regularization of LUT entries: a penalty on each table's Walsh–Hadamard spectrum that makes
high-order terms (interactions of many inputs) cost more than low-order ones.

For one LUT with `n` inputs and real entries `A[a]`, `a = 0 .. 2**n - 1` (address bit `k` is input slot
`k`), the Walsh–Hadamard (Fourier) coefficient of the input subset `S` (a bit mask of slots) is

    Â(S) = 2**-n · Σ_a A[a] · (-1)**popcount(a & S)

so that `A[a] = Σ_S Â(S) · (-1)**popcount(a & S)` (Parseval: `Σ_S Â(S)² = 2**-n · Σ_a A[a]²`). For `L`
LUTs the penalty is the mean over LUTs of a weighted spectral energy:

    P(A) = (1/L) · Σ_j Σ_S w(|S|) · Â_j(S)²

with `w(d) = d` ("degree", the default) or `w(d) = 2**d - 1` ("exponential"). Both give `w(0) = 0`: the
constant term (the table's mean, which decides the bias of `entry > 0`) is free.

Why `w(d) = d`: it is the total influence of the table, the Dirichlet energy of the hypercube,

    Σ_S |S| · Â(S)² = 2**-n · Σ_a Σ_k ((A[a] - A[a XOR 2**k]) / 2)²,

the mean squared change of an entry when one input bit flips. A table that ignores an input pays nothing
for it, a parity of `d` inputs pays `d` times as much as a single input of the same amplitude, and the
penalty is exactly zero only for constant tables. "exponential" (`2**d - 1`) suppresses high orders much
harder (a parity of all 6 inputs of a 6-LUT costs 63 against 1 for one input).

Where this departs from the paper: the DWN paper's spectral regularization is described (in issue 6;
the paper's own formula was not at hand when this was written) as a norm of each LUT's spectrum. Unweighted, that norm is by Parseval the plain L2 norm of the entries
(`Σ_S Â(S)² = 2**-n ‖A‖²`), i.e. weight decay, blind to which inputs a term involves; the weighting by
order is ours, and so is leaving the constant term free and averaging over LUTs (so that λ does not
scale with the layer's width). Use: `loss = cross_entropy + λ · Σ_layers spectral_penalty(luts_l)`.

Cost: a fast Walsh–Hadamard transform, `O(L · n · 2**n)` additions, in torch (CPU or CUDA, autograd).
"""

from __future__ import annotations

import torch

WEIGHTINGS = ("degree", "exponential")


def walsh_hadamard(entries: torch.Tensor) -> torch.Tensor:
    """Â (..., 2**n) of entries (..., 2**n): `Â[S] = 2**-n Σ_a A[a] (-1)**popcount(a & S)` (natural order)."""
    size = entries.shape[-1]
    n = size.bit_length() - 1
    if size < 1 or size != 1 << n:
        raise ValueError(f"the last dimension ({size}) must be a power of two (2**n LUT entries)")
    lead = entries.shape[:-1]
    x = entries.reshape(-1, size)
    h = 1
    while h < size:
        x = x.reshape(x.shape[0], size // (2 * h), 2, h)
        lo, hi = x[:, :, 0, :], x[:, :, 1, :]
        x = torch.stack((lo + hi, lo - hi), dim=2)  # butterflies on address bit log2(h)
        h *= 2
    return x.reshape(*lead, size) / size


def order_weights(n: int, weighting: str = "degree", *, device=None, dtype=None) -> torch.Tensor:
    """w(|S|) for every subset S of n inputs (2**n,), in the natural order of `walsh_hadamard`."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting {weighting!r} is not one of {WEIGHTINGS}")
    s = torch.arange(1 << n, device=device)
    degree = torch.zeros_like(s)
    for k in range(n):
        degree += (s >> k) & 1
    degree = degree.to(dtype or torch.get_default_dtype())
    return degree if weighting == "degree" else torch.exp2(degree) - 1


def spectral_penalty(entries: torch.Tensor, weighting: str = "degree") -> torch.Tensor:
    """P(A) = (1/L) Σ_j Σ_S w(|S|) Â_j(S)² for LUT entries (L, 2**n): a scalar with a gradient (see the
    module docstring for the formula and the weighting)."""
    if entries.ndim != 2:
        raise ValueError(f"entries must have shape (L, 2**n), got {tuple(entries.shape)}")
    spectrum = walsh_hadamard(entries)
    n = entries.shape[1].bit_length() - 1
    w = order_weights(n, weighting, device=entries.device, dtype=entries.dtype)
    return (spectrum.square() * w).sum(dim=1).mean()
