import dataclasses
import json
import re
import subprocess
import sys

import pytest
import torch

from rwmu import load_world_model
from rwmu.data.loading import load_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.data.windows import trajectory_segments
from rwmu.errors import RwmuError
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.models.calibration import uncertainty_reference
from rwmu.models.checkpoint import describe_checkpoint, save_world_model
from rwmu.models.config import ArchitectureConfig
from rwmu.tasks import get_task
from rwmu.training.world_model import WorldModelTrainer
from rwmu.training.world_model_config import OptimConfig, TrainModelConfig, ValidationConfig
from rwmu.training.world_model_loss import _member_rows, event_pos_weights, state_loss, world_model_loss


def tiny_config(iterations=20, base="gru", **optim):
    return TrainModelConfig(
        architecture=ArchitectureConfig(
            ensemble_size=2,
            history_horizon=6,
            rnn_hidden_size=24,
            head_shape=(16,),
            base_type=base,
            mlp_base_shape=(32,),
        ),
        optim=OptimConfig(iterations=iterations, batch_size=32, learning_rate=3e-3, forecast_horizon=4, **optim),
        validation=ValidationConfig(interval=10, windows=32, horizons=(4, 20)),
        normalization="data",
        checkpoint_interval=10,
        progress=False,
        logger="none",
    )


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic_dataset(num_trajectories=4, steps=400, seed=0)


def test_learns_the_synthetic_system_far_better_than_no_change(dataset, tmp_path):
    cfg = tiny_config(iterations=150)
    summary = WorldModelTrainer(dataset, None, tmp_path, cfg).train()
    val = summary["final_validation"]
    assert val["val/rel_error_forecast_mean"] < 0.25 * val["val/no_change_rel_error_forecast_mean"]
    assert val["val/rel_error_at_20"] < val["val/no_change_rel_error_at_20"]
    assert (tmp_path / "model_best.pt").exists() and (tmp_path / "checkpoints" / "model_150.pt").exists()
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["config"]["train_model"]["optim"]["iterations"] == 150
    assert "rwmu_version" in stored["meta"]


def test_seed_repeatable_and_resume_continues_identically(dataset, tmp_path):
    full = WorldModelTrainer(dataset, None, tmp_path / "full", tiny_config(iterations=20))
    full.train()
    half = WorldModelTrainer(dataset, None, tmp_path / "resumed", tiny_config(iterations=10))
    half.train()
    resumed = WorldModelTrainer(dataset, None, tmp_path / "resumed", tiny_config(iterations=20), resume=True)
    assert resumed.iteration == 10
    resumed.train()
    again = WorldModelTrainer(dataset, None, tmp_path / "again", tiny_config(iterations=20))
    again.train()
    a, b, c = (
        load_world_model(p / "model_latest.pt").state_dict()
        for p in (tmp_path / "full", tmp_path / "resumed", tmp_path / "again")
    )
    # Separate processes are bitwise identical; within one process, CPU kernels may round differently with buffer
    # alignment (~1e-7), hence the tolerance. A different run would differ by far more than 1e-5.
    for k in a:
        torch.testing.assert_close(a[k], c[k], rtol=0, atol=1e-5)  # same seed, same result
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5)  # resume continues the same run
    other = WorldModelTrainer(
        dataset, None, tmp_path / "other", dataclasses.replace(tiny_config(iterations=20), seed=1)
    )
    other.train()
    assert max((a[k] - other.model.state_dict()[k]).abs().max().item() for k in a) > 1e-3


def test_refuses_overwriting_a_run_and_resuming_nothing(dataset, tmp_path):
    WorldModelTrainer(dataset, None, tmp_path, tiny_config(iterations=2)).train()
    with pytest.raises(RwmuError, match="already holds a run"):
        WorldModelTrainer(dataset, None, tmp_path, tiny_config(iterations=2))
    with pytest.raises(RwmuError, match="does not exist"):
        WorldModelTrainer(dataset, None, tmp_path / "empty", tiny_config(iterations=2), resume=True)


@pytest.mark.parametrize("base,loss", [("mlp", "sampled_mse"), ("lstm", "gaussian_nll")])
def test_other_bases_and_nll_train(dataset, tmp_path, base, loss):
    summary = WorldModelTrainer(dataset, None, tmp_path, tiny_config(iterations=40, base=base, state_loss=loss)).train()
    val = summary["final_validation"]
    assert val["val/rel_error_forecast_mean"] < val["val/no_change_rel_error_forecast_mean"]


