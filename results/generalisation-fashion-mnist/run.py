"""Gulrajani, Raffel & Metz (ICLR 2019)'s central experiment on Fashion-MNIST: FID against the training
split rewards a generator that returns training images; a critic or classifier trained on one split
and scored on held-out data (nnd, c2st) does not.

Rows: held-out real images (a stand-in for a perfect generator), a memoriser (a "generator" whose
latent picks one of the 2,000 training images that the FID reference holds), and a DCGAN trained by
``ganbench run --models dcgan --dataset fashion-mnist --budget cpu --seeds 0``.

Data: Fashion-MNIST train (60k) is the generators' training data and the nnd critic's real side; the
test split (10k) is cut in two seeded halves: H1 (5k), the held-out-real row's images, and H2 (5k),
the held-out real images nnd and c2st are scored against.

    python results/generalisation-fashion-mnist/run.py --dcgan RUN/dcgan/fashion-mnist/seed0/checkpoint.pt \
        --out results/generalisation-fashion-mnist

Writes ``records.jsonl`` (one line per row and metric group, with its protocol) and ``table.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import ganbench
from ganbench.data.images import fashion_mnist
from ganbench.evaluation.images import extract
from ganbench.evaluation.options import REF_SEED
from ganbench.features.classifier import DomainExtractor, get_classifier
from ganbench.generators import sample_all
from ganbench.generators.loading import load_generator
from ganbench.metrics.c2st import c2st
from ganbench.metrics.nnd import nnd

N_FID = 2000          # the cpu2k_train preset: 2,000 generated vs 2,000 training images (ref_seed 0)
FID_SEED = 10_000     # eval_seed(0): the sample seed of the DCGAN's own training-time records
N_C2ST = 5000         # generated samples per row for c2st, against the 5,000 images of H2
C2ST_SEED = 20_000


class Memoriser(torch.nn.Module):
    """A "generator" that returns training images: latent z picks image floor(Phi(z_0) N) of ``images``
    (uint8 NCHW), so draws are uniform over the memorised set, with repeats."""

    num_classes = 0

    def __init__(self, images: np.ndarray, z_dim: int = 100) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.register_buffer("images", torch.from_numpy(images).float() / 127.5 - 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        idx = (torch.special.ndtr(z[:, 0]) * len(self.images)).long().clamp_(0, len(self.images) - 1)
        return self.images[idx]


def _as_set(source, n: int, seed: int) -> np.ndarray:
    return source[:n] if isinstance(source, np.ndarray) else sample_all(source, n, seed, batch_size=500)[0]


def fid_rows(rows: dict, ds, ext, h2: np.ndarray) -> dict:
    """FID against the training split (the cpu2k_train protocol) and against held-out H2."""
    out = {}
    for name, src in rows.items():
        train = ganbench.evaluate(src, ds, metrics=["fid"], extractor=ext, n=N_FID, n_real=N_FID, seed=FID_SEED)
        held = ganbench.evaluate(_as_set(src, N_FID, FID_SEED), h2[:N_FID], metrics=["fid"], extractor=ext,
                                 seed=FID_SEED)
        out[name] = {"fid_train": train["fid"], "fid_train_ci": train.intervals["fid"],
                     "fid_heldout": held["fid"], "fid_heldout_ci": held.intervals["fid"],
                     "protocol_train": train.protocol, "protocol_heldout": held.protocol}
    return out


def c2st_rows(rows: dict, ext, h2: np.ndarray) -> dict:
    """c2st in the domain CNN's features: N_C2ST samples of each row against H2, half to train on."""
    real = extract(h2, ext, batch_size=500, progress=False)["pool3"]
    out = {}
    for name, src in rows.items():
        fake = extract(_as_set(src, N_C2ST, C2ST_SEED), ext, batch_size=500, progress=False)["pool3"]
        out[name] = {clf: c2st(real, fake, classifier=clf, seed=0) for clf in ("logistic", "1nn")}
    return out


