"""`ganbench eval GENERATOR` for generators ganbench did not train.

The same DCGAN generator, evaluated as a TorchScript file (scripted and traced), as a state dict
and as a .safetensors file with its registered architecture, as a package.module:factory entry
point, and as its saved samples (npz NCHW/NHWC, PNG folder, zip of PNGs), gives identical metrics.
A pickle that would run code on load is refused, and the code never runs.

The CLI runs in-process (ganbench.cli.main) with a cheap deterministic pixel extractor, so each
evaluation takes well under a second; the real Inception runs in test_eval_cli.py.
"""

from __future__ import annotations

import json
import os
import pickle
import textwrap
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ganbench.config import RunConfig
from ganbench.evaluation.engine import evaluate as run_engine
from ganbench.evaluation.options import EvalOptions
from ganbench.features.base import FeatureExtractor, register_extractor
from ganbench.generators import sample_all
from ganbench.records import read_records
from ganbench.registry import ARCHITECTURES, EXTRACTORS

from cli_fakes import run_cli  # tests/ is on sys.path (rootdir conftest)

EXT = "test-pixels-ext"


def evaluate_images(fake, ref, n=None, **options):
    """The engine called with the old keyword names (``n`` is EvalOptions.n_gen): (values, protocol)."""
    ev = run_engine(fake, ref, EvalOptions(n_gen=n, **options))
    return ev.values, ev.protocol
N, SEED, Z = 24, 7, 16


class PixelExtractor(FeatureExtractor):
    """Deterministic stand-in for Inception: 8x8 pooled pixels ("pool3") and projected "logits"."""

    name, weights_sha256, mode = "test-pixels-ext", None, "legacy-tf"
    def __init__(self) -> None:
        self.dims = {"pool3": 192, "logits": 10}
        self.w = torch.randn(192, 10, generator=torch.Generator().manual_seed(0))

    def __call__(self, x):
        x = torch.as_tensor(x)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        f = F.adaptive_avg_pool2d(x.float() / 255, 8).flatten(1)
        return {"pool3": f, "logits": f @ self.w * 4}


if EXT not in EXTRACTORS:
    register_extractor(EXT, lambda opts: PixelExtractor(), modes=("legacy-tf",), help="test only")


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ganbench: error: ") and "Traceback" not in err
    return lines[0]


def make_generator() -> nn.Module:
    g_cls, _ = ARCHITECTURES.get("dcgan")
    torch.manual_seed(0)
    g = g_cls(out_shape=(3, 32, 32), z_dim=Z, width=8)
    for m in g.modules():  # larger weights than DCGAN's N(0, 0.02): varied, non-grey images
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.3)
    g.train()
    with torch.no_grad():  # move the batch-norm running statistics away from their defaults
        for _ in range(3):
            g(torch.randn(16, Z))
    return g.eval()


