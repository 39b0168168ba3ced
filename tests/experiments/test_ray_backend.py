"""``--backend ray``: the same grid gives bitwise the same policies and table as the local backend, a crashed job is
retried once, a user error is reported at once, and the storage check sees what a node does not.

Skipped only where the optional extra is absent (``pip install 'rwmu[ray]'``); CI installs it."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import rwmu.api as api
from rwmu.cli.main import main
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.experiments import ray_backend
from rwmu.experiments.backend import check_backend
from rwmu.experiments.backend_config import BackendConfig
from rwmu.experiments.jobs import Job
from rwmu.sim.collect_config import CollectConfig

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance with 2 CPUs for the module (the commands join it instead of starting their own)."""
    ray_backend.start_local(num_cpus=2)
    yield
    ray.shutdown()


def table(out):
    with open(out / "sweep.csv") as f:
        return [{k: v for k, v in row.items() if k not in ("run_dir", "train_seconds")} for row in csv.DictReader(f)]


def test_a_sweep_is_bitwise_the_same_on_ray_and_locally(tiny_sweep_argv, tmp_path, local_ray):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(tiny_sweep_argv(local, "--backend", "local")) == 0
    assert main(tiny_sweep_argv(on_ray, "--backend", "ray")) == 0
    assert table(local) == table(on_ray) and len(table(local)) == 2
    for run in ("lam0_seed0", "lam1_seed0"):
        final = Path(json.loads((local / "runs" / run / "summary.json").read_text())["final_checkpoint"]).name
        a = torch.load(local / "runs" / run / final, weights_only=True)
        b = torch.load(on_ray / "runs" / run / final, weights_only=True)
        for key in ("actor_state_dict", "critic_state_dict"):
            assert a[key].keys() == b[key].keys() and all(torch.equal(a[key][k], b[key][k]) for k in a[key])
        onnx = "export/policy.onnx"
        assert (local / "runs" / run / onnx).read_bytes() == (on_ray / "runs" / run / onnx).read_bytes()
        meta = json.loads((on_ray / "runs" / run / "config.json").read_text())["meta"]
        assert meta["ray_address"] == ray.get_runtime_context().gcs_address  # provenance names the cluster
        assert json.loads((local / "runs" / run / "config.json").read_text())["meta"]["ray_address"] is None
    assert json.loads((on_ray / "config.json").read_text())["config"]["backend"]["backend"] == "ray"
    mtime = (on_ray / "sweep.csv").stat().st_mtime_ns
    assert main(tiny_sweep_argv(on_ray, "--backend", "ray")) == 0  # resumed: every run is finished, nothing re-runs
    assert table(on_ray) == table(local) and (on_ray / "sweep.csv").stat().st_mtime_ns >= mtime


def test_a_crashed_job_is_retried_once_and_a_user_error_is_not(tmp_path, local_ray):
    crash = Job(
        "crash", tmp_path / "crash", {"config": {"iterations": 1}}, "crashing job"
    )  # the worker has no such kind
    user_error = Job("evaluate", tmp_path / "bad.json", {"task": "no_such_task", "policy": "x", "config": {}}, "bad")
    with ray_backend.connected(None, tmp_path):
        failures = ray_backend.run_jobs([crash, user_error], 2, "test", log=lambda s: None, cpus_per_job=1)
    assert len(failures) == 2
    assert any(f.startswith("crashing job failed (exit 1)") for f in failures)
    assert any(f.startswith("bad failed (exit 2)") and "no_such_task" in f for f in failures)
    assert crash.log.read_text().count("KeyError") == 2  # run, then retried once
    assert user_error.log.read_text().count("no_such_task") == 1  # a user error is not run again


def test_the_storage_check_names_a_node_that_does_not_see_a_path(tmp_path, local_ray):
    assert ray_backend.unreachable_nodes([tmp_path]) == []
    assert ray_backend.unreachable_nodes([tmp_path / "absent"]) == [ray.util.get_node_ip_address()]
    ray_backend.check_shared_storage(tmp_path / "out")  # every node (this one) sees it
    assert not any(p.name.startswith(".rwmu-storage-probe") for p in (tmp_path / "out").iterdir())