def nnd_rows(rows: dict, train_x: np.ndarray, h2: np.ndarray, budget: str, seed: int = 0) -> dict:
    out = {}
    for name, src in rows.items():
        t0 = time.perf_counter()
        out[name] = {**nnd((train_x, h2), src, budget, seed=seed, progress=True),
                     "seconds": round(time.perf_counter() - t0, 1)}
        print(name, out[name], flush=True)
    return out


def _table(fid: dict, c2: dict, nn: dict) -> str:
    head = ("| row | FID vs train ↓ | FID vs held-out ↓ | c2st acc. (logistic) | p | c2st acc. (1-NN) | p | "
            "nnd (held-out) ↓ | nnd on its training pools |")
    lines = [head, "|" + "---|" * 9]
    for name in fid:
        f, c, n = fid[name], c2[name], nn.get(name, {})
        lines.append(f"| {name} | {f['fid_train']:.2f} [{f['fid_train_ci'][0]:.2f}, {f['fid_train_ci'][1]:.2f}] | "
                     f"{f['fid_heldout']:.2f} | {c['logistic']['c2st_accuracy']:.3f} | {c['logistic']['c2st_p']:.2g} | "
                     f"{c['1nn']['c2st_accuracy']:.3f} | {c['1nn']['c2st_p']:.2g} | "
                     f"{n.get('nnd', float('nan')):.3f} | {n.get('nnd_train', float('nan')):.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dcgan", help="checkpoint.pt of the trained DCGAN (for the dcgan row)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--nnd-budget", default="cpu")
    ap.add_argument("--skip-nnd", action="store_true")
    ap.add_argument("--nnd-seed", type=int, default=0, help="the critic's seed (initialisation, batches, draws)")
    ap.add_argument("--rows", default="heldout,memoriser,dcgan", help="which rows (comma-separated)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = fashion_mnist()
    perm = np.random.default_rng(0).permutation(len(ds.test_x))
    h1, h2 = ds.test_x[np.sort(perm[:5000])], ds.test_x[np.sort(perm[5000:])]
    memorised, _ = ds.reference(N_FID, REF_SEED, "train")  # the very images FID's reference holds
    make = {"heldout": ("held-out real (test H1)", lambda: h1),
            "memoriser": ("memoriser (2,000 training images)", lambda: Memoriser(memorised)),
            "dcgan": ("dcgan (cpu budget, seed 0)", lambda: load_generator(args.dcgan).generator)}
    rows = {make[k][0]: make[k][1]() for k in args.rows.split(",")}
    ext = DomainExtractor(get_classifier("fashion-mnist"))
    fid = fid_rows(rows, ds, ext, h2)
    # The memorised set itself, handed over as samples: the very images FID's reference holds.
    as_set = ganbench.evaluate(memorised, ds, metrics=["fid"], extractor=ext, n_real=N_FID, seed=FID_SEED)
    print(f"FID of the memorised set itself vs train: {as_set['fid']:.4f}", flush=True)
    c2 = c2st_rows(rows, ext, h2)
    nn = {} if args.skip_nnd else nnd_rows(rows, ds.train_x, h2, args.nnd_budget, args.nnd_seed)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "records.jsonl", "w") as fh:
        for name in rows:
            fh.write(json.dumps({"row": name, "fid": fid[name], "c2st": c2[name], "nnd": nn.get(name),
                                 "nnd_budget": args.nnd_budget, "nnd_seed": args.nnd_seed}, default=str,
                                sort_keys=True) + "\n")
        fh.write(json.dumps({"row": "the memorised set itself", "fid_train": as_set["fid"],
                             "protocol": as_set.protocol}, default=str, sort_keys=True) + "\n")
    (args.out / "table.md").write_text(_table(fid, c2, nn))
    print(_table(fid, c2, nn))


if __name__ == "__main__":
    main()
