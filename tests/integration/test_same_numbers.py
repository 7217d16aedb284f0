"""`ganbench run` and `ganbench eval` give the same numbers as before the evaluation engine was
redesigned (issue 10).

``tests/data/same_numbers.jsonl`` holds the records that ``make_records`` wrote with the code of
main before the redesign (commit 6e5a673), made by running this file as a script:

    PYTHONPATH=<export of main> python tests/integration/test_same_numbers.py tests/data/same_numbers.jsonl

The test runs the same commands with the current code and compares every metric and every
protocol entry. Only inputs ganbench makes itself are used: a smoke mixture run, and a two-step
DCGAN run on a synthetic CIFAR-10-format folder scored with a pixel stand-in for Inception (so
no weights file is needed), then ``ganbench eval`` of its checkpoint and of its saved samples.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # cli_fakes, also when run as a script

from cli_fakes import PixelExtractor  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "same_numbers.jsonl"
# Provenance says where and when; these protocol entries name files of the temporary folder.
VOLATILE = {"ref", "samples_sha256"}
# Entries the redesign added: training-time records now say what `ganbench eval` records always
# said about the generator (one engine writes both), and KID records the coef0 it used.
ADDED = {"z_dim", "num_classes", "kid_coef0"}
# Entries the redesign dropped: the old code wrote Inception's description of a mode's preprocessing
# for any extractor with that mode name, so this test's pixel stand-in claimed a TF resize it never
# ran; an extractor now describes only its own preprocessing (FeatureExtractor.preprocessing).
DROPPED = {"preprocessing"}


def _cli(*args: object) -> None:
    from ganbench.cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as e:
        assert not e.code, f"ganbench {' '.join(map(str, args))} exited {e.code}"


def make_records(tmp: Path) -> list[dict]:
    """Every record of the four commands, in a fixed order, as dicts. The extractor "test-pixels"
    is this test's own for the duration (other tests register other extractors under that name)."""
    from ganbench.features.base import ExtractorSpec
    from ganbench.registry import EXTRACTORS

    ext = "test-pixels"
    EXTRACTORS.names()  # loads the registry first, so the entry below is not replaced
    saved = EXTRACTORS._items.get(ext)
    EXTRACTORS._items[ext] = ExtractorSpec(ext, lambda opts: PixelExtractor(ext, 8), ("legacy-tf",), False, False,
                                           "test only")
    try:
        return _make_records(tmp, ext)
    finally:
        if saved is None:
            EXTRACTORS._items.pop(ext, None)
        else:
            EXTRACTORS._items[ext] = saved


def _make_records(tmp: Path, ext: str) -> list[dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_run_images import write_cifar10

    data = tmp / "cifar"
    write_cifar10(data)
    _cli("run", "--models", "gan", "--dataset", "ring", "--budget", "smoke", "--seeds", "0", "--out", tmp / "mog",
         "--quiet", "--no-tensorboard")
    _cli("run", "--models", "dcgan", "--dataset", "cifar10", "--data-dir", data, "--budget", "smoke", "--seeds", "0",
         "--steps", "2", "--eval-every", "1", "--features", ext, "--bootstrap", "4", "--out", tmp / "img",
         "--quiet", "--no-tensorboard")
    ck = tmp / "img" / "dcgan" / "cifar10" / "seed0" / "checkpoint.pt"
    common = ["--ref", "cifar10", "--data-dir", data, "--features", ext, "--metrics", "fid,kid,pr,dc", "--n-real", 50,
              "--bootstrap", 4, "--seed", 3, "--no-cache", "--quiet", "--device", "cpu"]
    _cli("eval", ck, "-n", 40, "--save-samples", tmp / "s.npz", "--json", tmp / "e.jsonl", *common)
    _cli("eval", tmp / "s.npz", "--json", tmp / "e.jsonl", "--name", "samples", *common)
    out = []
    for f in (tmp / "mog" / "records.jsonl", tmp / "img" / "records.jsonl", tmp / "e.jsonl"):
        out += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)
    return a == b


def test_run_and_eval_give_the_numbers_of_the_code_before_the_redesign(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    before = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    now = make_records(tmp_path)
    assert [(r["model"], r["dataset"], r["step"], r["kind"]) for r in now] == \
        [(r["model"], r["dataset"], r["step"], r["kind"]) for r in before]
    for a, b in zip(before, now):
        where = f"{a['model']}/{a['dataset']} step {a['step']} ({a['kind']})"
        assert set(a["metrics"]) == set(b["metrics"]), where
        for k in a["metrics"]:
            assert _same(a["metrics"][k], b["metrics"][k]), f"{where}: {k} {a['metrics'][k]} -> {b['metrics'][k]}"
        pa = {k: v for k, v in a["protocol"].items() if k not in VOLATILE and not (k in DROPPED and k not in b["protocol"])}
        pb = {k: v for k, v in b["protocol"].items() if k not in VOLATILE and not (k in ADDED and k not in pa)}
        assert pa == pb, where


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        import os

        os.environ["GANBENCH_CACHE"] = str(Path(d) / "cache")
        recs = make_records(Path(d))
    Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(sys.argv[1]).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in recs))
    print(f"wrote {len(recs)} records to {sys.argv[1]}")