def test_checkpoint_round_trip_keeps_weights_config_and_normalization(dataset, tmp_path):
    trainer = WorldModelTrainer(dataset, None, tmp_path, tiny_config(iterations=3))
    trainer.train()
    model = load_world_model(tmp_path / "model_latest.pt")
    assert model.config == trainer.model.config
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, model.state_dict()[k])
    assert torch.equal(model.normalization.state_std, trainer.norm.state_std)
    assert not model.training
    # The uncertainty on held-out windows is stored with the weights (the excess penalty's reference).
    ref = model.uncertainty_reference
    assert ref["source"] == "held-out windows" and ref["windows"] == len(trainer.calibration_starts) > 0
    assert ref["std_sum"] == sorted(ref["std_sum"]) and ref["std_sum"][-1] > 0
    again = uncertainty_reference(model, trainer.data, trainer.calibration_starts, source="held-out windows")
    assert again["var_sum"] == pytest.approx(ref["var_sum"], rel=1e-5)
    assert describe_checkpoint(tmp_path / "model_latest.pt")["uncertainty_reference"]["std_sum"]["p50"] > 0


def test_loss_is_per_head_mean_and_uses_zero_state_for_every_head():
    """With bootstrap off, noise-free heads (std tiny) and identical members, the ensemble loss equals one member's."""
    torch.manual_seed(0)
    cfg = WorldModelConfig(
        state_dim=3,
        action_dim=2,
        contact_dim=0,
        termination_dim=1,
        ensemble_size=3,
        history_horizon=4,
        rnn_hidden_size=8,
        rnn_num_layers=1,
        state_mean_shape=(8,),
        state_logstd_shape=(8,),
        termination_shape=(8,),
    )
    model = WorldModelEnsemble(cfg)
    with torch.no_grad():
        for p in model.state_heads.parameters():
            p.copy_(p[:1].expand_as(p))  # every member identical
        model.state_heads.min_logstd.fill_(-30.0)
        model.state_heads.log_delta_logstd.fill_(-10.0)
    single = WorldModelEnsemble(
        WorldModelConfig(
            **{
                **cfg.to_dict(),
                "ensemble_size": 1,
                "state_mean_shape": (8,),
                "state_logstd_shape": (8,),
                "termination_shape": (8,),
                "contact_shape": (128,),
                "extension_shape": (128,),
                "mlp_base_shape": (256, 256),
            }
        )
    )
    sd = {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith(("state_heads.1", "state_heads.2", "auxiliary_heads.1", "auxiliary_heads.2"))
    }
    single.load_state_dict(sd)
    s, a = torch.randn(5, 7, 3), torch.randn(5, 7, 2)
    rows3 = torch.arange(5).expand(3, 5)
    l3 = state_loss(model, s, a, rows3)
    l1 = state_loss(single, s, a, torch.arange(5).expand(1, 5))
    torch.testing.assert_close(l3, l1, atol=1e-5, rtol=1e-5)
    # Hand computation for one member: zero-noise sampled MSE = squared error of the means.
    M = 4
    single.reset()
    expected, hist_s, hist_a = [], s[:, :M], a[:, 1 : M + 1]
    for i in range(3):
        out = single.predict(hist_s, hist_a)
        expected.append((out.state - s[:, M + i]).square().sum(-1).mean())
        hist_s, hist_a = out.state.unsqueeze(1), a[:, M + i + 1 : M + i + 2]
    torch.testing.assert_close(l1, torch.stack(expected).mean(), atol=1e-5, rtol=1e-5)


