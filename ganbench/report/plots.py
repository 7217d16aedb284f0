"""Plots: the mixture-of-Gaussians scatter grid (generated samples over the true mode centres)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def mog_grid(panels: dict[tuple[str, str], np.ndarray], centers: dict[str, np.ndarray], path: Path,
             max_points: int = 2500) -> Path:
    """One panel per (model, dataset): samples as dots, true centres as red crosses.

    ``panels`` maps (model, dataset) to an [N, 2] array; high-dimensional data are shown in
    their first two coordinates, which the caption says.
    """
    models = list(dict.fromkeys(m for m, _ in panels))
    datasets = list(dict.fromkeys(d for _, d in panels))
    fig, axes = plt.subplots(len(models), len(datasets), figsize=(2.6 * len(datasets), 2.6 * len(models)),
                             squeeze=False)
    for i, m in enumerate(models):
        for j, d in enumerate(datasets):
            ax = axes[i][j]
            x = panels.get((m, d))
            c = centers[d]
            if x is not None:
                ax.scatter(x[:max_points, 0], x[:max_points, 1], s=1.5, alpha=0.4, color="#1f77b4", rasterized=True)
            ax.scatter(c[:, 0], c[:, 1], s=25, marker="x", color="#d62728", linewidths=1.2)
            pad = 0.25 * (np.ptp(c[:, 0]) or 1.0)
            ax.set_xlim(c[:, 0].min() - pad, c[:, 0].max() + pad)
            ax.set_ylim(c[:, 1].min() - pad, c[:, 1].max() + pad)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if i == 0:
                ax.set_title(d + (" (dims 1-2)" if c.shape[1] > 2 else ""), fontsize=10)
            if j == 0:
                ax.set_ylabel(m, fontsize=10)
    fig.suptitle("generated samples (blue) over true mode centres (red)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
