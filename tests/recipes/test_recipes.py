"""The recipe registry: every recipe applies, flags win over a recipe, and each published result is the one the
published policies give."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
from scipy import stats

from rwmu.cli.main import parse
from rwmu.errors import RwmuError
from rwmu.recipes import DEFAULT_RECIPE, RECIPES, WORLD_MODELS, apply_delta, get_recipe, merge, world_model_config
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.world_model_config import TrainModelConfig

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("-task go2_flat --world-model wm.pt --data d.rwmu --out run").replace("-task", "--task").split()


def test_every_recipe_applies_and_is_described():
    for name, recipe in RECIPES.items():
        assert recipe.name == name and recipe.version >= 1 and recipe.world_model in WORLD_MODELS
        assert recipe.summary and recipe.description.endswith(".") and recipe.data
        recipe.policy_config().behavior.validate()
        world_model_config(WORLD_MODELS[recipe.world_model])
    assert RECIPES[DEFAULT_RECIPE].result is not None
    assert RECIPES["paper"].policy_config() == PolicyTrainingConfig()


def test_delta_merge_and_unknown_setting():
    assert merge({"env": {"a": 1, "b": 1}}, {"env": {"b": 2}, "c": 3}) == {"env": {"a": 1, "b": 2}, "c": 3}
    config = apply_delta(PolicyTrainingConfig(), {"iterations": 7, "env": {"num_envs": 3}})
    assert config.iterations == 7 and config.env.num_envs == 3 and config.ppo == PolicyTrainingConfig().ppo
    with pytest.raises(RwmuError, match=r"recipe x\.env: ImaginationConfig has no setting 'num_env'"):
        apply_delta(PolicyTrainingConfig(), {"env": {"num_env": 3}}, "recipe x")
    with pytest.raises(RwmuError, match="unknown recipe 'nope'; known: mopo_fbc_dc256"):
        get_recipe("nope")


def test_train_policy_defaults_to_the_best_recipe_and_flags_win():
    default = parse("train-policy", REQUIRED)
    assert default.recipe == DEFAULT_RECIPE == "mopo_fbc_dc256"
    # the recipe is the flags the published mopo_fbc_dc256 runs were trained with (docs/notebook.md section 10), on the paper's defaults
    by_flags = parse(
        "train-policy",
        [
            *REQUIRED,
            "--recipe",
            "paper",
            "--iterations",
            "100",
            "--env.num-envs",
            "512",
            "--steps-per-env",
            "24",
            "--behavior.init",
            "--behavior.regularizer-steps",
            "5",
            "--behavior.critic-warmup",
            "10",
            "--behavior.top-fraction",
            "0.1",
            "--ppo.learning-rate",
            "1e-4",
            "--env.data-command-ratio",
            "1.0",
            "--env.episode-length",
            "256",
        ],
    )
    assert default.train == by_flags.train
    chosen = parse("train-policy", [*REQUIRED, "--recipe", "mopo_bc_dc256_1000it_bf16", "--iterations", "5"])
    assert chosen.train.iterations == 5 and chosen.train.env.model_precision == "bfloat16"
    assert chosen.train.behavior.top_fraction == 1.0 and chosen.train.behavior.init


def test_train_model_takes_the_recipe_world_model():
    argv = ["--task", "go2_flat", "--data", "d.rwmu", "--out", "wm"]
    default = parse("train-model", argv)
    assert default.recipe == DEFAULT_RECIPE and default.train.architecture.rnn_hidden_size == 128
    assert default.train.optim.iterations == 3000 and default.train.optim.batch_size == 256
    assert parse("train-model", [*argv, "--recipe", "paper"]).train == TrainModelConfig()
    assert parse("train-model", [*argv, "--optim.iterations", "9"]).train.optim.iterations == 9


def test_help_names_the_default_recipe(capsys):
    with pytest.raises(SystemExit):
        parse("train-policy", ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default mopo_fbc_dc256: the best measured recipe" in text and "mopo_bc_dc256_1000it_bf16" in text


def _published_runs(dataset: str, recipe: str, lam: float) -> list[dict]:
    manifest = json.loads((ROOT / "docs/results/policies.json").read_text())["policies"]
    pattern = re.compile(rf"docs/results/policies/{dataset}/{recipe}_lam[0-9.]+_seed\d+/policy.onnx")
    # behaviour-cloning-only runs (no PPO update) carry no lambda in the manifest
    return [e for e in manifest if pattern.fullmatch(e["file"]) and e.get("lambda") in (lam, None)]


def _table_row(dataset: str, recipe: str, lam: float) -> dict | None:
    """The published comparison table's row of a recipe whose policies the manifest does not hold."""
    rows = json.loads((ROOT / "docs/results/baselines/table.json").read_text())["rows"]
    for row in rows:
        if row["dataset"] != dataset or not row["source"].endswith(f"/{recipe}"):
            continue
        match = re.search(r"lambda = ([0-9.]+)", row["method"])
        if (float(match.group(1)) if match else 0.0) == lam:
            return row
    return None


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r.result and r.result.dataset != "demo"])
def test_published_result_is_what_the_published_policies_scored(name):
    result = RECIPES[name].result
    runs = _published_runs(result.dataset, name, result.lam)
    assert (ROOT / result.experiment).is_file(), f"{name}: its experiment file {result.experiment} is missing"
    if not runs:  # not in the manifest: the published table's row
        row = _table_row(result.dataset, name, result.lam)
        assert row is not None, f"{name}: neither the manifest nor the published table holds its result"
        assert (row["seeds"], row["falls"], row["episodes"]) == (result.seeds, result.falls, result.episodes)
        assert result.return_mean == pytest.approx(row["return_mean"], abs=6e-4)
        assert result.return_ci95 == pytest.approx(row["return_ci95"], abs=6e-4)
        return
    returns = [r["true_return"] for r in runs]
    assert len(runs) == result.seeds
    assert result.return_mean == pytest.approx(statistics.mean(returns), abs=6e-4)
    assert sum(r["falls"] for r in runs) == result.falls and sum(r["episodes"] for r in runs) == result.episodes
    if result.seeds > 1:
        ci = stats.t.ppf(0.975, len(returns) - 1) * statistics.stdev(returns) / len(returns) ** 0.5
        assert result.return_ci95 == pytest.approx(ci, abs=6e-4)


def test_docs_recipes_page_is_generated_from_the_registry(capsys):
    from rwmu.cli.main import main

    assert main(["recipes", "--markdown"]) == 0
    assert (ROOT / "docs/recipes.md").read_text() == capsys.readouterr().out, (
        "run: rwmu recipes --markdown > docs/recipes.md"
    )
