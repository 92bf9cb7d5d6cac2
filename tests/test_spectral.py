import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dwn_mcu.training.spectral import order_weights, spectral_penalty, walsh_hadamard  # noqa: E402


def direct_spectrum(A: np.ndarray) -> np.ndarray:
    """O(4**n) Walsh–Hadamard: Â[S] = 2**-n Σ_a A[a] (-1)**popcount(a & S), from the definition."""
    size = A.shape[1]
    a = np.arange(size)
    parity = np.array([[bin(s & x).count("1") & 1 for x in a] for s in a])
    H = 1.0 - 2.0 * parity
    return A @ H.T / size


def direct_penalty(A: np.ndarray, weighting: str) -> float:
    n = A.shape[1].bit_length() - 1
    degree = np.array([bin(s).count("1") for s in range(1 << n)], dtype=np.float64)
    w = degree if weighting == "degree" else 2.0**degree - 1
    return float(np.mean((direct_spectrum(A) ** 2 * w).sum(axis=1)))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("weighting", ["degree", "exponential"])
def test_value_matches_the_definition(n, weighting):
    rng = np.random.default_rng(n)
    A = rng.uniform(-1, 1, size=(7, 1 << n))
    np.testing.assert_allclose(walsh_hadamard(torch.from_numpy(A)).numpy(), direct_spectrum(A), atol=1e-12)
    got = spectral_penalty(torch.from_numpy(A), weighting).item()
    assert got == pytest.approx(direct_penalty(A, weighting), rel=1e-12)


def test_degree_weight_is_total_influence():
    # Σ_S |S| Â(S)² = 2**-n Σ_a Σ_k ((A[a] - A[a ^ 2**k]) / 2)²: the mean squared change under one bit flip.
    rng = np.random.default_rng(0)
    n = 4
    A = rng.normal(size=(5, 1 << n))
    a = np.arange(1 << n)
    flips = sum(((A - A[:, a ^ (1 << k)]) / 2) ** 2 for k in range(n)).mean(axis=1).mean()
    assert spectral_penalty(torch.from_numpy(A)).item() == pytest.approx(flips, rel=1e-12)


def test_orders_cost_what_they_should():
    n = 6
    a = torch.arange(1 << n)
    constant = torch.full((1, 1 << n), 0.7, dtype=torch.float64)
    one_input = (1.0 - 2.0 * ((a >> 3) & 1)).double()[None]  # depends on slot 3 only: Â({3}) = 1
    parity3 = (1.0 - 2.0 * (((a >> 0) ^ (a >> 2) ^ (a >> 5)) & 1)).double()[None]  # Â({0,2,5}) = 1
    assert spectral_penalty(constant).item() == 0.0
    assert spectral_penalty(one_input).item() == pytest.approx(1.0)
    assert spectral_penalty(parity3).item() == pytest.approx(3.0)
    assert spectral_penalty(parity3, "exponential").item() == pytest.approx(7.0)
    # Unweighted, all three tables of ±1 entries would cost the same (Parseval): the weight is the point.
    assert walsh_hadamard(parity3).square().sum().item() == pytest.approx(walsh_hadamard(one_input).square().sum().item())


@pytest.mark.parametrize("weighting", ["degree", "exponential"])
def test_gradient(weighting):
    torch.manual_seed(0)
    A = torch.rand(3, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: spectral_penalty(x, weighting), (A,))
    # The analytic gradient: dP/dA = (2 / (L 2**n)) H (w ⊙ Â), with H symmetric.
    A2 = A.detach().numpy()
    n = 4
    degree = np.array([bin(s).count("1") for s in range(16)], dtype=np.float64)
    w = degree if weighting == "degree" else 2.0**degree - 1
    H = 1.0 - 2.0 * np.array([[bin(s & x).count("1") & 1 for x in range(16)] for s in range(16)])
    expected = 2.0 / (3 * 16) * (direct_spectrum(A2) * w) @ H
    spectral_penalty(A, weighting).backward()
    np.testing.assert_allclose(A.grad.numpy(), expected, atol=1e-12)


def test_bad_shapes():
    with pytest.raises(ValueError, match="power of two"):
        spectral_penalty(torch.zeros(2, 12))
    with pytest.raises(ValueError, match="shape"):
        spectral_penalty(torch.zeros(16))
    with pytest.raises(ValueError, match="weighting"):
        order_weights(3, "quadratic")

