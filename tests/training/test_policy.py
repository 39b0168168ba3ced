"""MOPO-PPO training: config, checkpoints, resume, CLI, and an end-to-end run whose task reward improves."""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import pytest
import torch

from rwmu.cli.main import main
from rwmu.data.native_format import save_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError
from rwmu.models.config import ArchitectureConfig
from rwmu.tasks import get_task
from rwmu.training.policy import ImaginationRunner, train_policy
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import (
    QuietLogger,
    RwmuRunner,
    read_policy_checkpoint,
    resolve_policy_checkpoint,
    rsl_rl_train_cfg,
)
from rwmu.training.world_model import WorldModelTrainer
from rwmu.training.world_model_config import OptimConfig, TrainModelConfig, ValidationConfig
from rwmu.utils.config import config_from_dict
from rwmu.utils.io import file_sha256
from tests.training.tiny_world import TASK, write_untrained_world


def tiny_config(iterations: int, num_envs: int = 8, steps: int = 4, **env) -> PolicyTrainingConfig:
    base = PolicyTrainingConfig(iterations=iterations, steps_per_env=steps, save_interval=1000)
    return dataclasses.replace(base, env=dataclasses.replace(base.env, num_envs=num_envs, **env))


@pytest.fixture(scope="module")
def untrained_world_model(tmp_path_factory):
    """A small, untrained world model and a synthetic anymal-shaped dataset on disk."""
    wm, data, _, _ = write_untrained_world(tmp_path_factory.mktemp("untrained"))
    return wm, data


def test_defaults_follow_table_s11():
    paper = PolicyTrainingConfig()
    assert (paper.env.num_envs, paper.steps_per_env, paper.iterations) == (4096, 100, 2500)
    assert paper.ppo.learning_rate == 1e-3 and paper.ppo.entropy_coef == 0.005
    assert (paper.ppo.num_learning_epochs, paper.ppo.num_mini_batches) == (5, 4)
    assert paper.policy.actor_hidden_dims == (128, 128, 128) and paper.policy.init_noise_std == 1.0
    assert paper.env.uncertainty_penalty == 1.0 and paper.env.dynamics == "member"


def test_rsl_rl_cfg_and_config_round_trip():
    config = tiny_config(3)
    cfg = rsl_rl_train_cfg(config, TASK)
    assert cfg["num_steps_per_env"] == 4 and cfg["logger"] == "tensorboard"
    assert cfg["algorithm"]["class_name"].endswith("PPO") and cfg["algorithm"]["desired_kl"] == 0.01
    assert cfg["actor"]["distribution_cfg"]["init_std"] == 1.0 and cfg["actor"]["activation"] == "elu"
    assert cfg["critic"]["hidden_dims"] == [128, 128, 128] and "distribution_cfg" not in cfg["critic"]
    from rwmu.utils.io import to_jsonable

    assert config_from_dict(PolicyTrainingConfig, json.loads(json.dumps(to_jsonable(config)))) == config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """Synthetic data -> world model (rwmu's trainer, tiny) -> 30 PPO iterations in imagination."""

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        folder = tmp_path_factory.mktemp("e2e")
        dataset = make_synthetic_dataset(4, 400, task=TASK, seed=0)
        save_dataset(dataset, folder / "data.rwmu")
        model_cfg = TrainModelConfig(
            architecture=ArchitectureConfig(
                ensemble_size=3, history_horizon=4, rnn_hidden_size=32, rnn_num_layers=1, head_shape=(32,)
            ),
            optim=OptimConfig(iterations=300, batch_size=32, learning_rate=3e-3, forecast_horizon=2),
            validation=ValidationConfig(interval=1000, windows=8, horizons=(2,)),
            logger="none",
            progress=False,
        )
        WorldModelTrainer(dataset, TASK, folder / "wm", model_cfg).train()
        config = tiny_config(30, num_envs=32, steps=24, uncertainty_penalty=0.0, episode_length=64)
        summary = train_policy(
            TASK, folder / "wm" / "model_latest.pt", folder / "data.rwmu", folder / "run", config, progress=False
        )
    finally:
        torch.set_num_threads(before)
    return folder, config, summary


