"""Ranking models across datasets (Demšar 2006, JMLR 7: the Friedman test on ranks, then the Nemenyi
post-hoc test and its critical difference), through autorank (Herbold 2020, JOSS 5(48)).

A block is one (dataset, metric) column, each model's value its mean over seeds, turned so that
higher is better. Per metric the blocks are its datasets; "all metrics" pools every column. Pooled
metrics of one dataset are not independent blocks (modes and reverse KL move together), so that
ranking's p-value is optimistic; it is the one that exists when a suite has fewer than 5 datasets.
Only blocks where every ranked model has a value are used, and the output says which were left out.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from ganbench.compare import stats as S
from ganbench.compare.result import ColumnResult, clean_json

ALL = "all metrics"
MIN_BLOCKS = 5  # autorank refuses fewer rows ("requires at least five performance estimations")
TEST = "Friedman test, Nemenyi post-hoc test (autorank, force_mode='nonparametric')"
TWO_MODELS = "Wilcoxon signed-rank test (autorank, two models)"
POOLED = ("every (dataset, metric) column is a block; the metrics of one dataset are not independent, so the "
          "p-value is optimistic")


@dataclass
class Ranking:
    name: str  # a metric, or ALL
    blocks: list[str]  # "dataset/metric" columns ranked over
    mean_rank: dict[str, float]  # model -> mean rank (1 = best), best first
    test: str | None = None
    p_value: float | None = None
    cd: float | None = None  # Nemenyi critical difference in mean rank
    top_group: list[str] | None = None  # models within cd of the best mean rank
    left_out: list[str] = field(default_factory=list)  # blocks where a ranked model has no value
    note: str = ""
    result: Any = None  # autorank's RankResult (for the diagram); not serialised

    def to_json(self) -> dict[str, Any]:
        return clean_json({k: v for k, v in vars(self).items() if k != "result"})


def block_table(columns: list[ColumnResult]) -> tuple[Any, list[str]]:
    """Blocks x models of oriented means, over the blocks where every model has a value."""
    import pandas as pd

    rows = {}
    for c in columns:
        rows[c.name] = {m.model: float(S.orient(m.mean, c.direction)) for m in c.models if math.isfinite(m.mean)}
    df = pd.DataFrame.from_dict(rows, orient="index")
    keep = df.notna().all(axis=1)
    return df[keep], [b for b in df.index if not keep[b]]


def rank(columns: list[ColumnResult], name: str, alpha: float = S.ALPHA) -> Ranking | None:
    """One ranking over ``columns``; None when fewer than 2 blocks or 2 models are left."""
    df, left_out = block_table(columns)
    if len(df) < 2 or df.shape[1] < 2:
        return None
    ranks = df.rank(axis=1, ascending=False).mean().sort_values()
    out = Ranking(name, list(df.index), dict(ranks), left_out=left_out)
    if len(df) < MIN_BLOCKS:
        out.note = (f"mean ranks only, no test: {len(df)} blocks, and the Friedman test through autorank needs "
                    f"{MIN_BLOCKS} or more")
        return out
    from autorank import autorank

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = autorank(df, alpha=alpha, verbose=False, order="descending", force_mode="nonparametric")
    out.result, out.p_value = res, float(res.pvalue)
    out.mean_rank = {m: float(r) for m, r in res.rankdf["meanrank"].sort_values().items()}
    if df.shape[1] == 2:
        out.test = TWO_MODELS
        return out
    out.test, out.cd = TEST, float(res.cd)
    first = min(out.mean_rank.values())
    out.top_group = [m for m, r in out.mean_rank.items() if r - first < out.cd]
    return out


def rank_models(columns: list[ColumnResult], alpha: float = S.ALPHA) -> list[Ranking]:
    """Per metric over its datasets (where it has 2 or more), then over every column pooled."""
    usable = [c for c in columns if len(c.models) >= 2 and c.problem is None]
    out = []
    for metric in dict.fromkeys(c.metric for c in usable):
        mine = [c for c in usable if c.metric == metric]
        if len({c.dataset for c in mine}) >= 2 and (r := rank(mine, metric, alpha)):
            out.append(r)
    if len({c.dataset for c in usable}) >= 2 and (r := rank(usable, ALL, alpha)):
        r.note = "; ".join(filter(None, [r.note, POOLED]))
        out.append(r)
    return out

