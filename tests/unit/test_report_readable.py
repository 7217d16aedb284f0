"""Intervals over seeds stay inside what a metric can take (no negative mode counts)."""

from __future__ import annotations

import pytest

from ganbench.records import ResultRecord
from ganbench.report import tables


def test_seed_interval_is_clipped_to_the_metric_range():
    # 2 seeds that disagree wildly: the t-interval (t = 12.7) spans far below 0 and above 1.
    recs = [ResultRecord("gan", "ring", s, 100, {"modes": m, "hq_share": h, "kid": k}, {})
            for s, (m, h, k) in enumerate([(1.0, 0.05, -0.01), (4.0, 0.9, 0.02)])]
    s = tables.summary(recs).set_index("metric")
    assert s.loc["modes", "seed_ci_low"] == 0.0 and s.loc["modes", "seed_ci_high"] > 20
    assert (s.loc["hq_share", "seed_ci_low"], s.loc["hq_share", "seed_ci_high"]) == (0.0, 1.0)
    assert s.loc["kid", "seed_ci_low"] < -0.1  # KID's unbiased estimate may be negative: not clipped
    cells = tables.table_cells(recs, interval="ci").cells
    assert not any("[-" in str(v) for c in cells.columns if c[1] in ("modes", "hq_share") for v in cells[c])


@pytest.mark.parametrize("metric, bounds", [("precision", (0.0, 1.0)), ("fid", (0.0, float("inf"))),
                                            ("is", (1.0, float("inf"))), ("ct", (float("-inf"), float("inf")))])
def test_metric_ranges(metric, bounds):
    assert tables.metric_range(metric) == bounds


def test_terminal_table_wraps_to_the_width_and_files_keep_the_full_table():
    metrics = {"fid": 30.0, "kid": 0.02, "precision": 0.6, "recall": 0.3, "density": 0.8, "coverage": 0.5,
               "copy_share": 0.0, "ct": 1.5}
    recs = [ResultRecord(m, "fashion-mnist", s, 10, {k: v + s for k, v in metrics.items()}, {})
            for m in ("dcgan", "wgan-gp") for s in (0, 1)]
    text = tables.terminal_table(recs, width=70)
    lines = text.splitlines()
    assert lines[0] == "fashion-mnist:" and max(map(len, lines)) <= 70
    assert sum(ln.startswith("model") for ln in lines) >= 2  # wrapped: the model column repeats
    for m in metrics:
        assert f"{m} " in text or text.count(m)
    assert text.count("dcgan") == sum(ln.startswith("model") for ln in lines)
    md = tables.markdown_table(recs)
    assert max(map(len, md.splitlines())) > 70 and md.count("dcgan") == 1  # the file's table is not wrapped
    assert len(tables.terminal_table(recs, width=1000).splitlines()) == 5  # heading, header, rule, 2 models


def test_mog_plot_title_clear_of_panel_titles_and_hq_radius_drawn(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    import numpy as np

    from ganbench.report import plots

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    c = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
    x = np.random.default_rng(0).normal(size=(100, 2))
    plots.mog_grid({("gan", "ring"): x, ("wgan", "ring"): x}, {"ring": c}, tmp_path / "m.png", radii={"ring": 0.034})
    fig = figs[0]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    sup = fig._suptitle.get_window_extent(r)
    for ax in fig.axes:
        assert not sup.overlaps(ax.title.get_window_extent(r)), "figure title overlaps a panel title"
    circles = [p for p in fig.axes[0].patches if isinstance(p, plt.Circle)]
    assert len(circles) == 8 and all(p.radius == 0.034 for p in circles)
    assert "HQ r=0.034" in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize("datasets", [("ring",), ("ring", "grid")])
def test_mog_plot_title_fits_inside_the_figure(tmp_path, monkeypatch, datasets):
    """The figure title is wrapped to the figure's width: none of it is cut off at either edge (the
    two-column ring + grid figure of the mixture suites used to lose both ends of its one line)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ganbench.report import plots

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    c = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
    x = np.random.default_rng(0).normal(size=(100, 2))
    plots.mog_grid({("gan", d): x for d in datasets}, {d: c for d in datasets}, tmp_path / "m.png",
                   radii={d: 0.05 for d in datasets})
    fig = figs[0]
    fig.canvas.draw()
    sup = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    assert sup.x0 >= 0 and sup.x1 <= fig.bbox.width, (sup, fig.bbox.width)
    assert "shaded: high-quality radius" in " ".join(fig._suptitle.get_text().split())
    plt.close(fig)