def test_end_to_end_task_reward_improves(trained_run):
    _, _, summary = trained_run
    history = summary["history"]["imagined_task_reward"]
    assert len(history) == 30
    first, last = sum(history[:5]) / 5, sum(history[-5:]) / 5
    assert last > first + 0.2 * abs(first), f"task reward per step did not improve: {first:.4f} -> {last:.4f}"
    # lambda = 0: the penalised and the task reward coincide.
    assert summary["imagined_reward"] == pytest.approx(summary["imagined_task_reward"])
    assert summary["epistemic_uncertainty"] > 0


def test_run_folder_and_checkpoint_contents(trained_run):
    folder, config, summary = trained_run
    run = folder / "run"
    for name in ("summary.json", "config.json", "run_info.json", "model_0.pt", "model_29.pt"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents*")), "TensorBoard events missing"
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk["final_checkpoint"] == str(run / "model_29.pt") and on_disk["iterations"] == 30
    ckpt = read_policy_checkpoint(run / "model_29.pt")
    assert {"actor_state_dict", "critic_state_dict", "optimizer_state_dict", "iter", "infos"} <= set(ckpt)
    info = ckpt["infos"]["rwmu"]
    wm_path = folder / "wm" / "model_latest.pt"
    assert info["world_model"]["sha256"] == file_sha256(wm_path)
    assert info["world_model"]["path"] == str(wm_path.resolve())
    assert len(info["normalization"]["state_mean"]) == 45 and info["observation_dim"] == 48
    assert json.loads((run / "run_info.json").read_text())["world_model"] == info["world_model"]
    stored = json.loads((run / "config.json").read_text())["config"]
    assert config_from_dict(PolicyTrainingConfig, stored["train_policy"]) == config


def test_resume_continues_to_the_total(trained_run, one_thread):
    folder, config, _ = trained_run
    more = dataclasses.replace(config, iterations=32)
    before = json.loads((folder / "run" / "summary.json").read_text())
    summary = train_policy(
        TASK, folder / "wm" / "model_latest.pt", folder / "data.rwmu", folder / "run", more, resume=True, progress=False
    )
    assert summary["iterations"] == 32 and (folder / "run" / "model_31.pt").is_file()
    history = summary["history"]["imagined_task_reward"]  # the first run's curve, then the two new iterations
    assert len(history) == 32 and history[:30] == before["history"]["imagined_task_reward"]
    assert summary["wall_time_s"] > before["wall_time_s"]
    with pytest.raises(RwmuError, match="already has 32 iterations"):
        train_policy(
            TASK,
            folder / "wm" / "model_latest.pt",
            folder / "data.rwmu",
            folder / "run",
            more,
            resume=True,
            progress=False,
        )
    with pytest.raises(RwmuError, match="already holds a policy run"):
        train_policy(TASK, folder / "wm" / "model_latest.pt", folder / "data.rwmu", folder / "run", more)


def _weights(path) -> dict[str, torch.Tensor]:
    saved = read_policy_checkpoint(path)
    return {
        f"{part}.{name}": value
        for part in ("actor_state_dict", "critic_state_dict")
        for name, value in saved[part].items()
    }


def test_a_resumed_run_equals_the_uninterrupted_one(untrained_world_model, tmp_path, one_thread):
    wm, data = untrained_world_model
    base = tiny_config(4, num_envs=16, steps=6)
    config = dataclasses.replace(
        base,
        save_interval=1,
        policy=dataclasses.replace(
            base.policy, actor_hidden_dims=(16,), critic_hidden_dims=(16,), obs_normalization=True
        ),
    )
    whole = train_policy(TASK, wm, data, tmp_path / "whole", config, progress=False)
    assert whole["resumed_exactly"] is None
    for run in ("resumed", "fresh_episodes"):
        train_policy(TASK, wm, data, tmp_path / run, dataclasses.replace(config, iterations=2), progress=False)
        assert sorted(p.name for p in (tmp_path / run).glob("resume_*.pt")) == ["resume_1.pt"]  # the latest only
    (tmp_path / "fresh_episodes" / "resume_1.pt").unlink()
    resumed = train_policy(TASK, wm, data, tmp_path / "resumed", config, resume=True, progress=False)
    fresh = train_policy(TASK, wm, data, tmp_path / "fresh_episodes", config, resume=True, progress=False)
    assert resumed["resumed_exactly"] is True and fresh["resumed_exactly"] is False
    expected = _weights(tmp_path / "whole" / "model_3.pt")
    got = _weights(tmp_path / "resumed" / "model_3.pt")
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    for key in ("imagined_reward", "imagined_task_reward", "mean_episode_return", "history"):
        assert resumed[key] == whole[key], key
    # without the saved episodes the continuation is a different (correct) run of the same method
    other = _weights(tmp_path / "fresh_episodes" / "model_3.pt")
    assert any(not torch.equal(expected[name], other[name]) for name in expected)


def test_resume_in_another_world_model_is_refused(trained_run, untrained_world_model, tmp_path, one_thread):
    import shutil

    folder, config, _ = trained_run
    run = tmp_path / "run"
    shutil.copytree(folder / "run", run)
    other_wm, _ = untrained_world_model
    with pytest.raises(RwmuError, match="trained in another world model"):
        train_policy(
            TASK,
            other_wm,
            folder / "data.rwmu",
            run,
            dataclasses.replace(config, iterations=40),
            resume=True,
            progress=False,
        )


def test_wandb_logger_without_wandb_is_a_clear_error(untrained_world_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now fails
    wm, data = untrained_world_model
    config = dataclasses.replace(tiny_config(1), logger="wandb")
    with pytest.raises(RwmuError, match="pip install"):
        train_policy(TASK, wm, data, tmp_path / "run", config, progress=False)


def test_torchrun_with_several_processes_is_refused_before_any_work(
    untrained_world_model, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun --nproc-per-node 2 sets in each rank
    monkeypatch.setenv("RANK", "0")
    wm, data = untrained_world_model
    with pytest.raises(RwmuError, match="WORLD_SIZE=2"):
        train_policy(TASK, wm, data, tmp_path / "api", tiny_config(1), progress=False)
    args = ["train-policy", "--task", TASK.name, "--world-model", str(wm), "--data", str(data)]
    for command in (args + ["--out", str(tmp_path / "cli")], ["train-online", "--out", str(tmp_path / "online")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "WORLD_SIZE=2 (torchrun)" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing written
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process under torchrun is one process
    train_policy(TASK, wm, data, tmp_path / "one", tiny_config(1), progress=False)


def test_cli_flags_reach_the_run(untrained_world_model, tmp_path, one_thread, capsys):
    wm, data = untrained_world_model
    out = tmp_path / "run"
    code = main(
        [
            "train-policy",
            "--task",
            "anymal_d_flat",
            "--world-model",
            str(wm),
            "--data",
            str(data),
            "--out",
            str(out),
            "--recipe",
            "reference",
            "--env.num-envs",
            "8",
            "--steps-per-env",
            "4",
            "--iterations",
            "2",
            "--env.uncertainty-penalty",
            "2.5",
            "--env.dynamics",
            "mean",
            "--rewards.lin-vel-z-l2",
            "-3.0",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    assert "imagined reward per step" in capsys.readouterr().out
    stored = json.loads((out / "config.json").read_text())["config"]
    cfg = stored["train_policy"]
    assert cfg["env"]["num_envs"] == 8 and cfg["env"]["uncertainty_penalty"] == 2.5 and cfg["seed"] == 3
    assert cfg["env"]["dynamics"] == "mean" and cfg["steps_per_env"] == 4
    assert stored["task"]["rewards"]["lin_vel_z_l2"] == -3.0
    # the whole command is recorded, the other reward weights are the task's own
    assert stored["command"]["recipe"] == "reference" and stored["command"]["world_model"] == str(wm)
    assert stored["command"]["rewards"]["feet_air_time"] == get_task("anymal_d_flat").rewards.feet_air_time
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["uncertainty_penalty"] == 2.5
    # lambda > 0: the penalised reward is below the task reward.
    assert summary["imagined_reward"] < summary["imagined_task_reward"]


def test_cli_rejects_negative_lambda(untrained_world_model, tmp_path, capsys):
    wm, data = untrained_world_model
    code = main(
        [
            "train-policy",
            "--recipe",
            "paper",
            "--task",
            "anymal_d_flat",
            "--world-model",
            str(wm),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--env.uncertainty-penalty",
            "-1",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "lambda" in err and "weight -1 is lambda 1 here" in err and len(err.strip().splitlines()) == 1


def test_runner_and_logger_subclass_rsl_rl():
    from rsl_rl.runners import OnPolicyRunner
    from rsl_rl.utils.logger import Logger

    assert issubclass(ImaginationRunner, RwmuRunner) and issubclass(RwmuRunner, OnPolicyRunner)
    assert issubclass(QuietLogger, Logger)
    # Overridden, not patched: the learning loop stays rsl_rl's own.
    assert "learn" in vars(RwmuRunner) and ImaginationRunner.learn is not OnPolicyRunner.learn
    assert {"log", "_store_code_state"} <= set(vars(QuietLogger))


def test_quiet_by_default_progress_bar_kept(untrained_world_model, tmp_path, one_thread, capsys):
    wm, data = untrained_world_model
    summary = train_policy(TASK, wm, data, tmp_path / "run", tiny_config(2), progress=True)
    out, err = capsys.readouterr()
    assert out == "", out  # no rsl_rl network, observation-set or per-iteration printout
    assert "MOPO-PPO" in err and "2/2" in err  # the tqdm bar (stderr)
    assert not (tmp_path / "run" / "git").exists()  # no code-state diffs
    assert summary["iterations"] == 2 and len(summary["history"]["imagined_reward"]) == 2


def test_verbose_print_networks_and_code_state_flags(untrained_world_model, tmp_path, one_thread, capsys):
    wm, data = untrained_world_model
    config = dataclasses.replace(tiny_config(1), verbose=True, print_networks=True, log_code_state=True)
    train_policy(TASK, wm, data, tmp_path / "run", config, progress=True)
    out, err = capsys.readouterr()
    assert "Actor Model" in out and "Critic Model" in out  # rsl_rl's network printout
    assert "Learning iteration 0/1" in out  # rsl_rl's per-iteration report
    assert "MOPO-PPO" not in err  # the report replaces the bar
    assert (tmp_path / "run" / "git").is_dir()  # rsl_rl's code state (a diff where a git repository is found)


def test_policy_reader_errors_and_run_folders(untrained_world_model, tmp_path):
    wm, _ = untrained_world_model
    with pytest.raises(RwmuError, match="it looks like a world model: pass it as --world-model"):
        read_policy_checkpoint(wm)
    with pytest.raises(RwmuError, match="no such file"):
        read_policy_checkpoint(tmp_path / "model_1.pt")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RwmuError, match="without model_<iteration>.pt"):
        resolve_policy_checkpoint(run)
    for k in (2, 10, 9):
        (run / f"model_{k}.pt").write_bytes(b"")
    assert resolve_policy_checkpoint(run) == run / "model_10.pt"
    assert resolve_policy_checkpoint(run / "model_2.pt") == run / "model_2.pt"
    with pytest.raises(RwmuError, match="no such file or folder"):
        resolve_policy_checkpoint(tmp_path / "missing")
    with pytest.raises(RwmuError, match="scripted: the scripted controller has no network weights"):
        resolve_policy_checkpoint("scripted")


@pytest.mark.parametrize("schedule", ["adaptive", "fixed"])
def test_a_diverging_run_stops_in_one_line_and_writes_no_policy(
    untrained_world_model, tmp_path, one_thread, capsys, recwarn, schedule
):
    wm, data = untrained_world_model
    out = tmp_path / "run"
    code = main(
        [
            "train-policy",
            "--recipe",
            "paper",
            "--task",
            "anymal_d_flat",
            "--world-model",
            str(wm),
            "--data",
            str(data),
            "--out",
            str(out),
            "--env.num-envs",
            "8",
            "--steps-per-env",
            "4",
            "--iterations",
            "20",
            "--save-interval",
            "1",
            "--ppo.learning-rate",
            "1e8",
            "--ppo.schedule",
            schedule,
        ]
    )
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]  # (the progress bar is above it)
    assert re.fullmatch(
        r"rwmu train-policy: error: PPO diverged at iteration \d+: the actor's .*; lower "
        r"--ppo.learning-rate \(now 1e\+08\) or --ppo.max-grad-norm \(now 1\) and re-run; no "
        r"checkpoint of a diverged policy was written",
        line,
    ), line
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    assert not list(out.glob("model_*.pt"))
    assert main(["train-policy", "--task", "anymal_d_flat", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--ppo.learning-rate" in help_text and "--ppo.max-grad-norm" in help_text


def test_resume_refuses_another_task_data_or_network(untrained_world_model, tmp_path, one_thread, capsys):
    wm, data = untrained_world_model
    out = tmp_path / "run"
    assert (
        main(
            [
                "train-policy",
                "--recipe",
                "paper",
                "--task",
                "anymal_d_flat",
                "--world-model",
                str(wm),
                "--data",
                str(data),
                "--out",
                str(out),
                "--env.num-envs",
                "8",
                "--steps-per-env",
                "4",
                "--iterations",
                "1",
                "--policy.actor-hidden-dims",
                "16",
                "16",
            ]
        )
        == 0
    )
    capsys.readouterr()
    resume = ["train-policy", "--out", str(out), "--resume", "--iterations", "2"]
    for extra, expected in (
        (["--task", "go2_flat"], "--task go2_flat differs from anymal_d_flat"),
        (["--data", str(tmp_path)], f"--data {tmp_path} differs from {data}"),
        (["--policy.actor-hidden-dims", "32", "32"], "--policy.actor-hidden-dims 32 32 differs from 16 16"),
        (["--policy.activation", "tanh"], "--policy.activation tanh differs from elu"),
    ):
        assert main(resume + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"rwmu train-policy: error: --resume: {expected} of the run in {out}; drop "
            f"{extra[0]} to continue the run, or start a new --out"
        ), err
    assert sorted(p.name for p in out.glob("model_*.pt")) == ["model_0.pt"]


@pytest.mark.parametrize("std", ["-0.5", "0"])
def test_a_non_positive_initial_noise_std_is_refused(untrained_world_model, tmp_path, capsys, std):
    wm, data = untrained_world_model
    assert (
        main(
            [
                "train-policy",
                "--recipe",
                "paper",
                "--task",
                "anymal_d_flat",
                "--world-model",
                str(wm),
                "--data",
                str(data),
                "--out",
                str(tmp_path / "run"),
                "--policy.init-noise-std",
                std,
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.strip() == (
        f"rwmu train-policy: error: --policy.init-noise-std {float(std):g}: "
        "the initial action noise std must be > 0 (the paper's is 1.0)"
    )
    assert not list((tmp_path / "run").glob("model_*.pt"))


def test_torch_compile_mode_trains_the_same_policy(untrained_world_model, tmp_path, one_thread):
    """rsl_rl's torch_compile_mode: the compiled actor and critic learn what the eager ones learn (up to rounding),
    and the checkpoint holds the uncompiled modules' keys, so export and play read it as any other."""
    wm, data = untrained_world_model
    base = tiny_config(2, num_envs=16, steps=6)
    config = dataclasses.replace(
        base, policy=dataclasses.replace(base.policy, actor_hidden_dims=(16,), critic_hidden_dims=(16,))
    )
    assert rsl_rl_train_cfg(config, TASK)["torch_compile_mode"] is None
    eager = train_policy(TASK, wm, data, tmp_path / "eager", config, progress=False)
    compiled_config = dataclasses.replace(config, torch_compile_mode="default")
    assert rsl_rl_train_cfg(compiled_config, TASK)["torch_compile_mode"] == "default"
    compiled = train_policy(TASK, wm, data, tmp_path / "compiled", compiled_config, progress=False)
    expected, got = _weights(tmp_path / "eager" / "model_1.pt"), _weights(tmp_path / "compiled" / "model_1.pt")
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-5)
    assert compiled["imagined_reward"] == pytest.approx(eager["imagined_reward"], rel=1e-3, abs=1e-6)
