"""Random and learnable mappings: balance, seeding, forward argmax, backward formulas of docs/design.md."""

import numpy as np
import torch

from dwn_mcu.training.mapping import LearnableMapping, RandomMapping, random_mapping


def test_random_mapping_balanced_and_seeded():
    m = random_mapping(37, 50, 6, seed=4)
    assert m.shape == (50, 6) and m.min() >= 0 and m.max() < 37
    counts = np.bincount(m.ravel(), minlength=37)
    assert counts.min() >= 300 // 37 and counts.max() <= -(-300 // 37)
    np.testing.assert_array_equal(m, random_mapping(37, 50, 6, seed=4))
    assert not np.array_equal(m, random_mapping(37, 50, 6, seed=5))


def test_random_mapping_module_gathers():
    mod = RandomMapping(10, 4, 3, seed=0)
    x = torch.arange(20.0).reshape(2, 10)
    out = mod(x)
    idx = mod.indices()
    assert out.shape == (2, 4, 3)
    assert torch.equal(out, x[:, idx])


def test_learnable_forward_is_argmax_and_backward_matches_formulas():
    torch.manual_seed(0)
    P, L, n, B, tau = 9, 4, 3, 5, 0.5
    mod = LearnableMapping(P, L, n, seed=1, tau=tau)
    x = (torch.rand(B, P) > 0.5).float().requires_grad_(True)
    out = mod(x)
    W = mod.weights.detach().t()  # stored transposed: (slots, inputs); W is (inputs, slots)
    assert torch.equal(out.detach(), x.detach()[:, W.argmax(dim=0)].reshape(B, L, n))
    assert torch.equal(mod.indices(), W.argmax(dim=0).reshape(L, n))
    g = torch.randn(B, L, n)
    out.backward(g)
    gf = g.reshape(B, L * n)
    # dW[p, s] = sum_b (2 x[b, p] - 1) g[b, s]
    dW = torch.einsum("bp,bs->ps", 2 * x.detach() - 1, gf)
    # dx[b, p] = sum_s g[b, s] softmax_p(W[:, s] / tau)
    soft = torch.exp(W / tau) / torch.exp(W / tau).sum(dim=0, keepdim=True)
    dx = torch.einsum("bs,ps->bp", gf, soft)
    torch.testing.assert_close(mod.weights.grad.t(), dW)
    torch.testing.assert_close(x.grad, dx)


def test_learnable_mapping_is_seeded():
    a = LearnableMapping(20, 5, 6, seed=3).indices()
    b = LearnableMapping(20, 5, 6, seed=3).indices()
    assert torch.equal(a, b)