def test_bootstrap_gives_each_head_its_own_rows():
    torch.manual_seed(0)
    model = WorldModelEnsemble(
        WorldModelConfig(
            state_dim=3, action_dim=2, contact_dim=1, ensemble_size=4, history_horizon=3, rnn_hidden_size=8
        )
    )
    w = torch.randn(16, 5, 3 + 2 + 1 + 1)
    w[..., -2:] = (w[..., -2:] > 0).float()
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    boot = world_model_loss(model, w, bootstrap=True, generator=g1).state
    plain = world_model_loss(model, w, bootstrap=False, generator=g2).state
    assert not torch.isclose(boot, plain)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rwmu.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_train_model_and_model_info(tmp_path):
    from rwmu.data.csv_format import write_csv_dataset

    ds = make_synthetic_dataset(num_trajectories=3, steps=300, seed=1)
    write_csv_dataset(ds, tmp_path / "data")
    out = tmp_path / "run"
    r = run_cli(
        "train-model",
        "--data",
        str(tmp_path / "data"),
        "--dims",
        "6",
        "2",
        "0",
        "2",
        "1",
        "--out",
        str(out),
        "--optim.iterations",
        "4",
        "--optim.batch-size",
        "16",
        "--architecture.ensemble-size",
        "2",
        "--architecture.history-horizon",
        "5",
        "--architecture.rnn-hidden-size",
        "16",
        "--architecture.head-shape",
        "8",
        "--normalization",
        "data",
        "--validation.interval",
        "2",
        "--validation.horizons",
        "4",
        "--optim.forecast-horizon",
        "3",
        "--logger",
        "tensorboard",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    assert "results in" in r.stdout
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    info = run_cli("model", "info", str(out / "model_best.pt"), "--json")
    assert info.returncode == 0, info.stderr
    d = json.loads(info.stdout)
    assert d["architecture"]["ensemble_size"] == 2 and d["iterations"] in (2, 4) and d["normalization"]
    # --resume continues with the stored settings: only --out, --resume and the new total are given
    r = run_cli("train-model", "--out", str(out), "--resume", "--optim.iterations", "6")
    assert r.returncode == 0, r.stderr
    assert load_world_model(out / "model_latest.pt").config.ensemble_size == 2
    stored = json.loads((out / "config.json").read_text())["config"]["command"]
    assert stored["train"]["optim"]["iterations"] == 6 and stored["train"]["optim"]["batch_size"] == 16
    changed = run_cli(
        "train-model", "--out", str(out), "--resume", "--optim.iterations", "8", "--architecture.ensemble-size", "3"
    )
    assert changed.returncode == 2 and "another architecture" in changed.stderr
    bad = run_cli(
        "train-model",
        "--data",
        str(tmp_path / "data"),
        "--dims",
        "6",
        "2",
        "0",
        "2",
        "1",
        "--out",
        str(out),
        "--optim.iterations",
        "abc",
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_policy_checkpoint_is_refused_with_the_key_to_use(tmp_path):
    path = tmp_path / "policy.pt"
    torch.save(
        {"model_state_dict": {"actor.0.weight": torch.zeros(2, 2), "critic.0.weight": torch.zeros(2, 2)}, "iter": 3},
        path,
    )
    with pytest.raises(RwmuError, match="system_dynamics_state_dict"):
        load_world_model(path)
    r = run_cli("model", "info", str(path))
    assert r.returncode == 2 and "model_state_dict" in r.stderr and "Traceback" not in r.stderr
    missing = run_cli("model", "info", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_reference_format_file_loads_with_task_normalization(tmp_path):
    from rwmu.tasks import get_task

    model = WorldModelEnsemble(WorldModelConfig())
    path = tmp_path / "pretrain_rnn_ens.pt"
    torch.save(
        {
            "model_state_dict": {"actor.0.weight": torch.zeros(1)},
            "system_dynamics_state_dict": model.state_dict(),
            "iter": 7,
            "infos": None,
        },
        path,
    )
    loaded = load_world_model(path, task=get_task("anymal_d_flat"))
    assert loaded.config.ensemble_size == 5 and loaded.config.history_horizon == 32
    assert loaded.normalization.state_std[0].item() == pytest.approx(0.5)
    s, a = torch.randn(2, 32, 45), torch.randn(2, 32, 12)
    model.eval()
    torch.testing.assert_close(loaded.predict(s, a).state, model.predict(s, a).state)


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    model = WorldModelEnsemble(WorldModelConfig(state_dim=3, action_dim=2, rnn_hidden_size=8, ensemble_size=2))
    path = tmp_path / "m.pt"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_world_model(path, model)
    assert list(tmp_path.iterdir()) == []


def test_trainer_leaves_the_callers_dataset_untouched(tmp_path):
    ds = make_synthetic_dataset(num_trajectories=2, steps=200, seed=3)
    before = ds.data.copy()
    WorldModelTrainer(ds, None, tmp_path, tiny_config(iterations=1))
    assert (ds.data == before).all()


def test_event_weights_count_each_columns_rare_positives():
    flags = torch.zeros(100, 3)
    flags[:50, 0] = 1.0  # common: weight 1
    flags[:4, 1] = 1.0  # rare: 96 / 4 = 24
    assert event_pos_weights(flags, "none", 100.0) is None
    torch.testing.assert_close(event_pos_weights(flags, "balanced", 100.0), torch.tensor([1.0, 24.0, 100.0]))
    torch.testing.assert_close(event_pos_weights(flags, "sqrt", 100.0), torch.tensor([1.0, 24.0**0.5, 10.0]))
    torch.testing.assert_close(event_pos_weights(flags, "balanced", 10.0), torch.tensor([1.0, 10.0, 10.0]))


def test_weighted_events_raise_the_loss_of_missed_rare_events(tmp_path):
    go2 = get_task("go2_flat")
    ds = make_synthetic_dataset(num_trajectories=3, steps=300, seed=2, task=go2)
    plain = WorldModelTrainer(ds, go2, tmp_path / "a", tiny_config(1))
    weighted = WorldModelTrainer(ds, go2, tmp_path / "b", tiny_config(1, event_weighting="balanced"))
    assert plain.contact_pos_weight is None and weighted.contact_pos_weight.shape == (8,)
    assert weighted.contact_pos_weight.min() >= 1.0
    weighted.model.load_state_dict(plain.model.state_dict())
    batch = plain.data[:200].reshape(20, 10, -1)[:, : plain.window]
    with torch.no_grad():
        a = world_model_loss(plain.model, batch, bootstrap=False, generator=torch.Generator().manual_seed(0))
        b = world_model_loss(
            weighted.model,
            batch,
            bootstrap=False,
            generator=torch.Generator().manual_seed(0),
            contact_pos_weight=weighted.contact_pos_weight,
        )
    assert float(b.contact) > float(a.contact) and float(b.state) == pytest.approx(float(a.state))


def flags_in_message(message: str) -> list[str]:
    return re.findall(r"--[a-z][a-z.-]*[a-z]", message)


def test_cli_divergence_is_one_line_naming_iteration_quantity_and_real_flags(tmp_path):
    from rwmu.data.csv_format import write_csv_dataset

    write_csv_dataset(make_synthetic_dataset(num_trajectories=2, steps=120, seed=1), tmp_path / "data")
    out = tmp_path / "run"
    r = run_cli(
        "train-model",
        "--data",
        str(tmp_path / "data"),
        "--dims",
        "6",
        "2",
        "0",
        "2",
        "1",
        "--out",
        str(out),
        "--optim.iterations",
        "30",
        "--optim.batch-size",
        "16",
        "--architecture.ensemble-size",
        "2",
        "--architecture.history-horizon",
        "4",
        "--architecture.rnn-hidden-size",
        "8",
        "--architecture.head-shape",
        "8",
        "--validation.interval",
        "5",
        "--validation.horizons",
        "4",
        "--optim.forecast-horizon",
        "3",
        "--checkpoint-interval",
        "5",
        "--logger",
        "none",
        "--no-progress",
        "--optim.learning-rate",
        "1e8",
    )
    assert r.returncode == 2
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "Warning" not in line, r.stderr  # no torch warning leaks
    assert re.search(r"diverged at iteration \d+: the (loss|gradient norm|model's weights) became", line), line
    assert "--optim.learning-rate (now 1e+08)" in line
    help_text = run_cli("train-model", "--help").stdout
    assert flags_in_message(line) and all(flag in help_text for flag in flags_in_message(line))
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.tmp"))  # nothing diverged was written


def test_resume_refuses_another_dataset_task_or_architecture(tmp_path, capsys):
    from rwmu.cli.main import main

    for name, trajectories in (("data", 2), ("other", 3)):
        assert (
            main(
                [
                    "data",
                    "example",
                    "--task",
                    "anymal_d_flat",
                    "--trajectories",
                    str(trajectories),
                    "--steps",
                    "60",
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    out = tmp_path / "run"
    tiny = [
        "--optim.iterations",
        "2",
        "--optim.batch-size",
        "8",
        "--architecture.ensemble-size",
        "2",
        "--architecture.history-horizon",
        "4",
        "--architecture.rnn-hidden-size",
        "8",
        "--architecture.head-shape",
        "8",
        "--validation.interval",
        "2",
        "--validation.horizons",
        "4",
        "--optim.forecast-horizon",
        "3",
        "--logger",
        "none",
        "--no-progress",
    ]
    assert (
        main(["train-model", "--data", str(tmp_path / "data"), "--task", "anymal_d_flat", "--out", str(out), *tiny])
        == 0
    )
    capsys.readouterr()
    resume = ["train-model", "--out", str(out), "--resume", "--optim.iterations", "4"]
    for extra, expected in (
        (["--data", str(tmp_path / "other")], f"--data {tmp_path / 'other'} differs from {tmp_path / 'data'}"),
        (["--task", "go2_flat"], "--task go2_flat differs from anymal_d_flat"),
        (["--architecture.rnn-hidden-size", "12"], "was trained with another architecture"),
    ):
        assert main(resume + extra) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and "start a new --out" in err and "\n" not in err, err
    with pytest.raises(RwmuError, match="was trained on 120 rows in 2 trajectories .* --data has 180 rows in 3"):
        WorldModelTrainer(
            load_dataset(tmp_path / "other", task=get_task("anymal_d_flat")),
            None,
            out,
            tiny_config(iterations=4),
            resume=True,
        )
    assert main(resume) == 0  # the same data, task and architecture continue


def test_cli_refuses_data_recorded_for_another_task_naming_both(tmp_path, capsys):
    from rwmu.cli.main import main

    csv_dir, native = tmp_path / "anymal", tmp_path / "anymal.rwmu"
    for out, fmt in ((csv_dir, "csv"), (native, "rwmu")):
        assert (
            main(
                [
                    "data",
                    "example",
                    "--task",
                    "anymal_d_flat",
                    "--trajectories",
                    "2",
                    "--steps",
                    "50",
                    "--format",
                    fmt,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    capsys.readouterr()
    run = tmp_path / "run"
    for data, source in ((csv_dir, f"{csv_dir}/example_config.json"), (native, "its header")):
        assert main(["train-model", "--data", str(data), "--task", "go2_flat", "--out", str(run)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"rwmu train-model: error: {data}: the data was recorded for task anymal_d_flat ({source}), not go2_flat; "
            f"give --task anymal_d_flat, or data recorded for go2_flat"
        )
        assert not run.exists()  # refused before anything was written


def test_an_absurd_outlier_in_the_data_is_named_before_training(tmp_path):
    ds = make_synthetic_dataset(3, 60, seed=0)
    ds.data[10, 2] = 1e30  # finite, so it reads; training on it would diverge and blame the learning rate
    with pytest.raises(RwmuError, match=r"data row 10, state/2: 1e\+30 is an outlier no robot records"):
        WorldModelTrainer(ds, None, tmp_path / "run", TrainModelConfig())


def test_trajectory_bootstrap_members_see_only_the_segments_they_drew(dataset, tmp_path):
    weights = torch.tensor([[0.0, 2.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    rows = _member_rows(4, 3, True, torch.Generator().manual_seed(0), "cpu", weights)
    assert set(rows[0].tolist()) <= {1, 3} and set(rows[1].tolist()) == {0}
    assert rows.shape == (3, 4)  # a member with no segment in the batch resamples it uniformly
    cfg = tiny_config(iterations=4, bootstrap_unit="trajectory")
    cfg = dataclasses.replace(cfg, validation=dataclasses.replace(cfg.validation, block_length=100))
    trainer = WorldModelTrainer(dataset, None, tmp_path, cfg)
    units = trajectory_segments(dataset, trainer.train_starts.numpy(), 100)
    assert units.max() < 16 and units.min() >= 0  # 4 trajectories x 400 rows in 100-row segments
    counts = trainer.member_weights
    assert counts.shape == (2, len(trainer.train_starts))
    for member in counts:  # a segment's windows share the member's count, and some segments are left out
        for u in set(units.tolist()):
            assert len(set(member[torch.as_tensor(units == u)].tolist())) == 1
        assert (member == 0).any()
    assert not torch.equal(counts[0], counts[1])
    trainer.train()  # and it trains
    again = WorldModelTrainer(dataset, None, tmp_path / "again", cfg)
    assert torch.equal(again.member_weights, counts)  # drawn from the seed: a resumed run draws the same
