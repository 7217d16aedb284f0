"""Names and one-line help of everything registered, importable without torch, scipy or sklearn.

``ganbench list`` and ``ganbench data`` read this instead of importing every registering module
(9-20 s on 2 cores, mostly torch). ``tests/unit/test_catalog.py`` checks it against the live
registries, so a name registered in code but missing here fails the tests with what to add.
Models and budgets need no entry: they come from the recipe TOMLs and ``ganbench.config``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetEntry:
    help: str
    # "generated" (drawn on demand), "files" (a Source in ganbench.data.images: located, maybe
    # downloaded), "stacked:<base>" (built from <base>'s files), "sklearn" (ships with
    # scikit-learn) or "path" (needs kind:PATH).
    kind: str


DATASETS: dict[str, DatasetEntry] = {
    "ring": DatasetEntry("8 Gaussians on a circle, r=1, sigma=0.01 (PacGAN/VEEGAN)", "generated"),
    "grid": DatasetEntry("25 Gaussians on {-4,-2,0,2,4}^2, sigma=0.05 (PacGAN/VEEGAN)", "generated"),
    "highdim": DatasetEntry("10 Gaussians in 1200 dimensions (VEEGAN-style)", "generated"),
    "cifar10": DatasetEntry("CIFAR-10, 3x32x32, 10 classes, 50k train / 10k test (python pickle batches).",
                            "files"),
    "mnist": DatasetEntry("MNIST, 1x28x28, 10 classes, 60k train / 10k test (IDX files).", "files"),
    "fashion-mnist": DatasetEntry("Fashion-MNIST, 1x28x28, 10 classes, 60k train / 10k test (IDX files).",
                                  "files"),
    "stacked-mnist": DatasetEntry("Stacked MNIST, 3x28x28, 1000 modes; 60k train from MNIST train, 10k test "
                                  "from MNIST test, seed 0.", "stacked:mnist"),
    "stacked-fashion-mnist": DatasetEntry("Stacked Fashion-MNIST, 3x28x28, 1000 modes; built like stacked-mnist.",
                                          "stacked:fashion-mnist"),
    "digits": DatasetEntry("scikit-learn 8x8 digits, 1x8x8, 10 classes, 1497 train / 300 test (fixed split, "
                           "seed 0).", "sklearn"),
    "digits32": DatasetEntry("scikit-learn digits upsampled to 1x32x32 (PIL bilinear) so conv nets train on "
                             "them offline.", "sklearn"),
    "folder": DatasetEntry("folder:PATH, images found recursively (png/jpg/jpeg/webp/bmp), no labels.", "path"),
    "zip": DatasetEntry("zip:PATH, the images inside a zip archive, no labels.", "path"),
    "npz": DatasetEntry("npz:PATH, a uint8 image array in .npz (keys x/images/arr_0; labels y/labels) or .npy.",
                        "path"),
}

METRICS: dict[str, str] = {
    "fid": "Fréchet Inception Distance between pool3 feature Gaussians (lower is better)",
    "kid": "Kernel Inception Distance, unbiased cubic-kernel MMD² over random subsets",
    "is": "Inception Score from the 1008 unbiased logits, 10 shuffled splits",
    "pr": "k-NN improved precision and recall (k=3)",
    "dc": "k-NN density and coverage (k=5), prdc semantics",
    "modes": "mixture-of-Gaussians mode coverage: HQ share, modes covered, reverse KL (2,500 samples)",
    "stacked_modes": "stacked datasets: modes covered of 1000 and KL to uniform (per-channel domain CNN)",
    "memorization": "memorisation: Meehan C_T vs a held-out split and copy share (1% self-NN quantile)",
    "fd_inf": "FD∞ (Chong & Forsyth 2020): FD at several N extrapolated linearly in 1/N to N -> infinity",
    "fd": "Fréchet distance in the extractor's space (FID over Inception; FD_DINOv2 over dinov2-vit-l14)",
    "cmmd": "CMMD: Gaussian-kernel MMD² (sigma 10, x1000, biased estimator) on unit-norm embeddings",
    "cdc": "clipped density and coverage (k=5; radii clipped at the median, scores capped at 1)",
    "vendi": "Vendi score of the generated set: exp entropy of the cosine-kernel eigenvalues",
    "c2st": "classifier two-sample test: held-out accuracy telling real from generated (0.5: indistinguishable), "
            "exact binomial p-value, Clopper-Pearson interval",
    "nnd": "neural-network divergence (Gulrajani et al. 2019): a WGAN-GP critic trained on real vs generated "
           "images, scored on held-out real images and fresh samples (lower is better)",
}

ARCHITECTURES: dict[str, str] = {
    "mlp": "MLP G and D for vector data",
    "maxout": "MLP G and maxout D for vector data (PacGAN, Lin et al. 2018)",
    "dcgan": "DCGAN conv nets for 8/28/32/64-pixel images, picked by the image size",
    "resnet": "SNGAN/cGAN-PD ResNet G (256 ch) and D (128 ch) for 8/28/32/64-pixel images",
}

EXTRACTORS: dict[str, str] = {
    "inception": "TF-faithful FID Inception-v3 (pool3 2048-d, logits 1008)",
    "domain": "domain CNN features for 28x28 data (fast FID/PR; not Inception FID)",
    "dinov2-vit-l14": "DINOv2 ViT-L/14 class token (1024-d), FD_DINOv2's space",
    "dinov2-vit-b14": "DINOv2 ViT-B/14 class token (768-d), cheap tracking",
    "clip-vit-l14-336": "CLIP ViT-L/14@336px image embedding (768-d), CMMD's space",
}
