"""``rwmu sweep``: aggregation over seeds, run states / resumability, results files from real run JSONs."""

import csv
import dataclasses
import json
import math
import os
import signal
import sys
import threading

import pytest

from rwmu.errors import RwmuError
from rwmu.experiments import jobs, steps, worker
from rwmu.experiments import sweep as sw
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.utils.io import write_csv_atomic, write_json_atomic


def _finish(run, true_return, imagined, imagined_task, episodes=4, falls=1, std=0.5):
    """Write the files a finished run leaves behind (as the policy job does: checkpoint, ONNX, scores)."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "model_4.pt").write_bytes(b"x")
    (run.run_dir / "export").mkdir(exist_ok=True)
    (run.run_dir / "export" / "policy.onnx").write_bytes(b"x")
    write_json_atomic(
        run.run_dir / sw.SUMMARY_JSON,
        {
            "imagined_reward": imagined,
            "imagined_task_reward": imagined_task,
            "epistemic_uncertainty": 2.0,
            "final_checkpoint": str(run.run_dir / "model_4.pt"),
            "wall_time_s": 3.0,
            "iterations": 5,
        },
    )
    write_json_atomic(
        run.run_dir / sw.EVALUATION_JSON,
        {
            "return_mean": true_return,
            "return_std": std,
            "episodes": episodes,
            "falls": falls,
            "fall_rate": falls / episodes,
        },
    )
    write_json_atomic(
        run.run_dir / sw.MODEL_CHECK_JSON,
        {
            "u_ratio": 1.5,
            "policy": {
                "falls_rule": {"recall": 0.25},
                "contacts": {"undesired_rate_predicted": 0.01, "undesired_rate_real": 0.04},
            },
        },
    )


def test_mean_std_is_sample_std_and_ignores_missing():
    mean, std = sw.mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3)
    assert std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert sw.mean_std([5.0]) == (5.0, 0.0)
    assert sw.mean_std([3.0, None, float("nan"), 5.0]) == (4.0, pytest.approx(math.sqrt(2)))
    assert all(math.isnan(v) for v in sw.mean_std([None]))


def test_aggregate_runs_per_lambda_by_hand():
    records = [
        {
            "lambda": 1.0,
            "seed": 0,
            "true_return_mean": 2.0,
            "fall_rate": 0.0,
            "imagined_reward": 0.1,
            "imagined_task_reward": 0.2,
            "epistemic_uncertainty": 1.0,
        },
        {
            "lambda": 0.0,
            "seed": 0,
            "true_return_mean": 1.0,
            "fall_rate": 0.5,
            "imagined_reward": 0.3,
            "imagined_task_reward": 0.3,
            "epistemic_uncertainty": 3.0,
        },
        {
            "lambda": 1.0,
            "seed": 1,
            "true_return_mean": 4.0,
            "fall_rate": 0.25,
            "imagined_reward": 0.0,
            "imagined_task_reward": 0.1,
            "epistemic_uncertainty": 2.0,
        },
    ]
    rows = sw.aggregate_runs(records)
    assert [r["lambda"] for r in rows] == [0.0, 1.0]
    zero, one = rows
    assert zero["seeds"] == [0] and zero["true_return_mean"] == 1.0 and zero["true_return_std"] == 0.0
    assert one["seeds"] == [0, 1]
    assert one["true_return_mean"] == pytest.approx(3.0)
    assert one["true_return_std"] == pytest.approx(math.sqrt(2.0))  # (2-3)^2 + (4-3)^2 over ddof 1
    assert one["fall_rate_mean"] == pytest.approx(0.125)
    assert one["imagined_reward_mean"] == pytest.approx(0.05)
    assert one["imagined_task_reward_std"] == pytest.approx(math.sqrt(0.005))
    assert one["epistemic_uncertainty_mean"] == pytest.approx(1.5)
    # 95 % Student-t half-width over 2 seeds: t(0.975, 1) = 12.706 times std / sqrt(2); undefined for one seed
    assert one["true_return_ci95"] == pytest.approx(12.7062047 * math.sqrt(2.0) / math.sqrt(2), rel=1e-6)
    assert math.isnan(zero["true_return_ci95"])


def test_paired_differences_by_hand():
    returns = {
        (0.0, 0): 1.0,
        (0.0, 1): 3.0,
        (0.0, 2): 2.0,
        (1.0, 0): 2.0,
        (1.0, 1): 3.5,
        (1.0, 2): 1.5,
        (2.0, 1): 5.0,
        (2.0, 7): 9.0,
    }  # lambda 2 shares only seed 1 with lambda 0
    records = [{"lambda": lam, "seed": seed, "true_return_mean": ret} for (lam, seed), ret in returns.items()]
    one, two = sw.paired_differences(records)
    assert one["lambda"] == 1.0 and one["baseline_lambda"] == 0.0 and one["seeds"] == [0, 1, 2]
    # differences 1, 0.5, -0.5: mean 1/3, sample std sqrt(7/12), t(0.975, 2) = 4.30265
    assert one["difference_mean"] == pytest.approx(1 / 3)
    assert one["difference_ci95"] == pytest.approx(4.302653 * math.sqrt(7 / 12) / math.sqrt(3), rel=1e-6)
    assert one["seeds_above"] == 2
    assert two["seeds"] == [1] and two["difference_mean"] == 2.0 and math.isnan(two["difference_ci95"])
    assert sw.paired_differences(records[:3]) == []  # one lambda: nothing to pair


def test_mean_ci95_matches_the_t_table():
    mean, half = sw.mean_ci95([1.0, 2.0, 3.0, 4.0, None])
    assert mean == 2.5 and half == pytest.approx(3.18245 * math.sqrt(5 / 3) / 2, rel=1e-5)  # t(0.975, 3)


def test_plan_runs_names_and_validation(tmp_path):
    runs = sw.plan_runs(tmp_path, (0.0, 0.5), (0, 2))
    assert [r.name for r in runs] == ["lam0_seed0", "lam0_seed2", "lam0.5_seed0", "lam0.5_seed2"]
    for bad in (-1.0, float("inf"), float("nan")):  # refused before any run starts
        with pytest.raises(RwmuError, match="every lambda must be a finite number >= 0"):
            sw.plan_runs(tmp_path, (0.0, bad), (0,))
    with pytest.raises(RwmuError):
        sw.plan_runs(tmp_path, (1.0, 1.0), (0,))


POLICY = PolicyTrainingConfig(iterations=5)  # what _finish leaves: 5 iterations done


def test_run_state_and_jobs_run_only_what_is_missing(tmp_path, monkeypatch):
    config = sw.SweepConfig(world_model="wm.pt", data="d.rwmu", lambdas=(1.0,), seeds=(0, 1, 2, 3))
    new, partial, trained, finished = sw.plan_runs(tmp_path, config.lambdas, config.seeds)
    partial.run_dir.mkdir(parents=True)
    (partial.run_dir / "model_2.pt").write_bytes(b"x")
    _finish(trained, 1.0, 0.1, 0.2)
    (trained.run_dir / sw.EVALUATION_JSON).unlink()
    (trained.run_dir / sw.MODEL_CHECK_JSON).unlink()
    _finish(finished, 1.0, 0.1, 0.2)
    assert [sw.run_state(r) for r in (new, partial, trained, finished)] == ["new", "partial", "trained", "finished"]
    ran = []
    monkeypatch.setattr(jobs, "run_job", lambda job, threads: ran.append(job.out))
    all_jobs = sw.run_jobs_of(config, POLICY, [new, partial, trained, finished], recipe="paper")
    assert jobs.run_jobs(all_jobs, 1, "test", log=lambda s: None) == []
    assert ran == [new.run_dir, partial.run_dir, trained.run_dir]  # a finished run does nothing
    document = json.loads((partial.run_dir / "job.json").read_text())  # typed settings, no flag strings
    assert document["config"]["seed"] == partial.seed and document["config"]["env"]["uncertainty_penalty"] == 1.0
    assert document["config"]["iterations"] == 5 and document["recipe"] == "paper"
    assert document["evaluation"]["episodes"] == config.episodes and document["model_check"] is not None
    (finished.run_dir / sw.MODEL_CHECK_JSON).unlink()  # a finished run without its model check runs again
    ran.clear()
    jobs.run_jobs(all_jobs, 1, "test", log=lambda s: None)
    assert finished.run_dir in ran


def test_the_worker_does_only_the_missing_steps(tmp_path, monkeypatch):
    config = sw.SweepConfig(world_model="wm.pt", data="d.rwmu", lambdas=(0.0,), seeds=(0,))
    (run,) = sw.plan_runs(tmp_path, config.lambdas, config.seeds)
    _finish(run, 1.0, 0.1, 0.2)
    (run.run_dir / sw.MODEL_CHECK_JSON).unlink()
    calls = []
    monkeypatch.setattr(steps, "train_policy", lambda *a, **k: calls.append(("train", k.get("resume"))))
    monkeypatch.setattr(
        worker, "score_policy", lambda config, task, policy, *a, **k: calls.append(("evaluate", policy))
    )
    monkeypatch.setattr(steps, "load_world_model", lambda *a, **k: None)
    monkeypatch.setattr(steps, "load_dataset", lambda *a, **k: None)
    monkeypatch.setattr(steps, "check_model", lambda *a: {"u_ratio": 1.0})
    monkeypatch.setattr(worker, "export_onnx", lambda ckpt, folder: calls.append(("export", ckpt)))
    (job,) = sw.run_jobs_of(config, POLICY, [run])
    worker.policy_job(job.document())
    assert calls == [] and json.loads((run.run_dir / sw.MODEL_CHECK_JSON).read_text())["u_ratio"] == 1.0
    (longer,) = sw.run_jobs_of(config, PolicyTrainingConfig(iterations=12), [run])  # more iterations asked for
    worker.policy_job(longer.document())
    onnx = str(run.run_dir / "export" / "policy.onnx")  # the exported file is the one scored
    assert calls == [("train", True), ("export", run.run_dir / "model_4.pt"), ("evaluate", onnx)]


def test_csv_writer_takes_records_or_rows(tmp_path):
    import numpy as np

    write_csv_atomic(
        tmp_path / "a.csv",
        ("x", "name", "empty"),
        [{"x": np.float64(0.1), "name": "a,b", "extra": 1}, [np.int64(3), "c", None]],
    )
    assert (tmp_path / "a.csv").read_text() == 'x,name,empty\n0.1,"a,b",\n3,c,\n'
    assert not list(tmp_path.glob(".a.csv.*"))  # no temporary file left behind


def test_raising_iterations_extends_finished_runs_and_other_changes_are_refused(tmp_path):
    config = sw.SweepConfig(world_model="wm.pt", data="d.rwmu", lambdas=(0.0,), seeds=(0,))
    (run,) = sw.plan_runs(tmp_path, config.lambdas, config.seeds)
    _finish(run, 1.0, 0.1, 0.2)  # 5 iterations done
    (job,) = sw.run_jobs_of(config, POLICY, [run])
    jobs.claim(job)
    assert sw.run_state(run) == "finished" and sw.run_state(run, 5) == "finished" and jobs.job_done(job)
    assert sw.run_state(run, 12) == "partial"
    assert sw.read_run_record(run, 12) is None  # its evaluation belongs to the shorter run
    (longer,) = sw.run_jobs_of(config, PolicyTrainingConfig(iterations=12), [run])
    jobs.claim(longer)  # continued to more iterations: allowed, and recorded
    assert not jobs.job_done(longer) and json.loads(longer.file.read_text())["config"]["iterations"] == 12
    other = dataclasses.replace(POLICY, iterations=12, ppo=dataclasses.replace(POLICY.ppo, learning_rate=0.5))
    (changed,) = sw.run_jobs_of(config, other, [run])
    with pytest.raises(RwmuError, match="one run owns its folder"):
        jobs.claim(changed)


def test_write_results_from_run_files(tmp_path):
    config = sw.SweepConfig(world_model="wm.pt", data="d.rwmu", lambdas=(0.0, 1.0), seeds=(0, 1))
    runs = sw.plan_runs(tmp_path, config.lambdas, config.seeds)
    values = {(0.0, 0): 1.0, (0.0, 1): 3.0, (1.0, 0): 5.0}  # (1.0, 1) left unfinished
    for r in runs:
        if (r.lam, r.seed) in values:
            _finish(r, values[(r.lam, r.seed)], imagined=-r.lam, imagined_task=0.5)
    records = [rec for rec in (sw.read_run_record(r) for r in runs) if rec is not None]
    assert len(records) == 3
    data = sw.write_results(
        tmp_path, records, {"return_mean": 2.5, "return_std": 0.1, "episodes": 4}, config, pending=["lam1_seed1"]
    )
    stored = json.loads((tmp_path / "sweep.json").read_text())
    assert stored["aggregated"] == json.loads(json.dumps(data["aggregated"]))
    agg = {row["lambda"]: row for row in stored["aggregated"]}
    assert agg[0.0]["true_return_mean"] == pytest.approx(2.0) and agg[0.0]["true_return_std"] == pytest.approx(
        math.sqrt(2)
    )
    assert agg[1.0]["seeds"] == [1 - 1] and agg[1.0]["imagined_reward_mean"] == pytest.approx(-1.0)
    assert stored["behavior"]["return_mean"] == 2.5 and stored["pending"] == ["lam1_seed1"]
    with open(tmp_path / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(float(r["lambda"]), int(r["seed"]), float(r["true_return_mean"])) for r in rows] == [
        (0.0, 0, 1.0),
        (0.0, 1, 3.0),
        (1.0, 0, 5.0),
    ]
    assert (tmp_path / "sweep.png").stat().st_size > 1000
    assert "lam1_seed1" in (tmp_path / "sweep.md").read_text()
    (paired,) = stored["paired"]  # lambda 1 against lambda 0 on seed 0, the only seed both finished
    assert paired["seeds"] == [0] and paired["difference_mean"] == 4.0 and paired["seeds_above"] == 1
    assert math.isnan(paired["difference_ci95"])
    assert "| 1.000 | 0.000 | 1 | 4.000 | n/a | 1/1 |" in (tmp_path / "sweep.md").read_text()


def test_run_sweep_with_everything_finished_runs_nothing(tmp_path, monkeypatch):
    (tmp_path / "wm.pt").write_bytes(b"x")
    (tmp_path / "d.rwmu").write_bytes(b"x")
    config = sw.SweepConfig(
        world_model=str(tmp_path / "wm.pt"),
        data=str(tmp_path / "d.rwmu"),
        lambdas=(0.0, 2.0),
        seeds=(0,),
        behavior=False,
    )
    out = tmp_path / "sweep"
    for r in sw.plan_runs(out, config.lambdas, config.seeds):
        _finish(r, 1.0 + r.lam, 0.0, 0.0)
    monkeypatch.setattr(jobs, "run_job", lambda *a: pytest.fail("a finished run was started again"))
    data = sw.run_sweep(out, config, POLICY, log=lambda s: None)
    assert [row["true_return_mean"] for row in data["aggregated"]] == [1.0, 3.0]
    assert data["pending"] == []


def test_sweep_cli_reports_missing_world_model(tmp_path, capsys):
    from rwmu.cli.main import main

    code = main(
        [
            "sweep",
            "--world-model",
            str(tmp_path / "none.pt"),
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--lambdas",
            "0",
            "1",
            "--seeds",
            "0",
        ]
    )
    assert code == 2
    assert "--world-model" in capsys.readouterr().err


def test_checkpoint_curve_records_aggregation_and_files(tmp_path, monkeypatch):
    from rwmu.experiments import sweep_curve as sc

    (tmp_path / "wm.pt").write_bytes(b"x")
    (tmp_path / "d.rwmu").write_bytes(b"x")
    config = sw.SweepConfig(
        world_model=str(tmp_path / "wm.pt"),
        data=str(tmp_path / "d.rwmu"),
        lambdas=(0.0, 1.0),
        seeds=(0, 1),
        behavior=False,
        curve=True,
    )
    out = tmp_path / "sweep"
    runs = sw.plan_runs(out, config.lambdas, config.seeds)
    for r in runs:
        _finish(r, 1.0, 0.0, 0.0)
        for k in (0, 4, 9):
            (r.run_dir / f"model_{k}.pt").write_bytes(b"x")
    (runs[0].run_dir / "model_best.pt").write_bytes(b"x")  # not a numbered checkpoint: ignored
    assert [k for k, _ in sc.saved_checkpoints(runs[0].run_dir)] == [0, 4, 9]
    # true return by hand: lambda + seed + (k + 1) / 10
    scored = []

    def fake_run(job, threads):
        ckpt = sw.Path(job.body["policy"])
        run = next(r for r in runs if r.run_dir == ckpt.parent)
        k = int(ckpt.stem.split("_")[1])
        scored.append(ckpt)
        write_json_atomic(job.out, {"return_mean": run.lam + run.seed + (k + 1) / 10, "fall_rate": 0.25 * run.seed})

    monkeypatch.setattr(jobs, "run_job", fake_run)
    sw.run_sweep(out, config, POLICY, log=lambda s: None)
    assert len(scored) == 12
    rows = list(csv.DictReader(open(out / "sweep_curve.csv")))
    assert len(rows) == 12 and (out / "sweep_curve.png").stat().st_size > 1000
    agg = {(a["lambda"], a["iterations"]): a for a in sc.aggregate_curve(sc.curve_records(runs))}
    assert agg[(1.0, 10)]["true_return_mean"] == pytest.approx(1.0 + 0.5 + 1.0)  # seeds 0 and 1: 2.0 and 3.0
    assert agg[(1.0, 10)]["true_return_std"] == pytest.approx(math.sqrt(0.5))
    assert agg[(0.0, 1)]["fall_rate_mean"] == pytest.approx(0.125) and agg[(0.0, 1)]["seeds"] == [0, 1]
    scored.clear()
    sw.run_sweep(out, config, POLICY, log=lambda s: None)  # cached: nothing is evaluated again
    assert scored == []
    (runs[0].run_dir / "model_14.pt").write_bytes(b"x")
    assert sc.pending_evaluations([r.run_dir for r in runs]) == [
        (runs[0].run_dir / "model_14.pt", sc.curve_json(runs[0].run_dir, 14))
    ]


def test_a_second_sweep_on_a_busy_folder_is_refused(tmp_path, monkeypatch):
    from rwmu.utils.io import folder_lock

    (tmp_path / "wm.pt").write_bytes(b"x")
    (tmp_path / "d.rwmu").write_bytes(b"x")
    config = sw.SweepConfig(
        world_model=str(tmp_path / "wm.pt"), data=str(tmp_path / "d.rwmu"), lambdas=(0.0,), seeds=(0,), behavior=False
    )
    monkeypatch.setattr(jobs, "run_job", lambda *a: pytest.fail("a busy folder was worked on"))
    with folder_lock(tmp_path / "sweep", "rwmu sweep"):
        with pytest.raises(RwmuError, match=r"rwmu sweep \(pid \d+\) is working in this folder"):
            sw.run_sweep(tmp_path / "sweep", config, POLICY, log=lambda s: None)
    _finish(sw.plan_runs(tmp_path / "sweep", (0.0,), (0,))[0], 1.0, 0.0, 0.0)
    sw.run_sweep(tmp_path / "sweep", config, POLICY, log=lambda s: None)  # free again once the holder is done


def test_report_only_writes_results_and_runs_nothing(tmp_path, monkeypatch):
    (tmp_path / "wm.pt").write_bytes(b"x")
    (tmp_path / "d.rwmu").write_bytes(b"x")
    config = sw.SweepConfig(
        world_model=str(tmp_path / "wm.pt"),
        data=str(tmp_path / "d.rwmu"),
        lambdas=(0.0, 2.0),
        seeds=(0,),
        report_only=True,
    )
    out = tmp_path / "sweep"
    _finish(sw.plan_runs(out, config.lambdas, config.seeds)[0], 1.5, 0.0, 0.0)
    monkeypatch.setattr(jobs, "run_job", lambda *a: pytest.fail("report-only started a run"))
    data = sw.run_sweep(out, config, POLICY, log=lambda s: None)
    assert [row["true_return_mean"] for row in data["aggregated"]] == [1.5] and data["pending"] == ["lam2_seed0"]
    assert "lam2_seed0" in (out / "sweep.md").read_text()


def test_an_interrupt_stops_the_running_workers_and_the_queue(tmp_path, monkeypatch, request):
    """Ctrl-C (SIGINT, a KeyboardInterrupt in the main thread) while jobs run: the queued ones never start, the
    running workers are terminated, and the interrupt reaches the caller."""
    started = []
    monkeypatch.setattr(jobs, "worker_command", lambda job: [sys.executable, "-c", "import time; time.sleep(60)"])
    real_popen = jobs.subprocess.Popen

    def popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        if len(started) == 1:  # one Ctrl-C, once the first worker runs
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        return proc

    monkeypatch.setattr(jobs.subprocess, "Popen", popen)
    # Python's own Ctrl-C handler, also where the test process was started with SIGINT ignored (a background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    config = sw.SweepConfig(world_model="wm.pt", data="d.rwmu", lambdas=(0.0,), seeds=(0, 1, 2, 3, 4, 5))
    queue = sw.run_jobs_of(config, POLICY, sw.plan_runs(tmp_path, config.lambdas, config.seeds))
    with pytest.raises(KeyboardInterrupt):
        jobs.run_jobs(queue, 2, "test", log=lambda s: None)
    assert 1 <= len(started) <= 2  # the other four were cancelled
    assert all(proc.poll() is not None for proc in started)  # and the running ones stopped
