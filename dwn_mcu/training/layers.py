"""Torch modules of a DWN: a LUT layer (mapping + tables + straight-through bit) and GroupSum."""

from __future__ import annotations

import torch
from torch import nn

from .efd import lut_lookup
from .mapping import BlockRandomMapping, LearnableMapping, RandomMapping


class StraightThrough(torch.autograd.Function):
    """Forward `v > 0` as 0.0/1.0; backward the identity."""

    @staticmethod
    def forward(ctx, v):
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class TrainableLutLayer(nn.Module):
    """`num_luts` LUTs of `n` inputs each over a `num_inputs`-bit vector. Table entries are real numbers
    in [-1, 1] (call `clamp_()` after each optimiser step); the stored bit is `entry > 0`."""

    def __init__(self, num_inputs: int, num_luts: int, n: int, mapping: str, seed: int, num_classes: int = 0):
        super().__init__()
        if mapping == "block":  # a learnable reduction's layer: per-class blocks of `num_classes`
            self.mapping = BlockRandomMapping(num_inputs, num_luts, n, seed, num_classes)
        elif mapping == "learnable":
            self.mapping = LearnableMapping(num_inputs, num_luts, n, seed)
        elif mapping == "random":
            self.mapping = RandomMapping(num_inputs, num_luts, n, seed)
        else:
            raise ValueError(f"unknown mapping {mapping!r}; choose 'learnable' or 'random'")
        gen = torch.Generator().manual_seed(seed + 1)
        self.entries = nn.Parameter(torch.rand(num_luts, 1 << n, generator=gen) * 2 - 1)
        self.num_inputs, self.num_luts, self.n = num_inputs, num_luts, n

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        """Bits (B, num_inputs) in {0, 1} to bits (B, num_luts) in {0, 1}."""
        return StraightThrough.apply(lut_lookup(self.mapping(bits), self.entries))

    @torch.no_grad()
    def clamp_(self) -> None:
        self.entries.clamp_(-1.0, 1.0)

    def table_bits(self) -> torch.Tensor:
        return self.entries > 0


class GroupSum(nn.Module):
    """Scores (B, C): the sum of each of `C` contiguous equal groups of bits, divided by `tau`."""

    def __init__(self, num_classes: int, tau: float):
        super().__init__()
        self.num_classes, self.tau = num_classes, float(tau)

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        # the group size spelled out, not -1: a data-parallel rank's share of a batch may have no rows
        return bits.reshape(bits.shape[0], self.num_classes, bits.shape[1] // self.num_classes).sum(dim=2) / self.tau


class BinaryScore(nn.Module):
    """Scores (B, C) of a learnable reduction: class `c`'s `K` bits read LSB-first, `sum_k 2^k b[c*K + k]`,
    divided by `tau` (docs/learnable-reduction.md)."""

    def __init__(self, num_classes: int, tau: float):
        super().__init__()
        self.num_classes, self.tau = num_classes, float(tau)

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        b = bits.reshape(bits.shape[0], self.num_classes, bits.shape[1] // self.num_classes)
        weights = 2.0 ** torch.arange(b.shape[2], device=bits.device, dtype=bits.dtype)
        return (b * weights).sum(dim=2) / self.tau


class DWN(nn.Module):
    """Thermometer bits (B, total_bits) through the LUT layers to GroupSum scores (B, C), or, with a
    `reduction` (per-class LUT counts L_1..L_R), through per-class reduction layers to binary scores."""

    def __init__(self, num_input_bits: int, luts, n: int, num_classes: int, tau: float, mapping: str, seed: int,
                 reduction=()):
        super().__init__()
        layers, prev = [], num_input_bits
        for i, count in enumerate(luts):
            layers.append(TrainableLutLayer(prev, count, n, mapping if i == 0 else "random", seed + 1000 * i))
            prev = count
        for r, per_class in enumerate(reduction):
            # a LUT never needs more inputs than its class's block has bits
            k = min(n, prev // num_classes)
            block_seed = seed + 1000 * (len(luts) + r)
            layers.append(TrainableLutLayer(prev, num_classes * per_class, k, "block", block_seed, num_classes))
            prev = num_classes * per_class
        self.layers = nn.ModuleList(layers)
        self.group_sum = BinaryScore(num_classes, tau) if reduction else GroupSum(num_classes, tau)

    def output_bits(self, bits: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            bits = layer(bits)
        return bits

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        return self.group_sum(self.output_bits(bits))

    def clamp_(self) -> None:
        for layer in self.layers:
            layer.clamp_()