def write_pngs(x: np.ndarray, folder) -> None:
    folder.mkdir(parents=True)
    for i, im in enumerate(x.transpose(0, 2, 3, 1)):
        sub = folder / ("a" if i < len(x) // 2 else "b")  # recursive; sorted paths keep the order
        sub.mkdir(exist_ok=True)
        Image.fromarray(im).save(sub / f"{i:03d}.png")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ext")
    g = make_generator()
    torch.save(g.state_dict(), d / "g_state.pt")
    torch.save({"generator": g.state_dict(), "note": "nested"}, d / "g_nested.pth")
    from safetensors.torch import save_file

    save_file(g.state_dict(), str(d / "g.safetensors"))
    torch.jit.script(g).save(str(d / "g_script.pt"))
    torch.jit.trace(g, torch.randn(2, Z)).save(str(d / "g_trace.pt"))
    (d / "pkg").mkdir()
    (d / "pkg" / "__init__.py").write_text("")
    (d / "pkg" / "mygen.py").write_text(textwrap.dedent(f"""
        import torch
        from torch import nn
        from ganbench.nets.dcgan import DCGANGenerator

        def make():
            g = DCGANGenerator((3, 32, 32), z_dim={Z}, width=8)
            g.load_state_dict(torch.load({str(d / "g_state.pt")!r}, weights_only=True))
            return g

        class ZeroOne(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = make()
            def forward(self, z):
                return (self.g(z) + 1) / 2

        class Bytes(ZeroOne):
            def forward(self, z):
                return (self.g(z) + 1).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8)

        class ChannelsLast(ZeroOne):
            def forward(self, z):
                return self.g(z).permute(0, 2, 3, 1)

        class Conditional(nn.Module):
            # no z_dim / num_classes attributes: --z-dim and --num-classes say them
            def forward(self, z, y):
                return (y.float() / 2 - 0.75).view(-1, 1, 1, 1).expand(-1, 3, 32, 32) + 0 * z[:, :1, None, None]

        def make_zero_one():
            return ZeroOne()

        def make_bytes():
            return Bytes()

        def make_nhwc():
            return ChannelsLast()

        def make_conditional():
            return Conditional()

        def make_broken():
            raise ValueError("boom")
    """))
    x, _ = sample_all(g, N, SEED)
    np.savez(d / "samples.npz", x=x)
    np.save(d / "samples_nhwc.npy", x.transpose(0, 2, 3, 1))
    write_pngs(x, d / "pngs")
    with zipfile.ZipFile(d / "samples.zip", "w") as zf:
        for p in sorted((d / "pngs").rglob("*.png")):
            zf.write(p, p.relative_to(d / "pngs").as_posix())
    # The reference: a PNG folder of other images of the same size.
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 255, (30, 3, 32, 32), dtype=np.uint8)
    ref[:, :, 8:24, 8:24] //= 3
    write_pngs(ref, d / "ref")
    return {"dir": d, "g": g, "x": x}


def evaluate(capsys, tmp_path, target, *extra, ref=None, tag="r"):
    out = tmp_path / f"{tag}.json"
    saved = tmp_path / f"{tag}_samples.npz"
    code, stdout, err = run_cli(capsys, "eval", target, "--ref", ref, "--features", EXT, "-n", N, "--seed", SEED,
                                "--bootstrap", 5, "--json", out, "--save-samples", saved, "-q", *extra)
    assert code == 0, err
    (rec,) = read_records([out])
    with np.load(saved) as z:
        samples = z["x"]
    return rec, samples, stdout


KINDS = {
    "torchscript-scripted": ("g_script.pt", ()),
    "torchscript-traced": ("g_trace.pt", ("--z-dim", Z)),
    "state-dict": ("g_state.pt", ("--arch", "dcgan", "--arch-opt", "width=8", "--z-dim", Z)),
    "nested-state-dict": ("g_nested.pth", ("--arch", "dcgan", "--arch-opt", "width=8", "--z-dim", Z,
                                           "--shape", "3,32,32")),
    "safetensors": ("g.safetensors", ("--arch", "dcgan", "--arch-opt", "width=8", "--z-dim", Z)),
    "entry-point": ("pkg.mygen:make", ()),
    "entry-point-0..1": ("pkg.mygen:make_zero_one", ("--z-dim", Z, "--output-range", "0,1")),
    "entry-point-uint8": ("pkg.mygen:make_bytes", ("--z-dim", Z, "--output-range", "0,255")),
    "entry-point-nhwc": ("pkg.mygen:make_nhwc", ("--z-dim", Z)),
    "samples-npz": ("samples.npz", ()),
    "samples-npy-nhwc": ("samples_nhwc.npy", ()),
    "samples-png-folder": ("pngs", ()),
    "samples-zip": ("samples.zip", ()),
}


