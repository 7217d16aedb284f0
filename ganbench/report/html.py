"""One self-contained HTML report: tables, base64-embedded PNGs, protocol and provenance.

No external CSS, scripts or fonts: the file opens from disk in any browser, offline, and can be
attached to a CI run as a single artifact.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.records import ResultRecord

# Protocol keys shown first (the ones that decide whether two numbers are comparable).
PROTOCOL_FIRST = ("budget", "steps", "batch_size", "n_gen", "n_real", "split", "extractor", "mode",
                  "weights_sha256", "k", "nearest_k", "dataset_identity")
DIFFERS = ' class="differs"'  # an evaluation protocol key (ganbench.check.protocol_keys) differs
VARIES = ' class="varies"'  # a recipe setting differs, as it should between models
PROVENANCE_KEYS = ("ganbench", "git_sha", "torch", "numpy", "python", "device", "device_used")

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 16px 24px 48px; color: #1d1d1f; background: #ffffff; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1.1em 0 0.4em; }
.meta { color: #57606a; font-size: 0.92em; margin: 0.2em 0; }
nav { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; margin: 10px 0; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
.note { color: #57606a; font-size: 0.9em; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; text-align: right; white-space: nowrap; }
thead th { background: #eef2f6; text-align: center; }
tbody th { background: #f6f8fa; text-align: left; }
td.best { font-weight: bold; background: #dcf1da; }
table.protocol td { text-align: left; white-space: normal; max-width: 420px; overflow-wrap: anywhere; }
td.differs { background: #ffd9a8; }
td.varies { background: #eef4fb; }
.scroll { overflow-x: auto; }
table.protocol th { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; background: #ffffff; }
figure img { display: block; max-width: 100%; height: auto; image-rendering: auto; }
figure img.pixels { image-rendering: pixelated; }
figcaption { font-size: 0.85em; color: #57606a; margin-top: 4px; max-width: 560px; }
.wide img { max-width: 1180px; }
.warn { background: #fff1c2; border: 1px solid #e3b341; padding: 6px 10px; border-radius: 6px; }
footer { margin-top: 2.5em; color: #57606a; font-size: 0.85em; }
"""


