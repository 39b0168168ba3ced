"""rwmu's Python API: sharded collection merges shards that are ordinary collections with their own seeds, and a
bad argument is refused before any work."""

import numpy as np
import pytest

import rwmu
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.sim.collect_config import CollectConfig

SMALL = CollectConfig(steps=301, num_envs=4, seed=3)


def test_shards_are_collections_with_their_own_seeds_merged_in_order(tmp_path):
    merged = rwmu.collect(tmp_path / "sharded", "scripted", config=SMALL, shards=2, progress=False)
    alone = [
        rwmu.collect(
            tmp_path / f"alone_{k}", "scripted", config=CollectConfig(steps=s, num_envs=4, seed=3 + k), progress=False
        )
        for k, s in enumerate((151, 150))
    ]
    data = load_dataset(merged.dataset)
    parts = [load_dataset(a.dataset) for a in alone]
    assert merged.rows == 301 == data.num_rows
    assert np.array_equal(data.data, np.concatenate([p.data for p in parts]))
    assert data.num_trajectories == sum(p.num_trajectories for p in parts)
    shards = data.meta["provenance"]["shards"]
    assert [(s["shard"], s["seed"], s["steps"]) for s in shards] == [(0, 3, 151), (1, 4, 150)]
    assert merged.stats["falls"] == sum(a.stats["falls"] for a in alone)
    assert not (tmp_path / "sharded" / ".shards").exists()  # the shards are dropped once merged


def test_a_finished_shard_is_kept_when_the_collection_resumes(tmp_path):
    # shard 0 finished before an interruption (recorded here with another seed, to tell it from a new collection)
    kept = rwmu.collect(
        tmp_path / "s" / ".shards" / "shard_0",
        "scripted",
        config=CollectConfig(steps=151, num_envs=4, seed=99),
        progress=False,
    )
    kept_rows = load_dataset(kept.dataset).data
    merged = rwmu.collect(tmp_path / "s", "scripted", config=SMALL, shards=2, resume=True, progress=False)
    data = load_dataset(merged.dataset)
    assert merged.rows == 301 and np.array_equal(data.data[:151], kept_rows)  # merged as it was, not collected again


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    with pytest.raises(RwmuError, match="--shards 0: give between 1 and --steps"):
        rwmu.collect(tmp_path / "a", config=SMALL, shards=0)
    with pytest.raises(RwmuError, match="--backend ray collects shards as Ray tasks: add --shards N"):
        rwmu.collect(tmp_path / "b", config=SMALL, backend=rwmu.api.BackendConfig(backend="ray"))
    with pytest.raises(RwmuError, match="unknown task"):
        rwmu.train_policy("wm.pt", "d.rwmu", tmp_path / "c", task="no_such_task")
    assert not any(tmp_path.iterdir())  # nothing was written
