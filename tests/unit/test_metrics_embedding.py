"""fd, cmmd, clipped density/coverage and Vendi against their reference implementations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics.clipped_dc import _expected_coverage, calibrate_coverage, clipped_density_coverage
from ganbench.metrics.cmmd import cmmd
from ganbench.metrics.vendi import vendi_score
from ganbench.registry import METRICS


def _unit_fixture(seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, 16))
    y = rng.normal(size=(70, 16)) + shift
    return x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)


# google-research cmmd/distance.py ``mmd`` (commit 4c42994), run outside this repository under
# jax 0.10.2 with jax_enable_x64 on these fixtures (JAX cannot be a test dependency here).
# Tolerance: relative 1e-9 (float64 summation order).
CMMD_AUTHORS = {(0, 0.0): 0.26753771220963574, (1, 0.5): 2.6292356178702434, (2, 2.0): 9.05154013202683}


@pytest.mark.parametrize("case", sorted(CMMD_AUTHORS))
def test_cmmd_equals_authors_estimator(case):
    x, y = _unit_fixture(*case)
    assert cmmd(x, y) == pytest.approx(CMMD_AUTHORS[case], rel=1e-9)
    assert METRICS.get("cmmd")(x, y)["cmmd"] == pytest.approx(CMMD_AUTHORS[case], rel=1e-9)


def test_cmmd_is_the_biased_estimator_written_out():
    """Paper formula (Jayasumana et al. 2024 Eq. 3, biased form) by direct double sums; unnormalised."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(9, 4)) * 5, rng.normal(size=(7, 4)) * 5 + 2
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * 10.0 ** 2))
    mean_k = lambda a, b: np.mean([[k(p, q) for q in b] for p in a])
    want = 1000 * (mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y))
    assert cmmd(x, y, normalize=False) == pytest.approx(want, rel=1e-10)
    assert cmmd(x, x) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(GanbenchError, match="all zeros"):
        cmmd(np.zeros((3, 4)), y)


def _cdc_fixture(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(200, 8))
    fake = rng.normal(size=(150, 8)) * 1.2 + 0.3
    fake[:5] += 6.0  # outliers: the reason for the clipping
    return real, fake


# nicolassalvy/ClippedDensityCoverage commit 9920dae, metrics/Clipped_Density_Coverage.py
# (ClippedDensity, ClippedCoverage(check_code=True)), run outside this repository with
# scikit-learn 1.9.1 and scipy 1.17.1 on these fixtures. Tolerance: 1e-12 absolute.
CDC_AUTHORS = {
    (0, 3): (0.5687645687645686, 0.543046357615894),
    (0, 5): (0.5746691871455576, 0.5695364238410596),
    (1, 3): (0.6940639269406393, 0.6158940397350994),
    (1, 5): (0.6627062706270626, 0.5761589403973509),
}


@pytest.mark.parametrize("case", sorted(CDC_AUTHORS))
def test_clipped_density_coverage_equal_authors_code(case):
    seed, k = case
    got = clipped_density_coverage(*_cdc_fixture(seed), k=k)
    assert got["clipped_density"] == pytest.approx(CDC_AUTHORS[case][0], abs=1e-12)
    assert got["clipped_coverage"] == pytest.approx(CDC_AUTHORS[case][1], abs=1e-12)


def _cdc_large_fixture(seed: int, n_real: int, n_fake: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n_real, 8))
    fake = rng.normal(size=(n_fake, 8)) * 1.2 + 0.3
    fake[:5] += 6.0
    return real, fake


# Above one distance block (prdc.DEFAULT_BLOCK = 1024 real points). The same code and versions as
# CDC_AUTHORS (ClippedDensity, ClippedCoverage(check_code=True), K = k, n_jobs=1; scikit-learn 1.9.1),
# run outside this repository: its licence (CC BY-SA 4.0) keeps its code out of ours.
CDC_AUTHORS_LARGE = {
    (1, 2100, 900, 3): (0.5418425895853632, 0.607103218645949),
    (3, 3000, 1500, 5): (0.5420253164556963, 0.5856095936042638),
}


