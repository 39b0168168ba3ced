"""Settings no run can use are refused before any work: one line naming the flag, exit code 2, no folder written."""

from __future__ import annotations

import pytest

from rwmu.cli.main import main
from rwmu.recipes import RECIPES, WORLD_MODELS, world_model_config


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--architecture.ensemble-size", "0"], "--architecture.ensemble-size must be >= 1, got 0"),
        (["--architecture.rnn-hidden-size", "0"], "--architecture.rnn-hidden-size must be >= 1"),
        (["--optim.forecast-horizon", "0"], "--optim.forecast-horizon must be >= 1"),
        (["--optim.learning-rate", "-1"], "--optim.learning-rate must be a finite number > 0, got -1.0"),
        (["--checkpoint-interval", "0"], "--checkpoint-interval must be >= 1"),
        (["--validation.interval", "0"], "--validation.interval must be >= 1"),
        (["--architecture.mlp-base-shape"], "--architecture.mlp-base-shape needs one or more layer widths"),
        (["--optim.iterations", "0"], "--optim.iterations must be >= 1"),
    ],
)
def test_train_model_refuses_unusable_settings(tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    assert (
        main(["train-model", "--task", "go2_flat", "--data", str(tmp_path / "d.rwmu"), "--out", str(out), *flags]) == 2
    )
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--save-interval", "0"], "--save-interval must be >= 1"),
        (["--env.uncertainty-penalty", "inf"], "--env.uncertainty-penalty must be a finite lambda >= 0"),
        (["--ppo.learning-rate", "nan"], "--ppo.learning-rate must be a finite number > 0"),
        (["--ppo.gamma", "1.5"], "--ppo.gamma must be in (0, 1]"),
        (["--iterations", "0"], "--iterations must be >= 1"),
    ],
)
def test_train_policy_refuses_unusable_settings(tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    argv = ["train-policy", "--task", "go2_flat", "--world-model", "wm.pt", "--data", "d", "--out", str(out), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_every_recipe_passes_the_checks():
    for recipe in RECIPES.values():
        recipe.policy_config().check()
        world_model_config(WORLD_MODELS[recipe.world_model]).check()
