"""Our results beside the published ones (ganbench/published.csv): the reproduction table.

For every (model, dataset, metric) with a published row, our mean over seeds at the final step with
its 95% t-interval, the paper's value with its spread, and whether the paper's value lies inside
our interval. A row whose records used another high-quality rule than the paper says so instead.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Iterable

import pandas as pd

from ganbench.records import ResultRecord
from ganbench.report.tables import summary


def published() -> pd.DataFrame:
    with resources.files("ganbench").joinpath("published.csv").open("r", encoding="utf-8") as f:
        return pd.read_csv(f, comment="#", keep_default_na=False, na_values={"spread": [""]})


def _rule(records: list[ResultRecord], model: str, dataset: str) -> tuple[str, str]:
    """(hq rule, budget) of a (model, dataset)'s records: the first word of hq_rule, the budget and
    the last evaluated step (a run cut short says so)."""
    mine = [r for r in records if r.model == model and r.dataset == dataset and "hq_rule" in r.protocol]
    if not mine:
        return "", ""
    p, step = mine[0].protocol, max(r.step for r in mine)
    return str(p["hq_rule"]).split(":")[0], f"{p.get('budget', '?')} (step {step} of {p.get('steps', '?')})"


def reproduction(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """One row per (ours, published) pair that exists."""
    records = list(records)
    ours = summary(records)
    pub = published()
    rows = []
    for _, p in pub.iterrows():
        hit = ours[(ours["model"] == p["model"]) & (ours["dataset"] == p["dataset"]) & (ours["metric"] == p["metric"])]
        if hit.empty:
            continue
        o = hit.iloc[0]
        rule, budget = _rule(records, p["model"], p["dataset"])
        lo, hi = o["seed_ci_low"], o["seed_ci_high"]
        if rule != p["rule"]:
            inside = f"n/a: our rule {rule or '?'}"
        elif math.isnan(lo):
            inside = "n/a: 1 seed"
        else:
            inside = "yes" if lo <= p["value"] <= hi else "no"
        se = o["std"] / math.sqrt(o["n_seeds"]) if o["n_seeds"] > 1 else float("nan")
        rows.append({"model": p["model"], "dataset": p["dataset"], "metric": p["metric"], "ours": o["mean"], "se": se,
                     "ci_low": lo, "ci_high": hi, "n_seeds": int(o["n_seeds"]), "budget": budget,
                     "paper": p["value"], "paper_spread": p["spread"], "paper_spread_kind": p["spread_kind"],
                     "paper_n": int(p["n_seeds"]), "source": f"{p['paper_model']}, {p['source']}",
                     "inside": inside})
    return pd.DataFrame(rows)


def _num(x: float, metric: str) -> str:
    if isinstance(x, float) and math.isnan(x):
        return ""
    return f"{100 * x:.1f}%" if metric == "hq_share" else f"{x:.2f}"


def markdown_reproduction(records: Iterable[ResultRecord]) -> str:
    """The reproduction table in markdown; empty when no published row matches."""
    df = reproduction(records)
    if df.empty:
        return ""
    lines = ["| model | dataset | metric | ours: mean ± se [95% interval] (seeds) | budget | published ± spread (runs) "
             "| source | published inside ours |", "|" + "---|" * 8]
    for _, r in df.iterrows():
        m = r["metric"]
        se = f" ± {_num(r['se'], m)}" if not math.isnan(r["se"]) else ""
        ours = f"{_num(r['ours'], m)}{se} [{_num(r['ci_low'], m)}, {_num(r['ci_high'], m)}] ({r['n_seeds']})"
        spread = f" ± {_num(r['paper_spread'], m)} {r['paper_spread_kind']}" if r["paper_spread_kind"] else ""
        lines.append(f"| {r['model']} | {r['dataset']} | {m} | {ours} | {r['budget']} | "
                     f"{_num(r['paper'], m)}{spread} ({r['paper_n']}) | {r['source']} | {r['inside']} |")
    return "\n".join(lines)


def html_reproduction(records: Iterable[ResultRecord]) -> str:
    """The same table as HTML for report.html; empty when no published row matches."""
    import html

    text = markdown_reproduction(records)
    if not text:
        return ""
    rows = [line.strip("|").split(" | ") for line in text.splitlines() if not line.startswith("|---")]
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<h3>Beside the published numbers (PacGAN, VEEGAN)</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
