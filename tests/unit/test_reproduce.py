"""The published numbers ship with the package and sit beside ours in the reproduction table."""

import pytest

from ganbench.records import ResultRecord
from ganbench.report.reproduce import markdown_reproduction, published, reproduction


def _recs(model, dataset, values, rule="3sigma: Euclidean distance to nearest mean < 3 sigma (PacGAN/VEEGAN)"):
    return [ResultRecord(model=model, dataset=dataset, seed=s, step=100, metrics={"modes": v, "hq_share": 0.9},
                         protocol={"hq_rule": rule, "budget": "cpu", "steps": 100}, provenance={})
            for s, v in enumerate(values)]


def test_published_pacgan_table_1_is_shipped():
    pub = published()
    row = pub[(pub.model == "pacgan4") & (pub.dataset == "grid") & (pub.metric == "modes")].iloc[0]
    assert (row.value, row.spread, row.n_seeds, row.rule) == (24.8, 0.2, 10, "3sigma")
    assert set(pub.source) == {"PacGAN Table 1", "VEEGAN Table 1"}


def test_paper_value_inside_or_outside_our_interval():
    inside = reproduction(_recs("gan", "grid", [16, 17, 18, 19]))
    row = inside[(inside.metric == "modes") & inside.source.str.contains("PacGAN")].iloc[0]
    assert row.inside == "yes" and row.ours == pytest.approx(17.5)
    outside = reproduction(_recs("gan", "grid", [10, 10.5, 11]))
    assert outside[(outside.metric == "modes") & outside.source.str.contains("PacGAN")].iloc[0].inside == "no"


def test_another_hq_rule_is_not_compared():
    df = reproduction(_recs("gan", "ring", [6, 7], rule="chi: distance <= 3.439 sigma"))
    assert df.inside.str.startswith("n/a: our rule chi").all()


def test_markdown_names_the_papers_and_is_empty_without_a_match():
    text = markdown_reproduction(_recs("gan", "ring", [6, 7, 8]))
    assert "PacGAN Table 1" in text and "VEEGAN Table 1" in text and "98.2%" in text
    assert markdown_reproduction(_recs("lsgan", "ring", [6, 7])) == ""


def test_report_files_carry_the_reproduction_table(tmp_path):
    from ganbench.report.write import write_run_report

    written = write_run_report(tmp_path, _recs("pacgan4", "grid", [24, 25, 25]), formats=("md", "html"))
    md = (tmp_path / "table.md").read_text()
    assert "PacGAN4, PacGAN Table 1" in md and "24.80 ± 0.20 se (10)" in md
    assert "Beside the published numbers" in (tmp_path / "report.html").read_text()
    assert "PacGAN" in written["reproduction_text"]
