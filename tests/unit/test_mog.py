import math

import numpy as np
import pytest
import torch

from ganbench.data import get_dataset
from ganbench.data.mog import grid_centers, ring_centers
from ganbench.errors import GanbenchError
from ganbench.metrics.modes import hq_radius, kl_to_uniform, mode_metrics


def test_ring_has_8_distinct_modes_on_the_circle():
    c = ring_centers(8, 1.0)
    assert c.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-12)
    # Endpoint excluded: no duplicated mode (docs/reference.md section 4).
    d = np.linalg.norm(c[:, None] - c[None], axis=-1) + np.eye(8)
    assert d.min() > 0.7


def test_grid_is_the_5x5_lattice():
    c = grid_centers()
    assert sorted(set(c[:, 0])) == [-4, -2, 0, 2, 4]
    assert len({tuple(p) for p in c}) == 25


@pytest.mark.parametrize("name,k", [("ring", 8), ("grid", 25), ("highdim", 10)])
def test_true_samples_cover_every_mode_with_high_quality(name, k):
    ds = get_dataset(name)
    x, y = ds.reference(2500, seed=0)
    m = mode_metrics(x, ds.centers, ds.sigma)
    assert m["modes"] == k
    assert m["hq_share"] >= 0.99
    assert m["reverse_kl"] < 0.05
    assert set(np.unique(y)) == set(range(k))  # the mode index is the label


@pytest.mark.parametrize("name", ["ring", "grid", "highdim"])
def test_collapsed_generator_covers_exactly_one_mode(name):
    ds = get_dataset(name)
    rng = np.random.default_rng(0)
    x = ds.centers[3] + ds.sigma * rng.standard_normal((2500, ds.centers.shape[1]))
    m = mode_metrics(x, ds.centers, ds.sigma)
    assert m["modes"] == 1
    assert m["reverse_kl"] == pytest.approx(math.log(len(ds.centers)))


def test_samples_between_modes_are_low_quality():
    ds = get_dataset("ring")
    x = np.zeros((100, 2))  # the centre of the ring is far from every mode
    m = mode_metrics(x, ds.centers, ds.sigma)
    assert m["hq_share"] == 0 and m["modes"] == 0 and math.isnan(m["reverse_kl"])


def test_hq_radius_matches_three_sigma_in_one_dimension():
    assert hq_radius(1) == pytest.approx(3.0, abs=1e-3)
    assert 3.4 < hq_radius(2) < 3.5


def test_kl_to_uniform_of_uniform_counts_is_zero():
    assert kl_to_uniform(np.full(25, 100)) == pytest.approx(0.0)


def test_nan_samples_are_refused():
    ds = get_dataset("ring")
    with pytest.raises(GanbenchError, match="NaN"):
        mode_metrics(np.full((10, 2), np.nan), ds.centers, ds.sigma)


def test_train_batches_are_seeded():
    ds = get_dataset("grid")
    a, _ = ds.train_batch(16, torch.Generator().manual_seed(1))
    b, _ = ds.train_batch(16, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_three_sigma_rule_is_strict_euclidean():
    ds = get_dataset("grid")
    c = ds.centers[7]
    x = np.stack([c + [2.999 * ds.sigma, 0], c + [0, 3.0 * ds.sigma], c + [3.2 * ds.sigma, 0]])
    m = mode_metrics(x, ds.centers, ds.sigma, rule="3sigma")
    assert m["hq_share"] == pytest.approx(1 / 3) and m["modes"] == 1
    chi = mode_metrics(x, ds.centers, ds.sigma, rule="chi")  # 3.44 sigma in 2-D: all three count
    assert chi["hq_share"] == 1.0


def test_true_samples_under_three_sigma_rule():
    ds = get_dataset("ring")
    x, _ = ds.reference(20000, seed=0)
    # P(chi_2 < 3) = 1 - exp(-4.5) = 98.89%: the papers' rule marks about 1.1% of true samples low quality
    assert mode_metrics(x, ds.centers, ds.sigma, rule="3sigma")["hq_share"] == pytest.approx(0.9889, abs=0.003)


def test_unknown_hq_rule_is_refused():
    ds = get_dataset("ring")
    with pytest.raises(GanbenchError, match="hq_rule"):
        mode_metrics(ds.centers, ds.centers, ds.sigma, rule="4sigma")


def test_fixed_training_set_is_reshuffled_each_epoch():
    from ganbench.data.stream import SeedStream

    st = SeedStream(get_dataset("grid"), seed=0, z_dim=2, pack=2, train_size=1000)
    epoch = torch.cat([st.real(100)[0] for _ in range(10)])  # 10 batches of 100 packed inputs = 1 epoch
    assert epoch.shape == (2000, 2)
    rows = {tuple(r) for r in st.data.flatten(1).tolist()}
    assert {tuple(r) for r in epoch.reshape(1000, 4).tolist()} == rows  # every packed example once
    assert not torch.equal(st.real(100)[0], epoch[:200])  # the next epoch has another order
