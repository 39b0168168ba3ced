"""Experiment files: checked before any work, run end to end at a tiny scale, resumed, refused when changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rwmu.cli.main import main
from rwmu.errors import RwmuError
from rwmu.experiments.experiment_file import read_experiment
from rwmu.experiments.manifest import check_manifest, publish, read_manifest
from rwmu.recipes import RECIPES

ROOT = Path(__file__).resolve().parents[2]

TINY = """
description = "tiny"
[datasets.tiny]
collect = {{ policy = "scripted", steps = 3000, num_envs = 8, seed = 0 }}
behavior = {{ policy = "scripted" }}

[[grid]]
datasets = ["tiny"]
recipes = ["demo"]
lambdas = {lambdas}
seeds = [0]
world_model = {{ architecture = {{ ensemble_size = 2, history_horizon = 8, rnn_hidden_size = 16 }}, optim = {{ iterations = 4, batch_size = 32, forecast_horizon = 4 }}, validation = {{ interval = 2, windows = 64, horizons = [4] }}, checkpoint_interval = 4 }}
policy = {{ iterations = {iterations}, steps_per_env = 8, save_interval = 2, env = {{ num_envs = {envs} }}, behavior = {{ init_steps = 20, batch_size = 256, regularizer_steps = 2, critic_warmup = 1 }} }}

[evaluation]
episodes = 2
check_model = false
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[datasets.a]\npath = "x"\n[[grid]]\ndatasets = ["a"]\nrecipes = ["nope"]\nlambdas = [0]\nseeds = [0]\n',
            r"grid 1.recipes: unknown recipe 'nope'",
        ),
        (
            '[datasets.a]\npath = "x"\n[[grid]]\ndatasets = ["b"]\nrecipes = ["bc"]\nlambdas = [0]\nseeds = [0]\n',
            r"grid 1.datasets: 'b' is not declared",
        ),
        (
            '[datasets.a]\npath = "x"\n[[grid]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [-1]\nseeds = [0]\n',
            r"every lambda must be a finite number >= 0",
        ),
        (
            '[datasets.a]\npath = "x"\n[[grid]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [0]\nseed = [0]\n',
            r"unknown key\(s\) seed",
        ),
        (
            '[datasets.a]\npath = "x"\n[[grid]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [0]\nseeds = [0]\n'
            "policy = { env = { num_env = 3 } }\n",
            r"grid 1.policy.env: ImaginationConfig has no setting 'num_env'",
        ),
        ('[datasets.a]\ncollect = {}\npath = "x"\n', r"give either path .* or collect"),
        ('[datasets.a]\npath = "x"\n', r"declare at least one \[\[grid\]\] or \[\[study\]\]"),
        (
            '[datasets.a]\npath = "x"\n[[study]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [0]\nseeds = [0]\n',
            r"study 1: a bc lambda 0 seed 0 is no \[\[grid\]\] cell",
        ),
        (
            '[datasets.a]\npath = "x"\n[[study]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [0]\nseeds = [0]\n'
            'policies = "p/{data}"\n',
            r"study 1.policies: bad pattern",
        ),
        (
            '[datasets.a]\npath = "x"\n[[study]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [0]\nseeds = [0]\n'
            'policies = "nowhere/{dataset}_{seed}"\n',
            r"study 1.policies: nowhere/a_0 does not exist",
        ),
        (
            '[datasets.a]\npath = "x"\n[[grid]]\ndatasets = ["a"]\nrecipes = ["bc"]\nlambdas = [0]\nseeds = [0]\n'
            "[signals]\nepisode = 3\n",
            r"signals: unknown key\(s\) episode",
        ),
        ("[datasets.a\n", r"not valid TOML"),
    ],
)
def test_bad_experiment_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(RwmuError, match=message):
        read_experiment(write(tmp_path, text))


def test_published_experiments_regenerate_every_recipe_result():
    """Every recipe's published result names an experiment file that trains that recipe at that lambda on that
    dataset."""
    for recipe in RECIPES.values():
        result = recipe.result
        if result is None or not result.experiment.endswith(".toml"):
            continue
        spec = read_experiment(ROOT / result.experiment)
        cells = {(d, r, lam) for d, r, lam, _, _ in spec.cells()}
        assert (result.dataset, recipe.name, result.lam) in cells, recipe.name
        seeds = {s for d, r, lam, s, _ in spec.cells() if (d, r, lam) == (result.dataset, recipe.name, result.lam)}
        assert len(seeds) == result.seeds, recipe.name


