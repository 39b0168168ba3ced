"""The uncertainty-versus-error protocol (docs/method.md section 8) and ``rwmu eval-uncertainty`` end to end."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from rwmu.cli.main import main
from rwmu.data.csv_format import write_csv_dataset
from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.layout import DataDims
from rwmu.data.native_format import save_dataset
from rwmu.data.normalization import Normalization
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.data.windows import split_windows
from rwmu.errors import RwmuError
from rwmu.evaluation.uncertainty import (
    SplitSettings,
    evaluate_uncertainty,
    heldout_row_mask,
    longest_horizon,
    resolve_split_settings,
    starts_within,
)
from rwmu.evaluation.uncertainty_config import UncertaintyEvalConfig
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.models.config import ArchitectureConfig
from rwmu.models.rollout import l1_error, open_loop_rollout
from rwmu.training.world_model import WorldModelTrainer, normalized_tensor
from rwmu.training.world_model_config import OptimConfig, TrainModelConfig, ValidationConfig


def tiny_train_config(iterations=10):
    """A seconds-long training run (like tests/training/test_world_model.py::tiny_config)."""
    return TrainModelConfig(
        architecture=ArchitectureConfig(ensemble_size=2, history_horizon=6, rnn_hidden_size=24, head_shape=(16,)),
        optim=OptimConfig(iterations=iterations, batch_size=32, learning_rate=3e-3, forecast_horizon=4),
        validation=ValidationConfig(interval=iterations, windows=8, horizons=(4,)),
        normalization="data",
        checkpoint_interval=iterations,
        progress=False,
        logger="none",
    )


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic_dataset(num_trajectories=4, steps=400, seed=0)


def untrained_model(ds, base="gru", members=3, seed=0):
    torch.manual_seed(seed)
    d = ds.dims
    model = WorldModelEnsemble(
        WorldModelConfig(
            state_dim=d.state,
            action_dim=d.action,
            contact_dim=d.contact,
            termination_dim=d.termination,
            ensemble_size=members,
            history_horizon=5,
            base_type=base,
            rnn_hidden_size=16,
            rnn_num_layers=1,
            mlp_base_shape=(16,),
            state_mean_shape=(16,),
            state_logstd_shape=(16,),
            contact_shape=(16,),
            termination_shape=(16,),
        )
    )
    model.normalization = Normalization.from_dataset(ds)
    return model.eval()


def rows_of(starts, length, num_rows):
    covered = np.zeros(num_rows, dtype=bool)
    for s in starts:
        covered[s : s + length] = True
    return covered


# ------------------------------------------------------------------------------------------------ held-out split
def test_heldout_windows_share_no_row_with_any_training_window(dataset):
    split = SplitSettings(val_fraction=0.2, block_length=100, seed=3, train_window=10, source="flags")
    mask = heldout_row_mask(dataset, split)
    train_starts, val_starts = split_windows(dataset, 10, 0.2, seed=3, block_length=100)
    train_rows = rows_of(train_starts, 10, dataset.num_rows)
    np.testing.assert_array_equal(mask, rows_of(val_starts, 10, dataset.num_rows))
    assert not (mask & train_rows).any()
    starts = starts_within(dataset, mask, 40)
    assert starts.size > 0
    assert not (rows_of(starts, 40, dataset.num_rows) & train_rows).any()
    assert rows_of(starts, 40, dataset.num_rows)[mask].sum() > 0


def test_split_settings_come_from_the_checkpoint_then_explicit_flags():
    train = {
        "seed": 7,
        "architecture": {"history_horizon": 32},
        "optim": {"forecast_horizon": 8},
        "validation": {"val_fraction": 0.2, "block_length": 300},
    }
    s = resolve_split_settings(UncertaintyEvalConfig(seed=1), train, model_history=32)
    assert (s.val_fraction, s.block_length, s.seed, s.train_window, s.source) == (0.2, 300, 7, 40, "checkpoint")
    s = resolve_split_settings(UncertaintyEvalConfig(seed=1, block_length=50), train, model_history=32)
    assert (s.block_length, s.seed, s.source) == (50, 7, "checkpoint+flags")
    s = resolve_split_settings(UncertaintyEvalConfig(seed=1), None, model_history=6)
    assert (s.val_fraction, s.block_length, s.seed, s.train_window, s.source) == (0.1, 500, 1, 14, "flags")


def test_longest_horizon_is_the_longest_window_that_fits():
    dims = DataDims(state=2, action=1, extension=0, contact=0, termination=1)
    ds = TrajectoryDataset(np.zeros((80, dims.num_columns), np.float32), dims, np.array([0, 30, 80]))
    assert longest_horizon(ds, None, history=5, horizon=100) == 45
    assert longest_horizon(ds, None, history=5, horizon=20) == 20
    mask = np.zeros(80, dtype=bool)
    mask[40:60] = True
    assert longest_horizon(ds, mask, history=5, horizon=100) == 15
    assert longest_horizon(ds, np.zeros(80, dtype=bool), history=5, horizon=100) == 0


# ------------------------------------------------------------------------------------------------ protocol
def test_protocol_matches_a_direct_rollout_and_is_seeded(dataset):
    model = untrained_model(dataset)
    cfg = UncertaintyEvalConfig(windows=5, horizon=12, split="all", seed=4, calibration_bins=3)
    before = dataset.data.copy()
    ev = evaluate_uncertainty(model, dataset, cfg, log=lambda _: None)
    np.testing.assert_array_equal(dataset.data, before)  # the protocol leaves the caller's data as it was
    assert ev.window_starts.shape == (5,) and ev.horizon == 12 and ev.history == 5
    data = normalized_tensor(dataset.data.copy(), dataset.dims, model.normalization, "cpu")
    idx = torch.as_tensor(ev.window_starts)[:, None] + torch.arange(17)
    s, a = data[idx][..., :6], data[idx][..., 6:8]
    members = torch.randint(0, 3, (5,), generator=torch.Generator().manual_seed(4))
    for mode, ids in (("mean", None), ("sampled_member", members)):
        roll = open_loop_rollout(model, s, a, 12, member_ids=ids)
        np.testing.assert_allclose(ev.modes[mode].l1, l1_error(roll.state, s[:, 5:]).numpy(), rtol=1e-6)
        np.testing.assert_allclose(ev.modes[mode].epistemic, roll.epistemic.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ev.modes["sampled_member"].member_ids, members.numpy())
    summary = ev.summary()
    m = summary["modes"]["mean"]
    assert m["final_l1"] == pytest.approx(ev.modes["mean"].l1[:, -1].mean())
    assert m["final_epistemic"] == pytest.approx(ev.modes["mean"].epistemic[:, -1].mean())
    assert m["mean_rel_error"] == pytest.approx(ev.modes["mean"].rel_error.mean())
    assert sum(b["count"] for b in m["calibration"]) == 5 * 12
    hold = s[:, 4:5].expand(-1, 12, -1)
    assert summary["no_change"]["final_l1"] == pytest.approx(float(l1_error(hold, s[:, 5:])[:, -1].mean()), rel=1e-6)
    rows = ev.per_step_rows()
    assert len(rows) == 2 * 12 and rows[0]["step"] == 1 and rows[-1]["mode"] == "sampled_member"

    again = evaluate_uncertainty(model, dataset, cfg, log=lambda _: None)
    np.testing.assert_array_equal(again.modes["sampled_member"].l1, ev.modes["sampled_member"].l1)
    other = evaluate_uncertainty(
        model, dataset, UncertaintyEvalConfig(windows=5, horizon=12, split="all", seed=5), log=lambda _: None
    )
    assert not np.array_equal(other.window_starts, ev.window_starts)


def test_horizon_is_reduced_with_a_note_when_no_window_is_long_enough(dataset):
    model = untrained_model(dataset)
    printed = []
    ev = evaluate_uncertainty(
        model, dataset, UncertaintyEvalConfig(windows=4, horizon=10_000, split="all"), log=printed.append
    )
    # trajectory 0 is one 400-row episode (no termination); the longest window holds M = 5 history rows + 395
    assert ev.horizon == 400 - 5 and ev.requested_horizon == 10_000
    assert any("horizon reduced" in p for p in printed) and ev.notes
    assert ev.modes["mean"].l1.shape[1] == ev.horizon


def test_history_override_for_recurrent_models_only(dataset):
    cfg = UncertaintyEvalConfig(windows=2, horizon=3, history=9, split="all")
    model = untrained_model(dataset)
    ev = evaluate_uncertainty(model, dataset, cfg, log=print)
    assert ev.history == 9 and ev.modes["mean"].l1.shape == (2, 3)
    assert model.history_horizon == 5  # the model is left as it was
    with pytest.raises(RwmuError, match="MLP"):
        evaluate_uncertainty(
            untrained_model(dataset, base="mlp"),
            dataset,
            UncertaintyEvalConfig(windows=2, horizon=3, history=9, split="all"),
        )


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_uncertainty")
    save_dataset(make_synthetic_dataset(num_trajectories=4, steps=400, seed=0), root / "data.rwmu")
    # its own copy: the trainer normalises the array it is given in place (rwmu.training.world_model)
    train_data = make_synthetic_dataset(num_trajectories=4, steps=400, seed=0)
    WorldModelTrainer(train_data, None, root / "model", tiny_train_config(), data_path="synthetic").train()
    return root


def test_cli_end_to_end_writes_summary_csv_plots_and_config(trained, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(
        [
            "eval-uncertainty",
            "--world-model",
            str(trained / "model" / "model_latest.pt"),
            "--data",
            str(trained / "data.rwmu"),
            "--out",
            str(out),
            "--windows",
            "6",
            "--horizon",
            "15",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Pearson, all points" in printed and str(out) in printed
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "world_model",
        "data",
        "split",
        "split_settings",
        "windows",
        "history",
        "horizon",
        "seed",
        "reduction",
        "ensemble_size",
        "window_starts",
        "no_change",
        "modes",
        "notes",
        "files",
    ):
        assert key in summary, key
    assert summary["split"] == "heldout" and summary["split_settings"]["source"] == "checkpoint"
    assert summary["split_settings"]["train_window"] == 6 + 4
    assert summary["windows"] == 6 and summary["horizon"] == 15 and summary["history"] == 6
    assert set(summary["modes"]) == {"mean", "sampled_member"}
    for mode in summary["modes"].values():
        for key in (
            "pearson_all",
            "pearson_step_averaged",
            "spearman_all",
            "spearman_step_averaged",
            "final_l1",
            "final_epistemic",
            "final_aleatoric",
            "mean_rel_error",
        ):
            assert isinstance(mode[key], float) and math.isfinite(mode[key]), key
        assert mode["calibration"] and sum(b["count"] for b in mode["calibration"]) == 6 * 15
    assert len(summary["modes"]["sampled_member"]["member_ids"]) == 6
    # the windows are held out from the model's training split
    _, val_starts = split_windows(trained_dataset(trained), 10, 0.1, seed=0, block_length=500)
    val_rows = rows_of(val_starts, 10, 1600)
    assert all(val_rows[s : s + 21].all() for s in summary["window_starts"])

    with open(out / "uncertainty_error_by_step.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["step", "mode", "l1_mean", "epistemic_mean", "aleatoric_mean", "rel_error"]
    assert len(rows) == 2 * 15 and all(math.isfinite(float(r["l1_mean"])) for r in rows)
    for name in summary["files"].values():
        assert (out / name).stat().st_size > 0, name
    assert (out / "uncertainty_error_scatter_sampled_member.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["command"]["eval"]["windows"] == 6 and "rwmu_version" in config["meta"]


def trained_dataset(root):
    from rwmu.data.loading import load_dataset

    return load_dataset(root / "data.rwmu")


def test_cli_reads_csv_data_with_the_model_dims(trained, tmp_path, dataset):
    write_csv_dataset(dataset, tmp_path / "csv")
    code = main(
        [
            "eval-uncertainty",
            "--world-model",
            str(trained / "model" / "model_latest.pt"),
            "--data",
            str(tmp_path / "csv"),
            "--out",
            str(tmp_path / "eval"),
            "--windows",
            "2",
            "--horizon",
            "3",
            "--split",
            "all",
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["split_settings"] is None


def test_cli_errors_are_one_line_with_exit_code_2(trained, tmp_path, capsys):
    model = str(trained / "model" / "model_latest.pt")
    data = str(trained / "data.rwmu")
    policy = tmp_path / "policy.pt"
    torch.save({"model_state_dict": {"actor.0.weight": torch.zeros(2, 2)}}, policy)
    other = make_synthetic_dataset(
        num_trajectories=1, steps=100, seed=0, dims=DataDims(state=4, action=2, extension=0, contact=2, termination=1)
    )
    save_dataset(other, tmp_path / "other.rwmu")
    cases = [
        (["--world-model", str(tmp_path / "missing.pt"), "--data", data], "no such file"),
        (["--world-model", model, "--data", str(tmp_path / "missing")], "no such file"),
        (["--world-model", str(policy), "--data", data], "policy"),
        (["--world-model", model, "--data", str(tmp_path / "other.rwmu")], "world model"),
        (["--world-model", model, "--data", data, "--dims", "4", "2", "0", "2", "1"], "world model"),
        (["--world-model", model, "--data", data, "--windows", "0"], "--windows"),
    ]
    for extra, message in cases:
        capsys.readouterr()
        assert main(["eval-uncertainty", *extra, "--out", str(tmp_path / "x")]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert err.startswith("rwmu eval-uncertainty: error:") and "\n" not in err and message in err, err
