"""EFD: the fast factorised backward equals the direct sum; the table gradient is the scattered upstream."""

import pytest
import torch

from dwn_mcu.training.efd import (
    addresses,
    efd_input_grad,
    efd_input_grad_direct,
    efd_weights,
    lut_lookup,
    slot_gradient_table,
    smooth_table,
)
from dwn_mcu.training.efd import _factorised_slot_table


def test_addresses_slot0_is_least_significant():
    x = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.3, -2.0, 5.0]]])
    assert addresses(x).tolist() == [[1, 6, 0, 5]]


def test_direct_weights_follow_the_definition():
    # n = 3, slot k = 0, address 0b010: entry 0b111 differs (ignoring bit 0) in bit 2 only: H = 1, sign +.
    w = efd_weights(3)
    alpha = 0.5 * 0.75**2
    assert w[0, 0b010, 0b111].item() == pytest.approx(alpha / 3)
    assert w[0, 0b010, 0b010].item() == pytest.approx(-alpha)
    assert w[2, 0b000, 0b011].item() == pytest.approx(-alpha / 9)


def test_addresses_of_wide_luts_use_every_bit():
    # n > 8 accumulates in 32-bit integers: the top slot of a 16-input LUT is bit 15
    x = torch.zeros(2, 1, 16)
    x[0, 0, 15] = 1.0
    x[1, 0, :] = 1.0
    assert addresses(x).tolist() == [[1 << 15], [(1 << 16) - 1]]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, 11, generator=gen)
    expected = ((x > 0).long() * (2 ** torch.arange(11))).sum(-1)
    assert addresses(x).tolist() == expected.tolist()


@pytest.mark.parametrize("n", range(2, 10))  # 9: the factorised path
def test_fast_equals_direct_sum(n):
    gen = torch.Generator().manual_seed(n)
    L, B = 13, 37
    entries = torch.rand(L, 1 << n, generator=gen) * 2 - 1
    x = (torch.rand(B, L, n, generator=gen) > 0.5).float()
    g = torch.randn(B, L, generator=gen)
    addr = addresses(x)
    fast = efd_input_grad(entries, addr, g)
    direct = efd_input_grad_direct(entries, addr, g)
    assert fast.shape == (B, L, n)
    assert fast.abs().max() > 0.01
    torch.testing.assert_close(fast, direct, rtol=0, atol=2e-6)
    # and both against float64
    ref = efd_input_grad_direct(entries.double(), addr, g.double())
    torch.testing.assert_close(fast.double(), ref, rtol=0, atol=2e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_autograd_uses_fast_and_direct_alike(dtype):
    gen = torch.Generator().manual_seed(0)
    entries = (torch.rand(5, 16, generator=gen, dtype=dtype) * 2 - 1).requires_grad_(True)
    x = (torch.rand(8, 5, 4, generator=gen) > 0.5).to(dtype).requires_grad_(True)
    g = torch.randn(8, 5, generator=gen, dtype=dtype)
    grads = []
    for direct in (False, True):
        out = lut_lookup(x, entries, direct)
        grads.append(torch.autograd.grad(out, (x, entries), g))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_forward_reads_addressed_entry():
    entries = torch.arange(8.0).reshape(2, 4)
    x = torch.tensor([[[1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]])
    assert lut_lookup(x, entries).tolist() == [[1.0, 7.0], [0.0, 6.0]]


def test_table_gradient_gradcheck():
    # In the table, the lookup is linear (a selection), so finite differences see exactly the EFD table
    # gradient: gradcheck holds it in float64.
    gen = torch.Generator().manual_seed(3)
    entries = (torch.rand(6, 32, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    x = (torch.rand(10, 6, 5, generator=gen) > 0.5).double()
    assert torch.autograd.gradcheck(lambda e: lut_lookup(x, e), (entries,))


def test_table_gradient_scatters_upstream_at_addressed_entry():
    entries = torch.zeros(2, 4, requires_grad=True)
    x = torch.tensor([[[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])
    g = torch.tensor([[1.0, 2.0], [10.0, 20.0]])
    lut_lookup(x, entries).backward(g)
    assert entries.grad.tolist() == [[0.0, 11.0, 0.0, 0.0], [20.0, 0.0, 0.0, 2.0]]


@pytest.mark.parametrize("n", [1, 3, 6, 8])
def test_matrix_and_factorised_slot_tables_agree(n):
    # n <= 8 takes the product with W; wider LUTs the factorised smoothing; both must be the same table
    gen = torch.Generator().manual_seed(10 + n)
    entries = torch.rand(7, 1 << n, generator=gen, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(slot_gradient_table(entries), _factorised_slot_table(entries), rtol=0, atol=1e-12)


def test_smooth_table_is_the_kronecker_product():
    k = torch.tensor([[0.75, 0.25], [0.25, 0.75]], dtype=torch.float64)
    kron = k
    for _ in range(3):
        kron = torch.kron(kron, k)
    entries = torch.rand(3, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(smooth_table(entries), entries @ kron, rtol=0, atol=1e-12)
