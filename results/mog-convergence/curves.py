"""Convergence curves from the evaluation records of `ganbench run` output directories.

python results/mog-convergence/curves.py OUT_DIR [OUT_DIR ...] -> curves.csv and curves.png here:
modes and high-quality share (PacGAN's 3-sigma rule) against generator steps, per model, dataset and seed.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ganbench.records import read_records  # noqa: E402

HERE = Path(__file__).parent
plt.rcParams["axes.prop_cycle"] = plt.cycler(color=plt.cm.tab20.colors)  # more runs than tab10 has colours


def main(dirs: list[str]) -> None:
    recs = [(Path(d).name, r) for d in dirs for r in read_records(sorted(Path(d).glob("*/*/seed*/records.jsonl")))]
    rows = [{"run": run, "model": r.model, "dataset": r.dataset, "seed": r.seed, "step": r.step,
             "budget": r.protocol.get("budget"), "modes": r.metrics.get("modes"), "hq_share": r.metrics.get("hq_share"),
             "steps_budget": r.protocol.get("steps"), "reverse_kl": r.metrics.get("reverse_kl")}
            for run, r in recs if r.kind == "train-eval"]
    df = pd.DataFrame(rows).sort_values(["dataset", "run", "model", "seed", "step"])
    df.to_csv(HERE / "curves.csv", index=False)
    datasets = sorted(df.dataset.unique())
    fig, axes = plt.subplots(2, len(datasets), figsize=(7 * len(datasets), 9), squeeze=False)
    for j, ds in enumerate(datasets):
        for (run, model), g in df[df.dataset == ds].groupby(["run", "model"]):
            mean = g.groupby("step")[["modes", "hq_share"]].mean()
            axes[0, j].plot(mean.index, mean["modes"], marker=".", label=f"{model} ({run})")
            axes[1, j].plot(mean.index, 100 * mean["hq_share"], marker=".", label=f"{model} ({run})")
        axes[0, j].set_title(f"{ds}: modes covered (mean over seeds)")
        axes[1, j].set_title(f"{ds}: high-quality samples % (3 sigma)")
        axes[1, j].set_xlabel("generator steps")
        axes[0, j].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "curves.png", dpi=90)


if __name__ == "__main__":
    main(sys.argv[1:])
