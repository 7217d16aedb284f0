"""Every document the code, tests, recipes or docs cite is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("ganbench", "tests", "benchmarks", "docs")
SUFFIXES = {".py", ".toml", ".md", ".cfg", ".txt"}
# A document name: path characters ending in .md (not part of a longer word such as ".mdx").
MD_NAME = re.compile(r"(?<![\w/.-])([\w./-]*\w\.md)\b")
# Files ganbench writes into a run directory: outputs, not citations.
OUTPUT_NAMES = {"table.md", "compare.md"}
SECTION = re.compile(r"docs/(\w+)\.md,? (?:section|convention)s? (\d+)")


def _scanned_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    for d in SCANNED:
        files += [p for p in (ROOT / d).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return [f for f in files if f.exists() and f != Path(__file__).resolve()]


def _exists(name: str, cited_from: Path) -> bool:
    return any((base / name).is_file() for base in (ROOT, cited_from.parent, ROOT / "docs"))


def test_every_cited_document_exists():
    missing = []
    for f in _scanned_files():
        for m in MD_NAME.finditer(f.read_text(encoding="utf-8", errors="replace")):
            if m.group(1) not in OUTPUT_NAMES and not _exists(m.group(1), f):
                missing.append(f"{f.relative_to(ROOT)}: {m.group(1)}")
    assert not missing, "cited documents not in the repository:\n" + "\n".join(missing)


def test_cited_sections_exist():
    """"docs/reference.md section 4" needs a "## 4." heading (conventions: a "4." item)."""
    bad = []
    for f in _scanned_files():
        for m in SECTION.finditer(f.read_text(encoding="utf-8", errors="replace")):
            doc = (ROOT / "docs" / f"{m.group(1)}.md").read_text(encoding="utf-8")
            if not re.search(rf"^(## )?{m.group(2)}\. ", doc, re.M):
                bad.append(f"{f.relative_to(ROOT)}: {m.group(0)}")
    assert not bad, "cited sections that do not exist:\n" + "\n".join(bad)


def test_the_scan_finds_citations():
    # Guards the regular expression: the scan must see the citations it is meant to check.
    absent = "DESIGN" + ".md"
    text = f"see docs/reference.md section 1 and {absent}"
    assert [m.group(1) for m in MD_NAME.finditer(text)] == ["docs/reference.md", absent]
    assert not _exists(absent, ROOT / "ganbench" / "x.py")
    assert "docs/reference.md" in {m.group(1) for f in _scanned_files() for m in MD_NAME.finditer(f.read_text())}


def test_output_names_are_outputs():
    writer = (ROOT / "ganbench" / "layout.py").read_text()  # the run directory's names (ganbench.layout)
    assert all(f'"{n}"' in writer for n in OUTPUT_NAMES)