@dataclass
class FigureItem:
    """One embedded PNG; ``pixels`` keeps small images crisp when the browser scales them."""

    path: Path
    caption: str
    wide: bool = False
    pixels: bool = False


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _figure(f: FigureItem) -> str:
    cls = ' class="wide"' if f.wide else ""
    img_cls = ' class="pixels"' if f.pixels else ""
    return (f'<figure{cls}><img{img_cls} src="{png_data_uri(f.path)}" alt="{html.escape(f.caption)}">'
            f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")


def _anchor(title: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def _cell(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v)


def protocol_tables(records: Iterable[ResultRecord]) -> dict[str, tuple[list[str], list[tuple[str, list[str]]]]]:
    """Per dataset: the models, and one row per protocol key with each model's value (values that
    vary within a model, such as the per-seed sample seed, are joined with commas)."""
    by_ds: dict[str, dict[str, dict[str, list[str]]]] = {}
    for r in records:
        cols = by_ds.setdefault(r.dataset, {}).setdefault(r.model, {})
        for k, v in {"kind": r.kind, "seeds": r.seed, **r.protocol}.items():
            s = _cell(v)
            if s not in cols.setdefault(k, []):
                cols[k].append(s)
    out = {}
    for ds, models in by_ds.items():
        keys = list(dict.fromkeys(k for cols in models.values() for k in cols if k not in ("kind", "seeds")))
        keys = (["kind", "seeds"] + [k for k in PROTOCOL_FIRST if k in keys]
                + sorted(k for k in keys if k not in PROTOCOL_FIRST))
        rows = []
        for k in keys:
            vals = []
            for cols in models.values():
                v = cols.get(k, ["—"])
                vals.append(", ".join(sorted(v, key=_natural) if k == "seeds" else v))
            rows.append((k, vals))
        out[ds] = (list(models), rows)
    return out


def _natural(s: str) -> tuple:
    return (0, int(s), "") if s.lstrip("-").isdigit() else (1, 0, s)


def _protocol_html(records: list[ResultRecord]) -> str:
    from ganbench.check import protocol_keys

    compared = protocol_keys()

    parts = []
    for ds, (models, rows) in protocol_tables(records).items():
        head = "<th>key</th>" + "".join(f"<th>{html.escape(m)}</th>" for m in models)
        body, flagged = [], []
        for key, vals in rows:
            if len(set(vals)) == 1:  # the same for every model: one cell across all columns
                cells = f'<td colspan="{len(vals)}">{html.escape(vals[0])}</td>'
            else:
                cls = DIFFERS if key in compared else VARIES
                if key in compared:
                    flagged.append(key)
                cells = "".join(f"<td{cls}>{html.escape(v)}</td>" for v in vals)
            body.append(f"<tr><th>{html.escape(key)}</th>{cells}</tr>")
        warn = (f'<p class="warn">Evaluation protocol differs between models ({html.escape(", ".join(flagged))}): '
                "their numbers are not directly comparable.</p>") if flagged else ""
        parts.append(f"<h3>{html.escape(ds)}</h3>{warn}<div class=\"scroll\"><table class=\"protocol\">"
                     f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
    return "".join(parts) or "<p>(no protocol recorded)</p>"


def _provenance_html(records: list[ResultRecord]) -> str:
    vals: dict[str, list[str]] = {}
    times = sorted(str(r.provenance["time_utc"]) for r in records if r.provenance.get("time_utc"))
    for r in records:
        for k in PROVENANCE_KEYS:
            if r.provenance.get(k) is not None:
                s = str(r.provenance[k])
                if s not in vals.setdefault(k, []):
                    vals[k].append(s)
    rows = [(k, ", ".join(v)) for k, v in vals.items()]
    if times:
        rows.append(("computed (UTC)", times[0] if times[0] == times[-1] else f"{times[0]} … {times[-1]}"))
    if not rows:
        return "<p>(no provenance recorded)</p>"
    body = "".join(f"<tr><th>{html.escape(k)}</th><td style=\"text-align:left\">{html.escape(v)}</td></tr>"
                   for k, v in rows)
    return f'<table class="protocol"><tbody>{body}</tbody></table>'


def render_report(title: str, records: list[ResultRecord], table_html: str, table_note: str,
                  figure_sections: list[tuple[str, list[FigureItem], str]],
                  extra_lines: list[str] | None = None) -> str:
    """The whole report as one HTML string. ``figure_sections``: (title, figures, note); empty ones are left out."""
    models = list(dict.fromkeys(r.model for r in records))
    datasets = list(dict.fromkeys(r.dataset for r in records))
    seeds = sorted({r.seed for r in records})
    sections = [("Results", f'<p class="note">{html.escape(table_note)}</p><div class="scroll">{table_html}</div>')]
    for stitle, figs, note in figure_sections:
        if figs:
            inner = "".join(_figure(f) for f in figs)
            sections.append((stitle, (f'<p class="note">{html.escape(note)}</p>' if note else "")
                             + f'<div class="figures">{inner}</div>'))
    sections.append(("Protocol", '<p class="note">Every protocol key of the records, per dataset and model; '
                                 "a value shared by all models spans their columns; values that vary within a model "
                                 "(such as the per-seed sample seed) are listed together. Blue: recipe settings "
                                 "that differ between models by design; orange: evaluation settings that differ."
                                 "</p>" + _protocol_html(records)))
    sections.append(("Provenance", _provenance_html(records)))
    nav = "".join(f'<a href="#{_anchor(t)}">{html.escape(t)}</a>' for t, _ in sections)
    body = "".join(f'<section id="{_anchor(t)}"><h2>{html.escape(t)}</h2>{c}</section>' for t, c in sections)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = [f"{len(records)} records · models: {', '.join(models)} · datasets: {', '.join(datasets)} · "
            f"seeds: {', '.join(map(str, seeds))}", f"generated {now}", *(extra_lines or [])]
    meta_html = "".join(f'<p class="meta">{html.escape(m)}</p>' for m in meta)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>"
            f"<header><h1>{html.escape(title)}</h1>{meta_html}<nav>{nav}</nav></header>\n{body}\n"
            f'<footer>Written by ganbench from records (JSONL); tables and images are embedded, so this '
            f"file is complete on its own.</footer></body></html>\n")
