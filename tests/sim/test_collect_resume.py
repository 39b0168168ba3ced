"""An interrupted collection continues after its last completed chunk and gives the uninterrupted dataset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rwmu.behavior import TrotConfig, TrotController
from rwmu.cli.main import main
from rwmu.data.loading import load_dataset
from rwmu.sim.chunks import ChunkStore, chunk_sizes
from rwmu.sim.collect import CollectSegment, NoisyPolicy, collect_mixture
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks.go2_flat import GO2_FLAT

TASK = dataclasses.replace(GO2_FLAT, episode_length=30)
CONFIG = CollectConfig(steps=360, num_envs=3, seed=2, min_trajectory_rows=10, chunk_rows=120)


class StopsAfter(NoisyPolicy):
    """A noisy policy that is interrupted (as by Ctrl-C) at its ``calls``-th action."""

    def __init__(self, policy, std: float, seed: int, calls: int):
        super().__init__(policy, std, seed)
        self.calls = calls

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt
        return super().act(obs)


def segments(stop_after: int | None = None) -> list[CollectSegment]:
    """Two behaviour policies (a noisy trot and a plain one) of 240 and 120 rows."""
    trot = TrotController(3, TrotConfig(seed=5))
    first = NoisyPolicy(trot, 0.2, 7) if stop_after is None else StopsAfter(trot, 0.2, 7, stop_after)
    return [
        CollectSegment(lambda: first, 240, {"policy": "noisy"}),
        CollectSegment(lambda: TrotController(3, TrotConfig(seed=6)), 120, {"policy": "plain"}),
    ]


def test_chunk_sizes():
    assert chunk_sizes(250, 100) == [100, 100, 50] and chunk_sizes(250, 0) == [250] and chunk_sizes(80, 100) == [80]


def test_a_resumed_collection_equals_the_uninterrupted_one(tmp_path):
    expected, expected_stats, _ = collect_mixture(segments(), CONFIG, TASK, progress=False)
    store = ChunkStore(tmp_path)
    store.start({"test": 1})
    with pytest.raises(KeyboardInterrupt):  # stopped inside the second chunk of the first policy
        collect_mixture(segments(stop_after=60), CONFIG, TASK, progress=False, store=store)
    assert store.completed() == 1
    resumed, stats, per_segment = collect_mixture(segments(), CONFIG, TASK, progress=False, store=store)
    assert store.completed() == 3
    np.testing.assert_array_equal(resumed.data, expected.data)
    np.testing.assert_array_equal(resumed.context, expected.context)
    np.testing.assert_array_equal(resumed.trajectory_offsets, expected.trajectory_offsets)
    assert stats.as_dict() == expected_stats.as_dict() and resumed.num_rows == 360
    assert [s["rows"] for s in resumed.meta["provenance"]["segments"]] == [[0, 240], [240, 360]]
    # chunks start from fresh episodes: one chunk of all rows is another (equally valid) dataset
    whole, _, _ = collect_mixture(segments(), dataclasses.replace(CONFIG, chunk_rows=0), TASK, progress=False)
    assert whole.num_rows == 360 and not np.array_equal(whole.data, expected.data)


def test_cli_resumes_and_refuses_a_rerun_or_changed_settings(tmp_path, capsys, monkeypatch):
    whole, out = tmp_path / "whole", tmp_path / "out"
    flags = ["--steps", "200", "--num-envs", "2", "--chunk-rows", "100", "--min-trajectory-rows", "10", "--no-progress"]
    assert main(["collect", "--out", str(whole), *flags]) == 0
    assert not ChunkStore(whole).folder.exists()  # the chunks are removed once the dataset is written
    with monkeypatch.context() as patch:  # a collection stopped after its chunks, before its dataset was written
        patch.setattr(ChunkStore, "clear", lambda self: None)
        assert main(["collect", "--out", str(out), *flags]) == 0
    for path in [*out.glob("*.csv"), out / "collect_stats.json"]:
        path.unlink()
    assert ChunkStore(out).completed() == 2
    capsys.readouterr()
    assert main(["collect", "--out", str(out), *flags]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rwmu collect: error: --out {out}: holds 2 completed chunks of an interrupted collection; continue it with "
        f"rwmu collect --out {out} --resume, or choose an empty folder"
    )
    assert main(["collect", "--out", str(out), "--resume", "--seed", "5"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rwmu collect: error: --resume: --seed 5 differs from 0 of the run in {out}; drop --seed to continue the "
        f"run, or start a new --out"
    )
    # the stored settings; the number of processes and the format may change
    assert main(["collect", "--out", str(out), "--resume", "--num-workers", "2", "--format", "rwmu"]) == 0
    resumed, expected = load_dataset(out / "dataset.rwmu"), load_dataset(whole, task=GO2_FLAT)
    np.testing.assert_array_equal(resumed.data, expected.data)
    np.testing.assert_array_equal(resumed.trajectory_offsets, expected.trajectory_offsets)
    assert not ChunkStore(out).folder.exists()
