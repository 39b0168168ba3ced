"""The normalised score: 0 is standing still (zero actions), 1 the reference policy, on the same episodes."""

from __future__ import annotations

import dataclasses

import pytest

from rwmu.cli.main import main
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.evaluation.tables import format_evaluation_table
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.training.policy_loader import shipped_expert

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=24)
CONFIG = EvaluationConfig(episodes=2, max_envs=2, schedules=("forward_0.5", "stand"))


def test_score_is_zero_for_the_zero_policy_and_one_for_the_reference():
    config = dataclasses.replace(CONFIG, score_reference="scripted")
    zero = evaluate_policy("zero", config, SHORT_TASK, progress=False)
    top = evaluate_policy("scripted", config, SHORT_TASK, progress=False)
    assert zero["normalized_score"] == pytest.approx(0.0, abs=1e-9)
    assert top["normalized_score"] == pytest.approx(1.0)
    assert zero["score_references"] == {"zero": zero["return_mean"], "scripted": top["return_mean"]}
    assert top["return_mean"] != zero["return_mean"]
    assert "normalised score 1.000 (0 = zero actions" in format_evaluation_table(top)


def test_no_reference_no_score():
    result = evaluate_policy("zero", dataclasses.replace(CONFIG, score_reference=None), SHORT_TASK, progress=False)
    assert result["normalized_score"] is None
    assert "normalised score not computed (--score-reference None)" in format_evaluation_table(result)


def test_a_bad_reference_is_refused_before_the_evaluation(tmp_path):
    with pytest.raises(RwmuError, match="no such file"):
        evaluate_policy("zero", dataclasses.replace(CONFIG, score_reference=str(tmp_path / "x")), SHORT_TASK)


def test_the_expert_name_loads_the_shipped_policy_or_says_none_is_shipped(capsys, tmp_path):
    code = main(["evaluate", "--policy", "expert", "--episodes", "1", "--schedules", "stand", "--no-progress"])
    if shipped_expert("go2_flat") is not None:
        assert code == 0 and "normalised score 1.000" in capsys.readouterr().out
        assert (
            main(
                [
                    "collect",
                    "--policy",
                    "expert",
                    "--steps",
                    "100",
                    "--num-envs",
                    "2",
                    "--min-trajectory-rows",
                    "10",
                    "--format",
                    "rwmu",
                    "--out",
                    str(tmp_path / "d"),
                    "--no-progress",
                ]
            )
            == 0
        )
        provenance = load_dataset(tmp_path / "d" / "dataset.rwmu").meta["provenance"]
        assert provenance["policy"] == "expert" and len(provenance["policy_sha256"]) == 64
    else:
        assert code == 2 and "ships no expert policy" in capsys.readouterr().err
