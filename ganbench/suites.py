"""Named suites for `ganbench run --suite NAME`: which models, datasets and seeds."""

from __future__ import annotations

from dataclasses import dataclass

from ganbench.errors import GanbenchError


@dataclass(frozen=True)
class Suite:
    models: str
    datasets: str
    seeds: str
    help: str


SUITES = {
    # `make run`: GAN, one WGAN variant and one remedy on both mixtures, 3 seeds (15 min on 2 cores).
    # pacgan2 rather than pacgan4: its G draws half the samples, and it already covers more grid modes
    # than GAN in PacGAN's Table 1 (23.8 vs 17.3).
    "mog": Suite("gan,wgan-gp,pacgan2", "ring,grid", "0,1,2",
                 "the default: gan, wgan-gp, pacgan2 on ring and grid, 3 seeds"),
    # Every distinct vector baseline and remedy (dcgan is `gan` on vectors, so it is left out), the
    # papers' 10 seeds (PacGAN Table 1: 10 trials).
    "mog-full": Suite("gan,gan-mm,lsgan,wgan,wgan-gp,sngan,pacgan2,pacgan3,pacgan4,unrolled", "ring,grid",
                      "0,1,2,3,4,5,6,7,8,9", "every vector baseline and remedy on ring and grid, 10 seeds"),
}
DEFAULT_SUITE = "mog"


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise GanbenchError(f"unknown suite {name!r}; use one of {', '.join(SUITES)}")
    return SUITES[name]
