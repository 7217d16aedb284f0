"""What the training loop reports while it works: progress, the suite's live display, TensorBoard.

The loop (ganbench.training.loop) calls one ``Monitor`` per seed at five points (start, each step,
before and after each evaluation, close) with a ``SeedView`` of that seed; what is done with the
calls lives here, so the training loop stays small.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ganbench.layout import TENSORBOARD as TENSORBOARD_DIR  # the run layout's name
LOG_EVERY = 10  # generator steps between loss points in TensorBoard
GRID_N = {"image": 64, "vector": 1000}  # samples drawn at each evaluation (fixed latents: seed 0)


class Monitor:
    """Does nothing; the base of every monitor."""

    def start(self, view: Any) -> None: ...

    def step(self, step: int, losses: dict[str, float]) -> None: ...

    def evaluating(self, step: int) -> None: ...

    def evaluated(self, step: int, metrics: dict[str, float], generator: Any) -> None: ...

    def close(self) -> None: ...


class Monitors(Monitor):
    """Several monitors called in order."""

    def __init__(self, *monitors: Monitor) -> None:
        self.monitors = [m for m in monitors if m is not None]

    def start(self, view: Any) -> None:
        for m in self.monitors:
            m.start(view)

    def step(self, step: int, losses: dict[str, float]) -> None:
        for m in self.monitors:
            m.step(step, losses)

    def evaluating(self, step: int) -> None:
        for m in self.monitors:
            m.evaluating(step)

    def evaluated(self, step: int, metrics: dict[str, float], generator: Any) -> None:
        for m in self.monitors:
            m.evaluated(step, metrics, generator)

    def close(self) -> None:
        for m in self.monitors:
            m.close()


class BarMonitor(Monitor):
    """One progress bar for a run trained on its own (a suite uses its display instead): live in a
    terminal, plain lines otherwise (ganbench.progress.bar)."""

    def start(self, view: Any) -> None:
        from ganbench.progress import bar

        c = view.cfg
        self.bar = bar(total=view.budget.steps, initial=view.step, unit="step",
                       desc=f"{c.model}/{c.dataset}/seed{c.seed}", leave=False)

    def step(self, step: int, losses: dict[str, float]) -> None:
        self.bar.update(step - self.bar.n)
        if step % 50 == 0:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)

    def close(self) -> None:
        self.bar.close()


class QueueMonitor(Monitor):
    """Sends (kind, key, step, total, note) to the suite's display, at most every ``interval`` s."""

    def __init__(self, queue: Any, key: str, interval: float = 0.5) -> None:
        self.queue, self.key, self.interval = queue, key, interval
        self._last = 0.0

    def _send(self, step: int, note: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            self.queue.put(("step", self.key, step, self.total, note))

    def start(self, view: Any) -> None:
        self.total = view.budget.steps
        self._send(view.step, "training", force=True)

    def step(self, step: int, losses: dict[str, float]) -> None:
        self._send(step, "training", force=step >= self.total)

    def evaluating(self, step: int) -> None:
        self._send(step, "evaluating", force=True)

    def evaluated(self, step: int, metrics: dict[str, float], generator: Any) -> None:
        self._send(step, "training", force=True)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested recipe as TensorBoard hparams: dotted keys; lists as JSON text."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        else:
            out[key] = json.dumps(v)
    return out


class TensorBoardMonitor(Monitor):
    """Event files in ``<run dir>/tensorboard``: losses every ``log_every`` steps, every evaluation
    metric, a grid of samples at each evaluation, and the recipe as hparams."""

    def __init__(self, log_every: int = LOG_EVERY) -> None:
        self.log_every = log_every
        self.writer: Any = None

    def start(self, view: Any) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.modality = view.modality
        self.writer = SummaryWriter(log_dir=str(Path(view.run_dir) / TENSORBOARD_DIR))
        params = _flat(view.recipe.to_dict(), "recipe.")
        params.update(_flat(dict(view.budget.__dict__), "budget."))
        params.update({"run.model": view.cfg.model, "run.dataset": view.cfg.dataset,
                       "run.seed": view.cfg.seed})
        # Written into this run's own event file (add_hparams would open a second one).
        for summary in hparams(params, {}):
            self.writer.file_writer.add_summary(summary)

    def step(self, step: int, losses: dict[str, float]) -> None:
        if step % self.log_every == 0:
            for k, v in losses.items():
                self.writer.add_scalar(f"loss/{k}", v, step)

    def evaluated(self, step: int, metrics: dict[str, float], generator: Any) -> None:
        for k, v in metrics.items():
            if isinstance(v, (int, float)):
                self.writer.add_scalar(f"eval/{k}", v, step)
        self._samples(step, generator)
        self.writer.flush()

    def _samples(self, step: int, generator: Any) -> None:
        from ganbench.generators import sample_all

        x, _ = sample_all(generator, GRID_N.get(self.modality, 64), seed=0)
        if self.modality == "image":
            import torch
            from torchvision.utils import make_grid

            self.writer.add_image("samples", make_grid(torch.from_numpy(x), nrow=8), step)
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(x[:, 0], x[:, 1], s=4)
        ax.set_title(f"samples at step {step} (first 2 dimensions)")
        self.writer.add_figure("samples", fig, step, close=True)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
