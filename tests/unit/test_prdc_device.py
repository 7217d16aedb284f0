"""PRDC with distance blocks on a torch device (a GPU at 50k samples) gives the numpy path's numbers."""

import numpy as np
import pytest
import torch

from ganbench.metrics import prdc as P


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,dim,block", [(300, 8, 64), (700, 64, 256), (1200, 2, 5000)])
def test_torch_path_on_cpu_tensors_equals_numpy(dtype, n, dim, block):
    rng = np.random.default_rng(n + dim)
    real = rng.normal(size=(n, dim)).astype(dtype)
    fake = (1.1 * rng.normal(size=(n + 37, dim)) + 0.1).astype(dtype)
    for fn, k in ((P.prdc, 5), (P.precision_recall, 3), (P.density_coverage, 5)):
        want = fn(real, fake, k, block=block, device="numpy")
        got = fn(real, fake, k, block=block, device="cpu")
        assert got == want, fn.__name__
    assert 0 < want["density"] and 0 < want["coverage"] < 1


def test_torch_radii_agree_with_numpy_to_float32_rounding():
    """Two BLAS libraries add a float64 product in different orders, so a distance may move by one
    float32 ulp; the metrics only change if a distance sits within that ulp of a radius."""
    x = np.random.default_rng(1).normal(size=(500, 16)).astype(np.float32)
    want = P.knn_radii(x, 5, block=128)
    x_sq = torch.from_numpy(P._sq_norms(x))
    got = P._knn_radii_torch(torch.from_numpy(x).double(), x_sq, 5, 128, torch.float32).numpy()
    assert np.mean(got == want) > 0.95
    np.testing.assert_array_max_ulp(got, want, maxulp=1)


def test_default_device_is_numpy_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert P._device(None) == "numpy"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert P._device(None) == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the GPU path runs on CPU tensors only")
def test_gpu_path_equals_numpy():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(3000, 64)).astype(np.float32), rng.normal(size=(3000, 64)).astype(np.float32)
    assert P.prdc(real, fake, 5, device="cuda") == P.prdc(real, fake, 5, device="numpy")
