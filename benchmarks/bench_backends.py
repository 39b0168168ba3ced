"""The overhead of ``--backend ray`` against the local backend, on one machine (docs/scaling.md).

Builds the tiny demo (data and world model, ``rwmu demo --preset tiny``) once, then runs the same small sweep
(``--lambdas`` x ``--seeds``, ``--jobs`` side by side, each policy trained, scored in MuJoCo and checked) with
``--backend local`` and with ``--backend ray`` (a local Ray instance started by the command) into fresh folders, and
prints the wall time of each, the difference, and the start and stop of a local Ray instance alone. It also checks
that both backends wrote the same table. Run it on an otherwise idle machine.

Usage::

    python benchmarks/bench_backends.py [--out results/bench_backends] [--lambdas 0 1] [--seeds 0 1] [--jobs 2]
        [--iterations 20] [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import shutil
import time
from pathlib import Path

import ray

from rwmu.cli.main import main
from rwmu.experiments import ray_backend
from rwmu.experiments.demo import run_demo
from rwmu.experiments.demo_config import PRESETS
from rwmu.utils.threads import usable_cpus


def sweep_argv(demo: Path, out: Path, backend: str, args: argparse.Namespace) -> list[str]:
    return [
        "sweep",
        "--world-model",
        str(demo / "world_model" / "model_best.pt"),
        "--data",
        str(demo / "data" / "dataset.rwmu"),
        "--out",
        str(out),
        "--lambdas",
        *map(str, args.lambdas),
        "--seeds",
        *map(str, args.seeds),
        "--jobs",
        str(args.jobs),
        "--iterations",
        str(args.iterations),
        "--num-envs",
        "64",
        "--steps-per-env",
        "16",
        "--episodes",
        "4",
        "--no-behavior",
        "--backend",
        backend,
    ]


def table(out: Path) -> list[dict[str, str]]:
    with open(out / "sweep.csv") as f:
        return [{k: v for k, v in r.items() if k not in ("run_dir", "train_seconds")} for r in csv.DictReader(f)]


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/bench_backends"))
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    demo = args.out / "demo"
    if not (demo / "world_model" / "model_best.pt").is_file():
        run_demo(demo, dataclasses.replace(PRESETS["tiny"](), progress=False), log=lambda s: None)
    times: dict[str, list[float]] = {"local": [], "ray": []}
    for repeat in range(args.repeats):
        for backend in ("local", "ray"):
            out = args.out / f"sweep_{backend}_{repeat}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            assert main(sweep_argv(demo, out, backend, args)) == 0
            times[backend].append(time.perf_counter() - start)
    same = all(table(args.out / f"sweep_ray_{r}") == table(args.out / f"sweep_local_{r}") for r in range(args.repeats))
    start = time.perf_counter()
    ray_backend.start_local(usable_cpus())
    started = time.perf_counter() - start
    ray.shutdown()
    stopped = time.perf_counter() - start - started
    runs = len(args.lambdas) * len(args.seeds)
    local, on_ray = min(times["local"]), min(times["ray"])
    result = {
        "runs": runs,
        "jobs": args.jobs,
        "iterations": args.iterations,
        "cpus": usable_cpus(),
        "local_s": times["local"],
        "ray_s": times["ray"],
        "overhead_s": on_ray - local,
        "overhead_per_run_s": (on_ray - local) / runs,
        "ray_start_s": started,
        "ray_stop_s": stopped,
        "same_table": same,
    }
    (args.out / "bench_backends.json").write_text(json.dumps(result, indent=2))
    print(
        f"{runs} runs, {args.jobs} side by side on {usable_cpus()} CPUs (best of {args.repeats}): local {local:.1f} s, "
        f"ray {on_ray:.1f} s, overhead {on_ray - local:+.1f} s ({(on_ray - local) / runs:+.2f} s per run); "
        f"a local Ray instance starts in {started:.1f} s and stops in {stopped:.1f} s; same table: {same}"
    )


if __name__ == "__main__":
    main_()
