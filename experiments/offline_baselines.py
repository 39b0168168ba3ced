"""Model-free offline baselines beside MOPO-PPO on the graded datasets (docs/results.md section 9, RWM-U Figure 5).

    python experiments/offline_baselines.py results results/baselines \
        [--methods bc iql cql td3bc] [--seeds 0 1 2] [--jobs 2] [--publish docs/results/baselines] \
        [--experiments results/medium results/mixed]

For every dataset (RESULTS/<name>/<name>/data/dataset.rwmu: medium and mixed, the data `rwmu experiment run
experiments/<name>.toml --out RESULTS/<name>` collects), method and
seed: `rwmu train-baseline` into OUT/<dataset>/<method>/seed_<s>, then `rwmu evaluate` of its export on the 8
built-in schedules (32 episodes, evaluation seed 0, unpenalised reward, no pushes), exactly as every MOPO-PPO policy
of section 6 was scored. Runs are done in order of importance (BC and IQL over both datasets first) and resume run by
run: a finished run is skipped, an interrupted one continues from its last epoch (`--resume`).

Then it writes PUBLISH/table.md, table.csv, table.json and comparison.png: per dataset and method the mean true
return over seeds with its 95 % Student-t interval, the normalised score and the fall rate, beside the behaviour
policy and the MOPO-PPO rows of the ``rwmu experiment run`` folders given with --experiments (lambda = 0 is
MBPO-PPO), named by their recipes. Each baseline seed's policy is copied as ONNX to POLICIES/<dataset>/<method>_seed<s>/
and listed in POLICIES.json with its training seed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rwmu.experiments import report as rep  # noqa: E402
from rwmu.experiments.manifest import copy_published_files, merge_entries, read_manifest, write_manifest  # noqa: E402
from rwmu.recipes import RECIPES  # noqa: E402
from rwmu.training.export import EXPORT_FILES  # noqa: E402
from rwmu.training.offline_config import METHOD_NAMES  # noqa: E402
from rwmu.utils.io import write_csv_atomic, write_json_atomic, write_text_atomic  # noqa: E402

STEPS = {"bc": 20_000, "iql": 20_000, "td3bc": 20_000, "cql": 5_000}
"""Gradient steps per method on 2 CPU cores (d3rlpy's D4RL reproductions: 500,000); CQL's update is ~6x IQL's."""
DATASET_ORDER = ["medium", "mixed", "medium_noise"]  # the experiments/<name>.toml datasets
COLUMNS = (
    "dataset",
    "method",
    "seeds",
    "return_mean",
    "return_ci95",
    "normalized_score",
    "normalized_ci95",
    "falls",
    "episodes",
    "fall_rate",
    "source",
)


def rwmu_command() -> str:
    return str(Path(sys.executable).parent / "rwmu")


def dataset_file(results: Path, name: str) -> Path:
    """Where ``rwmu experiment run experiments/<name>.toml --out RESULTS/<name>`` records dataset ``name``."""
    return results / name / name / "data" / "dataset.rwmu"


def run_one(dataset: str, data: Path, method: str, seed: int, folder: Path, steps: int) -> dict:
    """Train (or resume, or skip) one baseline and score it; returns its evaluation."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    evaluation = folder / "eval.json"
    if not (folder / "summary.json").is_file():
        resume = ["--resume"] if (folder / "config.json").is_file() else []
        command = [
            rwmu_command(),
            "train-baseline",
            "--task",
            "go2_flat",
            "--data",
            str(data),
            "--out",
            str(folder),
            "--method",
            method,
            "--steps",
            str(steps),
            "--seed",
            str(seed),
            "--no-progress",
            *resume,
        ]
        print("$", " ".join(["rwmu", *command[1:]]), flush=True)
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    if not evaluation.is_file():
        command = [
            rwmu_command(),
            "evaluate",
            "--task",
            "go2_flat",
            "--policy",
            str(folder / "export" / EXPORT_FILES["onnx"]),  # the file that is published is the file scored
            "--episodes",
            "32",
            "--seed",
            "0",
            "--json",
            str(evaluation),
        ]
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    result = json.loads(evaluation.read_text())
    print(
        f"{dataset} {method} seed {seed}: return {result['return_mean']:.3f}, normalised "
        f"{result['normalized_score']:.3f}, falls {result['falls']}/{result['episodes']}",
        flush=True,
    )
    # the evaluation's own "seed" (the evaluation seed) must not replace the training seed
    return {
        **result,
        "eval_seed": result.get("seed"),
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "folder": str(folder),
    }


def aggregate(runs: list[dict]) -> dict:
    """Mean and 95 % Student-t interval over seeds of one dataset and method."""
    returns = [r["return_mean"] for r in runs]
    mean, ci = rep.mean_ci95(returns)
    refs = runs[0]["score_references"]
    span = refs["expert"] - refs["zero"]
    falls, episodes = sum(r["falls"] for r in runs), sum(r["episodes"] for r in runs)
    return {
        "seeds": len(runs),
        "return_mean": mean,
        "return_ci95": ci,
        "normalized_score": (mean - refs["zero"]) / span,
        "normalized_ci95": ci / span if ci == ci else ci,
        "falls": falls,
        "episodes": episodes,
        "fall_rate": falls / episodes,
    }


def behavior_row(dataset: str, method: str, evaluation: Path) -> dict:
    """A behaviour policy's row from its ``rwmu evaluate --json`` file (one evaluation: no interval)."""
    e = json.loads(evaluation.read_text())
    return {
        "dataset": dataset,
        "method": method,
        "seeds": None,
        "return_mean": e["return_mean"],
        "return_ci95": None,
        "normalized_score": e["normalized_score"],
        "normalized_ci95": None,
        "falls": e["falls"],
        "episodes": e["episodes"],
        "fall_rate": e["fall_rate"],
        "source": str(evaluation),
    }


def experiment_rows(table: Path, dataset: str, span: float) -> list[dict]:
    """The rows of an ``rwmu experiment run`` output (its ``table.json``) for ``dataset``: the behaviour policy and
    every recipe x lambda, named by the recipe registry."""
    rows = []
    for r in json.loads(table.read_text())["rows"]:
        if r["dataset"] != dataset:
            continue
        if r["lambda"] is None:
            name = r["recipe"]
        else:
            recipe = RECIPES[r["recipe"]]
            name = f"{recipe.name}, lambda {r['lambda']:g}: {recipe.summary}"
        ci = r["return_ci95"]
        rows.append(
            {
                "dataset": dataset,
                "method": name,
                "seeds": r["seeds"],
                "return_mean": r["return_mean"],
                "return_ci95": ci,
                "normalized_score": r["normalized_score"],
                "normalized_ci95": ci / span if ci is not None else None,
                "falls": r["falls"],
                "episodes": r["episodes"],
                "fall_rate": r["falls"] / r["episodes"] if r["episodes"] else None,
                "source": str(table.parent),
            }
        )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    """Normalised score with its 95 % interval, one panel per dataset."""
    datasets = sorted({r["dataset"] for r in rows}, key=DATASET_ORDER.index)
    fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        shown = [r for r in rows if r["dataset"] == dataset]
        y = range(len(shown))
        colors = [
            "0.6" if r["method"].startswith("behaviour") else "tab:orange" if "d3rlpy" in r["method"] else "tab:blue"
            for r in shown
        ]
        ax.barh(
            list(y),
            [r["normalized_score"] for r in shown],
            color=colors,
            xerr=[r["normalized_ci95"] or 0.0 for r in shown],
            capsize=3,
        )
        ax.set_yticks(list(y), [r["method"] for r in shown], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0.0, color="k", lw=0.8)
        ax.axvline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xlabel("normalised score, 95 % interval (0 = standing, 1 = expert)")
        ax.set_title(f"{dataset} dataset: MuJoCo, unpenalised reward")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "results",
        type=Path,
        help="folder of the rwmu experiment run outputs <name>/ (the data of "
        "dataset <name> is <name>/<name>/data/dataset.rwmu)",
    )
    parser.add_argument("out", type=Path, help="run folder of the comparison")
    parser.add_argument("--names", nargs="+", default=["medium", "mixed"], choices=DATASET_ORDER, help="datasets")
    parser.add_argument("--methods", nargs="+", default=["bc", "iql", "cql", "td3bc"], choices=list(METHOD_NAMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", nargs="+", default=[], metavar="METHOD=N", help="override STEPS, e.g. cql=10000")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (one core each)")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="start no run: write the table from the runs already scored (a method's seeds so far)",
    )
    parser.add_argument(
        "--experiments",
        nargs="*",
        type=Path,
        default=[],
        help="rwmu experiment run folders on the same datasets (e.g. results/mixed): their behaviour "
        "and MOPO-PPO rows beside the baselines; without it the published table's rows of other methods stay",
    )
    parser.add_argument("--publish", type=Path, default=Path("docs/results/baselines"))
    parser.add_argument("--policies", type=Path, default=Path("docs/results/policies"))
    args = parser.parse_args()
    steps = STEPS | {k: int(v) for k, v in (s.split("=") for s in args.steps)}
    for name in args.names:
        if not dataset_file(args.results, name).is_file():
            sys.exit(
                f"{dataset_file(args.results, name)}: missing; record it with "
                f"rwmu experiment run experiments/{name}.toml --out results/{name}"
            )
    jobs = [(d, m, s) for m in args.methods for d in args.names for s in args.seeds]
    if args.table_only:
        jobs = [(d, m, s) for d, m, s in jobs if (args.out / d / m / f"seed_{s}" / "eval.json").is_file()]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_one, d, dataset_file(args.results, d), m, s, args.out / d / m / f"seed_{s}", steps[m])
            for d, m, s in jobs
        ]
        runs = [f.result() for f in futures]
    print(f"all runs done in {(time.perf_counter() - start) / 60:.1f} min")

    rows, manifest = [], []
    refs = runs[0]["score_references"]
    published = args.publish / "table.json"
    ours = tuple(f"{METHOD_NAMES[m]} (d3rlpy" for m in args.methods)
    for d in args.names:
        span = refs["expert"] - refs["zero"]
        if not args.experiments and published.is_file():  # the published rows of other methods stay beside
            rows += [
                r
                for r in json.loads(published.read_text())["rows"]
                if r["dataset"] == d and not r["method"].startswith(ours)
            ]
        for folder in args.experiments:
            rows += experiment_rows(folder / "table.json", d, span)
        for m in args.methods:
            mine = [r for r in runs if r["dataset"] == d and r["method"] == m]
            if not mine:
                continue
            rows.append(
                {
                    "dataset": d,
                    "method": f"{METHOD_NAMES[m]} (d3rlpy, {steps[m]:,} steps)",
                    **aggregate(mine),
                    "source": str(args.out / d / m),
                }
            )
            for r in mine:
                target = args.policies / d / f"{m}_seed{r['seed']}"
                onnx = copy_published_files(Path(r["folder"]) / "export", target)
                manifest.append(
                    {
                        "file": str(onnx),
                        "dataset": d,
                        "method": f"{METHOD_NAMES[m]} (d3rlpy offline RL, {steps[m]} gradient steps)",
                        "lambda": None,
                        "seed": r["seed"],
                        "experiment": " ".join(["python", *sys.argv]),
                        "true_return": r["return_mean"],
                        "normalized_score": r["normalized_score"],
                        "falls": r["falls"],
                        "episodes": r["episodes"],
                        "eval_seed": r["eval_seed"],
                    }
                )
    args.publish.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(args.publish / "table.csv", COLUMNS, rows)
    write_json_atomic(
        args.publish / "table.json",
        {"rows": rows, "runs": runs, "steps": steps, "command": " ".join(["python", *sys.argv])},
    )
    table = [
        [
            r["dataset"],
            r["method"],
            r["seeds"],
            r["return_mean"],
            r["return_ci95"],
            r["normalized_score"],
            r["normalized_ci95"],
            "n/a" if r["falls"] is None else f"{r['falls']}/{r['episodes']}",
        ]
        for r in rows
    ]
    md = [
        "# Offline RL baselines beside MOPO-PPO on the graded datasets",
        "",
        rep.markdown_table(
            [
                "dataset",
                "method",
                "seeds",
                "true return",
                "95 % interval +-",
                "normalised score",
                "normalised 95 % +-",
                "falls",
            ],
            table,
        ),
    ]
    write_text_atomic(args.publish / "table.md", "\n".join(md) + "\n")
    plot(rows, args.publish / "comparison.png")
    manifest_path = args.policies.with_suffix(".json")
    published = read_manifest(manifest_path) if manifest_path.is_file() else {"policies": []}
    extra = {k: v for k, v in published.items() if k not in ("policies", "rescore")}
    write_manifest(manifest_path, merge_entries(published["policies"], manifest), extra)
    print("\n".join(md))
    print(f"wrote {args.publish} and {manifest_path}")


if __name__ == "__main__":
    main()