@pytest.fixture(scope="module")
def expected(files, tmp_path_factory):
    """Metrics of the saved samples, computed by the library directly."""
    return evaluate_images(files["x"], files["dir"] / "ref", n=N, extractor=PixelExtractor(), seed=SEED,
                           n_boot=5, progress=False)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_form_of_one_generator_gives_the_same_metrics(kind, files, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(files["dir"]))
    target, extra = KINDS[kind]
    if not target.startswith("pkg."):
        target = files["dir"] / target
    rec, samples, stdout = evaluate(capsys, tmp_path, target, *extra, ref=files["dir"] / "ref")
    if kind == "entry-point-0..1":  # (x+1)/2*2-1 in float32 may move a value across a rounding edge
        assert np.abs(samples.astype(int) - files["x"]).max() <= 1
        assert rec.metrics["fid"] == pytest.approx(expected[0]["fid"], rel=1e-3)
        return
    np.testing.assert_array_equal(samples, files["x"])  # same seed -> same z -> same uint8 images
    assert rec.metrics == pytest.approx(expected[0], rel=1e-12, abs=1e-12)
    assert {"fid", "fid_ci_low", "fid_ci_high", "kid", "kid_std", "is", "is_std", "precision", "recall",
            "density", "coverage"} <= set(rec.metrics)
    assert rec.kind == "eval" and rec.dataset == "ref" and rec.step == 0 and rec.seed == SEED
    assert rec.protocol["n_gen"] == N and rec.protocol["n_real"] == 30 and rec.protocol["extractor"] == EXT
    assert rec.protocol["bootstrap"] == 5 and rec.protocol["pr_k"] == 3 and rec.protocol["dc_k"] == 5
    want_kind = {"torchscript": "torchscript", "state-dict": "state-dict", "nested-state-dict": "state-dict",
                 "safetensors": "safetensors", "entry-point": "entry-point", "samples": "samples"}
    assert rec.provenance["target_kind"] == next(v for k, v in want_kind.items() if kind.startswith(k))
    is_file = not target.__str__().startswith("pkg.")
    if is_file and os.path.isfile(target):
        assert len(rec.provenance["target_sha256"]) == 64
    assert "fid" in stdout and "protocol:" in stdout


def test_conditional_entry_point_is_sampled_evenly(files, capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(files["dir"]))
    rec, samples, _ = evaluate(capsys, tmp_path, "pkg.mygen:make_conditional", "--z-dim", 4, "--num-classes", 4,
                               ref=files["dir"] / "ref")
    labels = np.round((samples[:, 0, 0, 0] / 127.5 - 1 + 0.75) * 2).astype(int)
    assert np.bincount(labels, minlength=4).tolist() == [6, 6, 6, 6]
    assert rec.protocol["num_classes"] == 4 and "class_sampling" in rec.protocol


def test_ganbench_checkpoint_defaults_to_its_dataset(tmp_path, capsys):
    from ganbench.training.run import seed_loop

    cfg = RunConfig(model="dcgan", dataset="digits32", budget="smoke", out_dir=tmp_path / "runs", progress=False,
                    recipe_overrides={"arch": {"image": {"width": 8, "z_dim": 12}}})
    loop = seed_loop(cfg)
    (ck,) = loop.save()
    out = tmp_path / "ck.jsonl"
    code, _stdout, err = run_cli(capsys, "eval", ck, "--features", EXT, "-n", 20, "--n-real", 30, "--bootstrap", 0,
                                "--json", out, "-q")
    assert code == 0, err
    (rec,) = read_records([out])
    assert (rec.model, rec.dataset, rec.seed, rec.step, rec.kind) == ("dcgan", "digits32", 0, 0, "eval")
    assert rec.protocol["dataset_identity"] == loop.dataset.identity() and rec.protocol["n_real"] == 30
    assert rec.provenance["target_kind"] == "ganbench-checkpoint" and rec.provenance["checkpoint_step"] == 0
    expected, _ = evaluate_images(loop.generator(0), "digits32", n=20, n_real=30, extractor=PixelExtractor(), seed=0,
                                  n_boot=0, progress=False)
    assert rec.metrics == pytest.approx(expected, rel=1e-12, abs=1e-12)