def test_tiny_experiment_end_to_end_resumes_and_refuses_a_changed_run(tmp_path, capsys):
    file = write(tmp_path, TINY.format(lambdas="[0, 1]", iterations=2, envs=16))
    out = tmp_path / "out"
    assert main(["experiment", "run", str(file), "--out", str(out), "--jobs", "1"]) == 0
    table = json.loads((out / "table.json").read_text())["rows"]
    assert [r["recipe"] for r in table] == ["behaviour policy", "demo", "demo"]
    assert [r["lambda"] for r in table[1:]] == [0.0, 1.0] and all(r["episodes"] == 2 for r in table)
    assert table[2]["paired_vs_lambda0"] is not None
    job = json.loads((out / "tiny/demo/runs/lam1_seed0/job.json").read_text())
    assert job["config"]["iterations"] == 2 and job["config"]["env"]["uncertainty_penalty"] == 1.0
    assert job["config"]["behavior"]["init"] and job["recipe"] == "demo"  # the recipe, then the block's override
    manifest = read_manifest(out / "policies.json")
    assert {e["recipe"] for e in manifest["policies"]} == {"demo"} and len(manifest["policies"]) == 2
    assert all(e["experiment"] == str(file) for e in manifest["policies"])
    assert check_manifest(manifest, out) == []
    repo = tmp_path / "repo"  # --publish: the ONNX files copied under docs/results, the entries merged
    published = publish(out, manifest["policies"], repo, repo / "docs/results/policies.json")
    merged = read_manifest(repo / "docs/results/policies.json")
    assert merged["policies"] == published and check_manifest(merged, repo) == []
    assert all(e["file"].startswith("docs/results/policies/tiny/demo_lam") for e in published)
    assert (out / "tiny/demo/sweep.md").is_file() and "| demo" not in (out / "table.md").read_text()
    # a re-run finds everything done
    capsys.readouterr()
    assert main(["experiment", "run", str(file), "--out", str(out), "--jobs", "1"]) == 0
    assert "0 to run" in capsys.readouterr().out
    # the same folder with other settings for a run that exists: refused before any work
    write(tmp_path, TINY.format(lambdas="[0, 1]", iterations=2, envs=8))
    assert main(["experiment", "run", str(file), "--out", str(out)]) == 2
    assert "one run owns its folder" in capsys.readouterr().err
    # more iterations continue the runs from their checkpoints
    write(tmp_path, TINY.format(lambdas="[0, 1]", iterations=3, envs=16))
    assert main(["experiment", "run", str(file), "--out", str(out), "--jobs", "1"]) == 0
    summary = json.loads((out / "tiny/demo/runs/lam1_seed0/summary.json").read_text())
    assert (
        summary["iterations"] == 3
        and json.loads((out / "tiny/demo/runs/lam1_seed0/job.json").read_text())["config"]["iterations"] == 3
    )


def test_a_study_of_the_experiments_own_runs_pools_its_signal_table(tmp_path):
    text = TINY.format(lambdas="[0]", iterations=1, envs=16).replace('behavior = { policy = "scripted" }\n', "")
    world_model = text.split("world_model = ", 1)[1].split("\n", 1)[0]
    text = text.replace(
        "[evaluation]",
        f"""[[study]]
datasets = ["tiny"]
recipes = ["demo"]
lambdas = [0]
seeds = [0]
world_model = {world_model}

[signals]
episodes = 1
num_envs = 2
max_points = 64
data_points = 32
neighbours = 200
batch = 32
path_horizon = 4
disagreement_horizons = [2, 4]
error_horizons = [1, 4]

[evaluation]""",
    )
    out = tmp_path / "out"
    assert main(["experiment", "run", str(write(tmp_path, text)), "--out", str(out), "--jobs", "1"]) == 0
    world_models = [p.name for p in (out / "tiny").iterdir() if p.name.startswith("wm_")]
    assert len(world_models) == 1  # the study read the grid's world model
    study = json.loads((out / f"tiny/demo/signals_{world_models[0]}/lam0_seed0/signals.json").read_text())
    assert study["policy"].endswith("runs/lam0_seed0/export/policy.onnx")
    rows = json.loads((out / "signals/table.json").read_text())["rows"]
    assert {r["signal"] for r in rows} >= {"std_sum", "multistep_h4", "value_std_h4", "nearest_data"}
    assert all(r["policies"] == 1 and r["dataset"] == "tiny" for r in rows)
    assert f"### tiny, `demo`, lambda 0, world model `{world_models[0]}`" in (out / "signals/table.md").read_text()
    assert (out / f"signals/roc_tiny_demo_lam0_{world_models[0]}.png").is_file()