@pytest.mark.parametrize("case", sorted(CDC_AUTHORS_LARGE))
def test_clipped_density_equals_authors_code_above_one_block(case):
    """Issue 20: each real point's K-th-neighbour radius and the distance later tested against it came
    from different block orders (1 ulp apart), so the K-th neighbour, exactly on the edge, fell out of
    the ball: 0.54219 instead of 0.54184 on the first case, 0.54251 instead of 0.54203 on the second."""
    seed, n_real, n_fake, k = case
    got = clipped_density_coverage(*_cdc_large_fixture(seed, n_real, n_fake), k=k)
    assert got["clipped_density"] == pytest.approx(CDC_AUTHORS_LARGE[case][0], abs=1e-12)
    assert got["clipped_coverage"] == pytest.approx(CDC_AUTHORS_LARGE[case][1], abs=1e-12)
    # The same with blocks smaller than the set, so the membership test crosses blocks here too.
    small = clipped_density_coverage(*_cdc_large_fixture(seed, n_real, n_fake), k=k, block=500)
    assert small["clipped_density"] == pytest.approx(CDC_AUTHORS_LARGE[case][0], abs=1e-12)


def test_clipped_density_is_capped_at_one():
    # Authors' code on this fixture: 1.0 capped, 1.8253382533825337 with can_exceed_one=True.
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(200, 8)), rng.normal(size=(150, 8)) * 0.5
    assert clipped_density_coverage(real, fake)["clipped_density"] == 1.0


def test_coverage_calibration_is_the_papers_sum_and_monotone():
    from math import comb

    from scipy.special import beta

    k, n, m = 3, 20, 9
    direct = sum(min(j, k) * comb(m, j) * beta(k + j, n + m - k - j) for j in range(m + 1)) / beta(k, n - k) / k
    assert _expected_coverage(m, k, n) == pytest.approx(direct, rel=1e-10)
    f = [_expected_coverage(i, k, n) for i in range(31)]
    assert all(a <= b for a, b in itertools.pairwise(f)) and f[k - 1] == 0.0
    # g is searchsorted(f, raw) / (M + 1) over the whole table (the authors' _g).
    for raw in (0.0, 0.1, 0.5, f[17], 0.99):
        assert calibrate_coverage(raw, k, n, 30) == np.searchsorted(f, raw) / 31


def test_vendi_equals_vendi_score_package():
    """vendi-score 0.0.3 (Friedman & Dieng): score_K on the cosine kernel, score_dual. Tolerance 1e-9."""
    vendi = pytest.importorskip("vendi_score.vendi")
    rng = np.random.default_rng(0)
    for n, d in ((50, 8), (6, 20)):  # n > d (dual) and n < d (Gram)
        x = rng.normal(size=(n, d)) + 0.5
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        assert vendi_score(x) == pytest.approx(float(vendi.score_K(xn @ xn.T)), rel=1e-9)
        assert vendi_score(x) == pytest.approx(float(vendi.score_dual(x)), rel=1e-9)
        assert vendi_score(x, q=2) == pytest.approx(float(vendi.score_K(xn @ xn.T, q=2)), rel=1e-9)
    same = np.tile(rng.normal(size=(1, 8)), (10, 1))
    assert vendi_score(same) == pytest.approx(1.0)  # one distinct sample
    assert vendi_score(np.eye(5)) == pytest.approx(5.0)  # five orthogonal ones


def test_fd_is_fid_in_any_space_and_registered_for_images():
    from ganbench.evaluation.images import compute_image_metrics
    from ganbench.metrics.fid import fid_from_features

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(30, 6)) + 1
    assert METRICS.get("fd")(a, b)["fd"] == fid_from_features(a, b)
    vals, proto = compute_image_metrics({"pool3": a}, {"pool3": b}, ["fd", "cmmd", "cdc", "vendi"], n_boot=0)
    assert vals["fd"] == fid_from_features(a, b)
    assert set(vals) == {"fd", "cmmd", "clipped_density", "clipped_coverage", "vendi"}
    assert proto["cmmd_sigma"] == 10.0 and proto["cmmd_scale"] == 1000.0 and proto["cdc_k"] == 5
