from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch

from rwmu.cli.main import main
from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.layout import DataDims
from rwmu.data.native_format import save_dataset
from rwmu.data.normalization import Normalization
from rwmu.evaluation.signals import (
    StudyPoints,
    auroc,
    load_points,
    roc_curve,
    save_points,
    signal_metrics,
    steps_to_fall,
    study_signals,
)
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.models import WorldModelEnsemble
from rwmu.models.checkpoint import save_world_model
from rwmu.models.config import ArchitectureConfig
from rwmu.sim.collect import collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks import get_task
from rwmu.training.policy_loader import ModulePolicy, load_policy

GO2 = get_task("go2_flat")
TINY = SignalStudyConfig(
    episodes=1,
    num_envs=2,
    fall_windows=(5, 10),
    error_horizons=(1, 4),
    disagreement_horizons=(1, 3),
    path_horizon=3,
    max_points=96,
    data_points=48,
    neighbours=200,
    batch=32,
)


def tiny_model(members: int = 3) -> WorldModelEnsemble:
    torch.manual_seed(0)
    arch = ArchitectureConfig(
        ensemble_size=members, history_horizon=4, rnn_hidden_size=16, rnn_num_layers=1, head_shape=(16,)
    )
    model = WorldModelEnsemble(arch.to_model_config(GO2.dims)).eval()
    model.normalization = Normalization.from_task(GO2)
    return model


def random_actor() -> torch.nn.Module:
    """A memoryless actor: small random actions, so that the rollouts move and sometimes fall."""
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(GO2.observation_dim, GO2.dims.action), torch.nn.Tanh())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    model = tiny_model()
    data, _ = collect_dataset(
        load_policy("scripted", 4, GO2), CollectConfig(steps=800, num_envs=4, seed=1), GO2, progress=False
    )
    folder = tmp_path_factory.mktemp("signals")
    save_world_model(folder / "wm.pt", model)
    save_dataset(data, folder / "data.rwmu")
    torch.jit.script(random_actor()).save(str(folder / "actor.pt"))
    return model, data, folder, ModulePolicy(random_actor())


def test_steps_to_fall_counts_to_the_fall_that_ends_the_episode():
    dims = DataDims(1, 1, 0, 0, 1)
    data = np.zeros((10, dims.num_columns), np.float32)
    data[3, -1] = 1.0  # rows 0-3: an episode ending in a fall; rows 4-5: one timing out at the trajectory's end
    data[9, -1] = 1.0  # trajectory 2 (rows 6-9) ends in a fall
    ds = TrajectoryDataset(data, dims, np.array([0, 6, 10]))
    got = steps_to_fall(ds, np.arange(10))
    np.testing.assert_array_equal(got, [3, 2, 1, 0, np.inf, np.inf, 3, 2, 1, 0])


def test_auroc_is_the_share_of_correctly_ordered_pairs():
    rng = np.random.default_rng(0)
    scores, positive = rng.normal(size=60).round(1), rng.random(60) < 0.3  # rounding makes ties
    pairs = [(p, n) for p, n in itertools.product(scores[positive], scores[~positive])]
    brute = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert auroc(scores, positive) == pytest.approx(brute)
    assert auroc(np.arange(4.0), np.array([False, False, True, True])) == 1.0
    assert auroc(np.arange(4.0), np.array([True, True, False, False])) == 0.0
    assert auroc(np.arange(4.0), np.zeros(4, bool)) is None
    fpr, tpr = roc_curve(np.arange(4.0), np.array([False, False, True, True]))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1) and tpr[2] == 1.0 and fpr[2] == 0.0


