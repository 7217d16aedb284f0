import pytest

from ganbench.errors import UnknownNameError
from ganbench.registry import BUDGETS, DATASETS, MODELS, Registry


def test_did_you_mean_names_closest():
    r = Registry("thing")
    r.register("alpha", 1)
    r.register("beta", 2)
    with pytest.raises(UnknownNameError, match=r"unknown thing 'alpah'; did you mean 'alpha'"):
        r.get("alpah")


def test_no_close_match_lists_known():
    r = Registry("thing")
    r.register("alpha", 1)
    with pytest.raises(UnknownNameError, match="known: alpha"):
        r.get("zzzzzz")


def test_double_registration_is_a_bug():
    r = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError):
        r.register("a", 2)


def test_parse_list_checks_every_name():
    assert MODELS.parse_list("gan, wgan-gp") == ["gan", "wgan-gp"]
    with pytest.raises(UnknownNameError, match="wgan-gp"):
        MODELS.parse_list("gan,wgan-pg")


def test_registries_hold_the_baselines():
    for m in ("gan", "gan-mm", "dcgan", "lsgan", "wgan", "wgan-gp", "sngan"):
        assert m in MODELS
    for d in ("ring", "grid", "highdim"):
        assert d in DATASETS
    assert BUDGETS.names() == ["cpu", "lucic", "paper", "smoke"]
