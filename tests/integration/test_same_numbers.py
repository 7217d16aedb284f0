"""`ganbench run` and `ganbench eval` give the same numbers as before the evaluation engine was
redesigned (issue 10) and before the two training loops became one (issue 19).

``tests/data/same_numbers.jsonl`` holds the records that ``make_records`` wrote with the code of
main before the training redesign (commit 40f1c0a; its first four commands' records equal those
of 6e5a673, before the evaluation redesign), made by running this file as a script:

    PYTHONPATH=<export of main> python tests/integration/test_same_numbers.py tests/data/same_numbers.jsonl

The test runs the same commands with the current code and compares every metric and every
protocol entry. Only inputs ganbench makes itself are used: a smoke mixture run of one seed, a
stacked run of two seeds of three mixture baselines (the simultaneous update, the unrolled step,
the gradient penalty), a two-step DCGAN and a WGAN-GP run on a synthetic CIFAR-10-format folder
scored with a pixel stand-in for Inception (so no weights file is needed), then ``ganbench eval``
of a checkpoint and of its saved samples.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # cli_fakes, also when run as a script

from cli_fakes import PixelExtractor

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "same_numbers.jsonl"
# Provenance says where and when; these protocol entries name files of the temporary folder.
VOLATILE = {"ref", "samples_sha256"}
# Entries the redesign added: training-time records now say what `ganbench eval` records always
# said about the generator (one engine writes both), and KID records the coef0 it used.
ADDED = {"z_dim", "num_classes", "kid_coef0"}
# Issue 19's one loop writes one record layout for stacked and per-seed runs: every record says
# which checkpoint it describes (`selection`, which stacked records lacked) and how many seeds were
# trained as one network (`vectorised_seeds`, 1 alone, which per-seed records lacked).
ADDED |= {"selection", "vectorised_seeds"}
# The unrolled baseline names its step: `update = "unrolled"` (before, the alternating default, unwritten).
ADDED |= {"update"}
# Before issue 19 every record of a stack carried the first seed's evaluation seeds (the stacked loop
# wrote evaluator 0's protocol into each seed's record although each seed was scored with its own):
# the values were right, the protocol wrong. Now each record names its own (10000 + its seed).
OWN_EVAL_SEED = {"sample_seed", "ci_seed"}
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
    spec = ExtractorSpec(ext, lambda opts: PixelExtractor(ext, 8), ("legacy-tf",), False, False, "test only")
    if hasattr(EXTRACTORS, "temporarily"):
        with EXTRACTORS.temporarily(ext, spec):
            return _make_records(tmp, ext)
    EXTRACTORS.names()  # (the code before issue 19, when this file runs as a script to make the fixture)
    EXTRACTORS._items[ext] = spec
    return _make_records(tmp, ext)


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
    _cli("run", "--models", "pacgan2,unrolled,wgan-gp", "--dataset", "grid", "--budget", "smoke", "--seeds", "0,1",
         "--steps", "40", "--eval-every", "20", "--out", tmp / "stack", "--quiet", "--no-tensorboard", "--workers", "1")
    _cli("run", "--models", "wgan-gp", "--dataset", "cifar10", "--data-dir", data, "--budget", "smoke", "--seeds", "1",
         "--steps", "2", "--eval-every", "2", "--features", ext, "--bootstrap", "4", "--out", tmp / "gp",
         "--quiet", "--no-tensorboard")
    ck = tmp / "img" / "dcgan" / "cifar10" / "seed0" / "checkpoint.pt"
    common = ["--ref", "cifar10", "--data-dir", data, "--features", ext, "--metrics", "fid,kid,pr,dc", "--n-real", 50,
              "--bootstrap", 4, "--seed", 3, "--no-cache", "--quiet", "--device", "cpu"]
    _cli("eval", ck, "-n", 40, "--save-samples", tmp / "s.npz", "--json", tmp / "e.jsonl", *common)
    _cli("eval", tmp / "s.npz", "--json", tmp / "e.jsonl", "--name", "samples", *common)
    out = []
    for f in (tmp / "mog" / "records.jsonl", tmp / "img" / "records.jsonl", tmp / "e.jsonl",
              tmp / "stack" / "records.jsonl", tmp / "gp" / "records.jsonl"):
        out += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return out


# Convolutions sum in an order that depends on the CPU's instruction set (oneDNN picks the kernel),
# and two training steps amplify the last bits: the same code (40f1c0a) and torch (2.14.1) gave DCGAN
# FID 12.55709 on the host that wrote the first fixture and 12.55778 on the next one (5.5e-5
# relative). Image records are compared at 1e-3, which a change of what is computed exceeds by far;
# mixture records (linear layers) at 1e-5.
RTOL = {"image": 1e-3, "vector": 1e-5}


def _same(a: object, b: object, rtol: float = 1e-5) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=1e-7)
    return a == b


def test_run_and_eval_give_the_numbers_of_the_code_before_the_redesign(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    before = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    now = make_records(tmp_path)
    assert [(r["model"], r["dataset"], r["step"], r["kind"]) for r in now] == \
        [(r["model"], r["dataset"], r["step"], r["kind"]) for r in before]
    for a, b in zip(before, now, strict=True):
        where = f"{a['model']}/{a['dataset']} step {a['step']} ({a['kind']})"
        assert set(a["metrics"]) == set(b["metrics"]), where
        rtol = RTOL["image" if a["dataset"] == "cifar10" else "vector"]
        for k in a["metrics"]:
            assert _same(a["metrics"][k], b["metrics"][k], rtol), f"{where}: {k} {a['metrics'][k]} -> {b['metrics'][k]}"
        pa = {k: v for k, v in a["protocol"].items()
              if k not in VOLATILE and not (k in DROPPED and k not in b["protocol"])}
        pb = {k: v for k, v in b["protocol"].items() if k not in VOLATILE and not (k in ADDED and k not in pa)}
        if b["kind"] == "train-eval" and "sample_seed" in pb:  # each seed's record names its own evaluation seeds
            assert pb["sample_seed"] == 10_000 + b["seed"], where
            pa = {k: v for k, v in pa.items() if k not in OWN_EVAL_SEED}
            pb = {k: v for k, v in pb.items() if k not in OWN_EVAL_SEED}
        assert pa == pb, where
        if b["kind"] == "train-eval":
            assert {"selection", "vectorised_seeds"} <= set(b["protocol"]), where


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        import os

        os.environ["GANBENCH_CACHE"] = str(Path(d) / "cache")
        recs = make_records(Path(d))
    Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(sys.argv[1]).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in recs))
    print(f"wrote {len(recs)} records to {sys.argv[1]}")