def test_member_predictions_are_each_members_own_prediction():
    model = tiny_model()
    states, actions = torch.randn(5, 4, GO2.dims.state), torch.randn(5, 4, GO2.dims.action)
    members = model.member_predictions(states, actions)
    assert members.state.shape == (3, 5, GO2.dims.state) and members.termination.shape == (3, 5, 1)
    for fused in (True, False):
        model.fused_inference = fused
        for b in range(3):
            model.reset()
            out = model.predict(states, actions, member_ids=torch.full((5,), b))
            torch.testing.assert_close(out.state, members.state[b], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(out.termination, members.termination[b], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(out.epistemic, members.state.std(0).sum(-1), atol=1e-5, rtol=1e-5)


def test_study_scores_every_signal_and_multistep_h1_is_the_one_step_signal(world):
    model, data, _, actor = world
    on_policy, on_data = study_signals(model, actor, data, GO2, TINY)
    names = TINY.signal_names()
    assert set(on_policy.signals) == set(names) == set(on_data.signals)
    n = on_policy.steps_to_fall.size
    assert 0 < n <= TINY.max_points and on_data.steps_to_fall.size == TINY.data_points
    for name in names:
        assert on_policy.signals[name].shape == (n,) and np.isfinite(on_policy.signals[name]).all(), name
    # The members' own paths start with the recorded action: their step-1 disagreement is the one-step signal.
    np.testing.assert_allclose(on_policy.signals["multistep_h1"], on_policy.signals["std_sum"], rtol=1e-4, atol=1e-5)
    assert (on_policy.signals["std_sum"] > 0).all() and (on_policy.signals["nearest_data"] > 0).all()
    # The open-loop error is there where the episode lasts h more steps, and grows with h on average.
    assert np.isfinite(on_policy.errors[1]).sum() >= np.isfinite(on_policy.errors[4]).sum() > 0
    assert np.nanmean(on_policy.errors[4]) > np.nanmean(on_policy.errors[1])
    metrics = signal_metrics(on_policy, on_data, TINY)
    assert metrics["std_sum"]["level"] == pytest.approx(
        np.median(on_policy.signals["std_sum"]) / np.median(on_data.signals["std_sum"])
    )
    assert -1 <= metrics["std_sum"]["spearman_h1"] <= 1


def test_identical_members_disagree_nowhere(world):
    model, data, _, actor = world
    twin = tiny_model()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        for heads in (twin.state_heads, twin.auxiliary_heads):
            for p in heads.parameters():
                p.copy_(p[:1].expand_as(p))
    # a batch above the nearest-data search's 256-row chunks and not a multiple of them
    on_policy, _ = study_signals(twin, actor, data, GO2, dataclasses.replace(TINY, max_points=32, batch=300))
    for name in TINY.signal_names():
        values = on_policy.signals[name]
        if name == "nearest_data":
            assert (values > 0).all()
        else:
            np.testing.assert_allclose(values, 0.0, atol=1e-5, err_msg=name)


def test_metrics_rank_a_signal_that_knows_the_falls_first(tmp_path):
    steps = np.array([1, 2, 3, 20, 60, np.inf, np.inf, 5, 80, 30], dtype=float)
    signals = {name: np.zeros(10) for name in TINY.signal_names()}
    signals["std_sum"] = 1.0 / steps  # high just before a fall
    signals["nearest_data"] = -1.0 / steps  # the opposite
    errors = {1: np.linspace(0, 1, 10), 4: np.linspace(0, 1, 10)}
    on_policy, on_data = StudyPoints(signals, steps, errors), StudyPoints(dict(signals), np.full(10, np.inf))
    save_points(tmp_path / "a.npz", on_policy, on_data)
    pooled, pooled_data = load_points([tmp_path / "a.npz", tmp_path / "a.npz"])
    assert pooled.steps_to_fall.size == 20 and pooled_data.signals["std_sum"].size == 20
    metrics = signal_metrics(pooled, pooled_data, TINY)
    assert metrics["std_sum"]["auroc_k5"] == 1.0 and metrics["nearest_data"]["auroc_k5"] == 0.0
    assert metrics["pairwise_max"]["auroc_k5"] == 0.5  # a constant signal sees nothing
    # early warning: the states 11-35 steps ahead of a fall (20, 30) against those more than 60 from one (80, inf)
    assert metrics["std_sum"]["auroc_early"] == 1.0 and metrics["nearest_data"]["auroc_early"] == 0.0


def test_cli_signals_writes_its_outputs_and_refuses_bad_input(world, tmp_path):
    _, _, folder, _ = world
    args = [
        "signals",
        "--world-model",
        str(folder / "wm.pt"),
        "--data",
        str(folder / "data.rwmu"),
        "--policy",
        str(folder / "actor.pt"),
        "--episodes",
        "1",
        "--num-envs",
        "2",
        "--max-points",
        "32",
        "--data-points",
        "16",
        "--neighbours",
        "100",
        "--batch",
        "16",
        "--no-progress",
    ]
    out = tmp_path / "study"
    assert main(args + ["--out", str(out)]) == 0
    document = json.loads((out / "signals.json").read_text())
    assert set(document["signals"]) == set(SignalStudyConfig().signal_names())
    assert (out / "roc.png").stat().st_size > 0 and (out / "signals.npz").is_file() and (out / "config.json").is_file()
    assert main(args + ["--out", str(out)]) == 2  # one study owns its folder
    assert main(args + ["--out", str(tmp_path / "b"), "--fall-windows", "0"]) == 2
    single = tiny_model(members=1)
    save_world_model(tmp_path / "one.pt", single)
    bad = [a if a != str(folder / "wm.pt") else str(tmp_path / "one.pt") for a in args]
    assert main(bad + ["--out", str(tmp_path / "c")]) == 2  # one member: no disagreement to study
    scripted = [a if a != str(folder / "actor.pt") else "scripted" for a in args]
    assert main(scripted + ["--out", str(tmp_path / "d")]) == 2  # a hidden gait phase imagination cannot continue