def test_backend_settings_are_checked_before_any_work(monkeypatch):
    with pytest.raises(RwmuError, match="--ray-address is a Ray setting; add --backend ray"):
        check_backend(BackendConfig(ray_address="auto"))
    with pytest.raises(RwmuError, match="--gpus-per-job must be a number >= 0"):
        check_backend(BackendConfig(backend="ray", gpus_per_job=-0.5))
    with pytest.raises(RwmuError, match="--cpus-per-job must be >= 1"):
        check_backend(BackendConfig(cpus_per_job=0))
    monkeypatch.setattr(ray_backend, "ray", None)  # as without the extra: not imported yet, and not importable
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RwmuError, match=r"pip install 'rwmu\[ray\]'"):
        check_backend(BackendConfig(backend="ray"))


def test_sharded_collection_on_ray_writes_the_local_dataset(tmp_path, local_ray):
    config = CollectConfig(steps=301, num_envs=4, seed=5)
    local = api.collect(tmp_path / "local", "scripted", config=config, shards=2, progress=False)
    on_ray = api.collect(
        tmp_path / "ray", "scripted", config=config, shards=2, progress=False, backend=BackendConfig(backend="ray")
    )
    a, b = load_dataset(local.dataset), load_dataset(on_ray.dataset)
    assert np.array_equal(a.data, b.data) and np.array_equal(a.trajectory_offsets, b.trajectory_offsets)
    assert [s["seed"] for s in b.meta["provenance"]["shards"]] == [5, 6]
    assert [s["dataset_sha256"] for s in a.meta["provenance"]["shards"]] == [
        s["dataset_sha256"] for s in b.meta["provenance"]["shards"]
    ]


EXPERIMENT = """
description = "tiny, on both backends"
[datasets.tiny]
path = "{data}"

[[grid]]
datasets = ["tiny"]
recipes = ["demo"]
lambdas = [0, 1]
seeds = [0]
world_model = {{ architecture = {{ ensemble_size = 2, history_horizon = 8, rnn_hidden_size = 16 }}, optim = {{ iterations = 4, batch_size = 32, forecast_horizon = 4 }}, validation = {{ interval = 2, windows = 64, horizons = [4] }}, checkpoint_interval = 4 }}
policy = {{ iterations = 2, steps_per_env = 8, save_interval = 2, env = {{ num_envs = 16 }}, behavior = {{ init_steps = 20, batch_size = 256, regularizer_steps = 2, critic_warmup = 1 }} }}

[evaluation]
episodes = 2
check_model = false
"""


def test_an_experiment_file_gives_the_same_table_on_ray_and_locally(tiny_demo, tmp_path, local_ray):
    file = tmp_path / "tiny.toml"
    file.write_text(EXPERIMENT.format(data=tiny_demo[0] / "data" / "dataset.rwmu"))
    local = api.run_experiment(file, tmp_path / "local", jobs=2, log=lambda s: None)
    on_ray = api.run_experiment(
        file, tmp_path / "ray", jobs=2, backend=BackendConfig(backend="ray"), log=lambda s: None
    )
    assert len(local.rows) == 2  # returns, falls and paired differences, bitwise (NaN intervals with one seed)
    assert json.dumps(local.rows) == json.dumps(on_ray.rows)
    for run in ("lam0_seed0", "lam1_seed0"):
        onnx = f"tiny/demo/runs/{run}/export/policy.onnx"
        assert (tmp_path / "local" / onnx).read_bytes() == (tmp_path / "ray" / onnx).read_bytes()


def test_a_task_the_cluster_could_never_start_is_refused_naming_its_flag(tmp_path, local_ray):
    job = Job("evaluate", tmp_path / "e.json", {"task": "go2_flat", "policy": "scripted", "config": {}}, "e")
    with pytest.raises(RwmuError, match=r"--cpus-per-job 4: the Ray cluster has 2 CPU\(s\) in all"):
        ray_backend.run_jobs([job], 1, "test", log=lambda s: None, cpus_per_job=4)
    with pytest.raises(RwmuError, match=r"--num-workers 3: the Ray cluster has 2 CPU\(s\) in all"):
        ray_backend.map_calls(print, [{}], 3, "--num-workers", "test")
