"""The cpu mixture protocol's sentence is written from the recipe's values (config.vector_protocol):
equal, word for word, to the sentences the committed records carry (resume identity and the
protocol guard compare it), and it follows a value that changes."""

import json
from pathlib import Path

import pytest

from ganbench.config import _recipe_paths, load_recipe

ROOT = Path(__file__).resolve().parents[2]
HEAD = "ganbench cpu (not PacGAN's): G 4x128 BN, D 3 maxout 128x2, batch 64, "
HALF = " decayed linearly to 0 over the second half; "
# The sentences the baseline TOMLs spelled out by hand before they were generated.
WRITTEN = {
    **{m: HEAD + "Adam 5e-4 (0.5, 0.999)" + HALF + "ring 8k steps, grid 24k"
       for m in ("acgan", "cgan-pd", "dcgan", "gan", "gan-mm", "lsgan", "sngan")},
    **{m: HEAD + "Adam 2e-4 (0.5, 0.999)" + HALF + "ring 8k steps, grid 24k" for m in ("pacgan2", "pacgan3", "pacgan4")},
    "unrolled": HEAD + "Adam 5e-4 (0.5, 0.999)" + HALF + "2k generator steps on every mixture",
    "wgan-gp": HEAD + "this recipe's Adam 1e-4 (0.5, 0.9)" + HALF + "2k generator steps on every mixture",
    "wgan": HEAD + "this recipe's RMSprop 5e-5" + HALF + "2k generator steps on every mixture",
}


def _sentence(recipe) -> str:
    return recipe.budgets["vector"]["cpu"]["protocol"]


def test_every_recipe_has_the_sentence_it_had():
    assert {p.stem for p in _recipe_paths()} == set(WRITTEN)
    for model, text in WRITTEN.items():
        assert _sentence(load_recipe(model)) == text, model


@pytest.mark.parametrize("results", ["mog-cpu", "mog-full-cpu"])
def test_committed_records_carry_the_generated_sentence(results):
    """Every committed cpu-budget mixture record carries the sentence the current recipes write (a
    record whose sentence is missing or stale, e.g. the bare marker "generated", fails here)."""
    seen = set()
    for line in (ROOT / "results" / results / "records.jsonl").read_text().splitlines():
        rec = json.loads(line)
        assert rec["protocol"]["protocol"] == _sentence(load_recipe(rec["model"])), (rec["model"], rec["dataset"])
        seen.add(rec["model"])
    assert len(seen) >= 3


def _recipe_with(tmp_path, body: str):
    p = tmp_path / "mine.toml"
    p.write_text('description = "test"\n' + body)
    return load_recipe(str(p))


@pytest.mark.parametrize("body,words", [
    ("[budgets.vector.cpu.recipe.vector.optimizer]\nlr_g = 3e-4\nlr_d = 3e-4\n", "Adam 3e-4 (0.5, 0.999)"),
    ("[budgets.vector.cpu]\nbatch_size = 32\n", "batch 32,"),
    ("[budgets.vector.cpu.recipe.arch.vector]\ng_hidden = 96\nd_hidden = 96\nmaxout_pieces = 3\n",
     "G 4x96 BN, D 3 maxout 96x3"),
    ("[budgets.vector.cpu]\nsteps = 4000\ndataset_steps = { grid = 4000 }\n", "; 4k generator steps on every mixture"),
    ("[budgets.vector.cpu.recipe.vector.optimizer]\ndecay_from = 0.75\n", "decayed linearly to 0 from 0.75 of the steps"),
])
def test_the_sentence_follows_the_values(tmp_path, body, words):
    text = _sentence(_recipe_with(tmp_path, body))
    assert words in text and text != WRITTEN["gan"]


@pytest.mark.parametrize("overrides,words", [
    ({"optimizer": {"lr_g": 1e-3}}, "Adam G 1e-3 / D 5e-4 (0.5, 0.999)"),
    ({"vector": {"optimizer": {"lr_d": 2e-4}}}, "Adam G 5e-4 / D 2e-4 (0.5, 0.999)"),
    ({"optimizer": {"decay_from": 0.75}}, "decayed linearly to 0 from 0.75 of the steps"),
])
def test_a_set_override_is_in_the_sentence_as_the_run_trains_it(overrides, words):
    """--set wins over the cpu budget's own values when the run trains (Recipe.for_run); the sentence
    the record carries must say what was trained, not the recipe's value the override replaced."""
    recipe = load_recipe("gan", overrides)
    budget = recipe.budget("cpu", "vector")
    trained = recipe.for_run("vector", budget, overrides).optimizer
    assert words in _sentence(recipe), _sentence(recipe)
    assert _sentence(load_recipe("gan")) == WRITTEN["gan"]  # no override: the sentence is unchanged
    assert trained != load_recipe("gan").for_run("vector", budget).optimizer