class Evil:
    """Unpickling this calls os.mkdir(marker): code that must never run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("how,extra", [
    ("pickle.pt", ()),
    ("torch-save.pt", ()),
    ("torch-save-nested.pth", ("--arch", "dcgan", "--z-dim", Z)),
    ("pickle.pkl", ("--arch", "dcgan")),
])
def test_a_pickle_that_runs_code_is_refused(how, extra, files, tmp_path, capsys):
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Evil(str(proof))))
    assert proof.is_dir()  # the payload is real: plain unpickling runs it
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil_{how}"
    if how.startswith("pickle"):
        path.write_bytes(pickle.dumps(Evil(str(marker))))
    elif "nested" in how:
        torch.save({"generator": {"w": torch.zeros(1)}, "x": Evil(str(marker))}, path)
    else:
        torch.save(Evil(str(marker)), path)
    code, _, err = run_cli(capsys, "eval", path, "--ref", files["dir"] / "ref", "--features", EXT, "-n", 4, *extra)
    assert code == 2
    assert "not a safe checkpoint" in one_error_line(err)
    assert not marker.exists()


@pytest.mark.parametrize("target,extra,needle", [
    ("g_state.pt", (), "--arch"),
    ("g.safetensors", (), "--arch"),
    ("g_state.pt", ("--arch", "dcgna"), "did you mean 'dcgan'"),
    ("g_state.pt", ("--arch", "dcgan", "--z-dim", Z), "does not fit architecture 'dcgan'"),
    ("g_trace.pt", (), "--z-dim"),
    ("g_script.pt", ("--z-dim", 7), "failed on z of shape (2, 7)"),
    ("pkg.mygen:make_broken", (), "the factory raised ValueError: boom"),
    ("pkg.mygen:make_conditional", ("--z-dim", 4), "check --z-dim and --num-classes"),  # needs labels
    ("pkg.mygen:nope", (), "has no attribute 'nope'"),
    ("nopkg.mod:make", (), "no module named 'nopkg'"),
    ("pkg.mygen:make_zero_one", ("--z-dim", Z, "--output-range", "0,255"), None),  # fits 0..255: no error
    ("pkg.mygen:make_bytes", ("--z-dim", Z, "--output-range", "bytes"), "--output-range must be one of"),
    ("missing.pt", (), "no such file"),
])
def test_generator_errors_are_one_line(target, extra, needle, files, capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(files["dir"]))
    if ":" not in target:
        target = files["dir"] / target
    code, _, err = run_cli(capsys, "eval", target, "--ref", files["dir"] / "ref", "--features", EXT, "-n", 8,
                           "--bootstrap", 0, "-q", *extra)
    if needle is None:
        assert code == 0, err
        return
    assert code == 2
    assert needle in one_error_line(err)


def test_wrong_output_range_is_an_error(files, capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(files["dir"]))
    # uint8 outputs are recognised whatever the range says; a float 0..255 network declared -1,1 is not.
    (files["dir"] / "pkg" / "big.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Big(nn.Module):
            z_dim = 4
            num_classes = 0
            def forward(self, z):
                return torch.sigmoid(z[:, :1, None, None].expand(-1, 3, 8, 8)) * 255
        def make():
            return Big()
    """))
    code, _, err = run_cli(capsys, "eval", "pkg.big:make", "--ref", files["dir"] / "ref", "--features", EXT,
                           "-n", 8, "-q")
    assert code == 2 and "does not fit --output-range -1,1" in one_error_line(err)
    code, _, err = run_cli(capsys, "eval", "pkg.big:make", "--ref", files["dir"] / "ref", "--features", EXT,
                           "-n", 8, "-q", "--bootstrap", 0, "--output-range=0,255")
    assert code == 0, err


def test_json_list_and_jsonl_records(files, capsys, tmp_path):
    target = files["dir"] / "samples.npz"
    js = tmp_path / "one.json"
    code, _, err = run_cli(capsys, "eval", target, "--ref", files["dir"] / "ref", "--features", EXT, "-q",
                           "--bootstrap", 0, "--json", js)
    assert code == 0, err
    data = json.loads(js.read_text())
    assert isinstance(data, list) and len(data) == 1 and data[0]["kind"] == "eval"
    jl = tmp_path / "many.jsonl"
    for seed in (0, 1):
        code, _, err = run_cli(capsys, "eval", target, "--ref", files["dir"] / "ref", "--features", EXT, "-q",
                               "--bootstrap", 0, "--json", jl, "--seed", seed)
        assert code == 0, err
    assert len(jl.read_text().splitlines()) == 2 and len(read_records([jl])) == 2
