"""Model-free offline baselines beside MOPO-PPO on the graded datasets (docs/results.md section 9, RWM-U Figure 5).

    python experiments/offline_baselines.py results/datasets results/baselines \
        [--methods bc iql cql td3bc] [--seeds 0 1 2] [--jobs 2] [--publish docs/results/baselines]

For every dataset (DATASETS/<name>/dataset.rwmu: medium and mixed, experiments/published_datasets.sh), method and
seed: `rwmu train-baseline` into OUT/<dataset>/<method>/seed_<s>, then `rwmu evaluate` of its export on the 8
built-in schedules (32 episodes, evaluation seed 0, unpenalised reward, no pushes), exactly as every MOPO-PPO policy
of section 6 was scored. Runs are done in order of importance (BC and IQL over both datasets first) and resume run by
run: a finished run is skipped, an interrupted one continues from its last epoch (`--resume`).

Then it writes PUBLISH/table.md, table.csv, table.json and comparison.png: per dataset and method the mean true
return over seeds with its 95 % Student-t interval, the normalised score and the fall rate, beside the behaviour
policy and the MOPO-PPO rows of section 6 (docs/results/mopo_graded/table.json; lambda = 0 is MBPO-PPO). Each baseline
policy is copied as ONNX to POLICIES/<dataset>/<method>_seed<s>/ and listed in POLICIES.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rwmu.experiments import report as rep  # noqa: E402
from rwmu.training.export import EXPORT_FILES  # noqa: E402
from rwmu.training.offline_config import METHOD_NAMES  # noqa: E402
from rwmu.utils.io import write_csv_atomic, write_json_atomic, write_text_atomic  # noqa: E402

# experiments/ (this script's folder) is on sys.path: the one ONNX export of a run into a policies folder
from mopo_graded_table import export_onnx  # noqa: E402

STEPS = {"bc": 20_000, "iql": 20_000, "td3bc": 20_000, "cql": 5_000}
"""Gradient steps per method on 2 CPU cores (d3rlpy's D4RL reproductions: 500,000); CQL's update is ~6x IQL's."""
MOPO_ROWS = {  # section 6's methods shown beside the baselines -> name in the comparison
    ("bc", None): "BC (rwmu, the MOPO-PPO actor cloned, no PPO)",
    ("fbc", None): "filtered BC (rwmu, top 10 % of episodes, no PPO)",
    ("mopo_bc", 0.0): "MBPO-PPO (MOPO-PPO lambda = 0, BC init)",
    ("mopo_bc", 1.0): "MOPO-PPO lambda = 1 (BC init)",
    ("mopo_fbc", 0.0): "MBPO-PPO (MOPO-PPO lambda = 0, filtered-BC init)",
    ("mopo_fbc", 1.0): "MOPO-PPO lambda = 1 (filtered-BC init)",
    ("mopo_fbc_300it", 0.0): "MBPO-PPO, 300 PPO iterations",
    ("mopo_fbc_300it", 1.0): "MOPO-PPO lambda = 1, 300 PPO iterations",
    ("mopo_bc_dc", 0.0): "MBPO-PPO, data commands, lr 1e-4 (BC init)",
    ("mopo_bc_dc", 1.0): "MOPO-PPO lambda = 1, data commands, lr 1e-4 (BC init)",
    ("mopo_fbc_dc", 0.0): "MBPO-PPO, data commands, lr 1e-4 (filtered-BC init)",
    ("mopo_fbc_dc", 1.0): "MOPO-PPO lambda = 1, data commands, lr 1e-4 (filtered-BC init)",
    ("mopo_fbc_dc256", 0.0): "MBPO-PPO, data commands, lr 1e-4, 256 steps (filtered-BC init)",
    ("mopo_fbc_dc256", 1.0): "MOPO-PPO lambda = 1, data commands, lr 1e-4, 256 steps (filtered-BC init)",
    ("mopo_bc_dc256", 0.0): "MBPO-PPO, data commands, lr 1e-4, 256 steps (BC init)",
    ("mopo_bc_dc256", 1.0): "MOPO-PPO lambda = 1, data commands, lr 1e-4, 256 steps (BC init)",
    ("mopo_bc_dc256_300it", 0.0): "MBPO-PPO, data commands, lr 1e-4, 256 steps, 300 PPO iterations (BC init)",
    ("mopo_bc_dc256_300it", 1.0):
        "MOPO-PPO lambda = 1, data commands, lr 1e-4, 256 steps, 300 PPO iterations (BC init)",
    ("mopo_bc_dc256_300it_excess", 1.0): "the same, lambda = 1, excess penalty (u above the data's 0.9 quantile)",
    ("mopo_bc_dc256_300it_excess", 5.0): "the same, lambda = 5, excess penalty (u above the data's 0.9 quantile)",
    ("mopo_bc_dc256_300it_bf16", 0.0): "MBPO-PPO, 256 steps, 300 PPO iterations, bfloat16 imagination (BC init)",
    ("mopo_bc_dc256_300it_bf16", 1.0):
        "MOPO-PPO lambda = 1, 256 steps, 300 PPO iterations, bfloat16 imagination (BC init)",
    ("mopo_bc_dc256_1000it_bf16", 0.0): "MBPO-PPO, 256 steps, 1000 PPO iterations, bfloat16 imagination (BC init)",
    ("mopo_bc_dc256_1000it_bf16", 1.0):
        "MOPO-PPO lambda = 1, 256 steps, 1000 PPO iterations, bfloat16 imagination (BC init)",
    ("mopo_bc_dc256_300it_noreg_bf16", 0.0):
        "MBPO-PPO, 256 steps, 300 PPO iterations, bfloat16, no BC regulariser (BC init)",
    ("mopo_bc_dc256_300it_noreg_bf16", 1.0):
        "MOPO-PPO lambda = 1, 256 steps, 300 PPO iterations, bfloat16, no BC regulariser (BC init)",
    ("mopo_bc_dc256_1000it_reg300_bf16", 0.0):
        "MBPO-PPO, 256 steps, 1000 PPO iterations, bfloat16, BC regulariser in the first 300 (BC init)",
    ("mopo_bc_dc256_1000it_reg300_bf16", 1.0):
        "MOPO-PPO lambda = 1, 256 steps, 1000 PPO iterations, bfloat16, BC regulariser in the first 300 (BC init)",
    ("mopo_bc_dc256_300it_noreg_halt_bf16", 0.0):
        "MBPO-PPO, 256 steps, 300 PPO iterations, bfloat16, no BC regulariser, halting at u > q0.99 (BC init)",
    ("mopo_bc_dc256_300it_noreg_halt_bf16", 1.0):
        "MOPO-PPO lambda = 1, 256 steps, 300 PPO iterations, bfloat16, no BC regulariser, halting at u > q0.99 "
        "(BC init)",
    ("mopo_bc_dc256_300it_noreg_halt_bf16_l05", 0.5):
        "MOPO-PPO lambda = 0.5, 256 steps, 300 PPO iterations, bfloat16, no BC regulariser, halting at u > q0.99 "
        "(BC init)",
    ("mopo_bc_dc256_1000it_noreg_halt_bf16", 0.0):
        "MBPO-PPO, 256 steps, 1000 PPO iterations, bfloat16, no BC regulariser, halting at u > q0.99 (BC init)",
    ("mopo_bc_dc256_1000it_noreg_halt_bf16", 1.0):
        "MOPO-PPO lambda = 1, 256 steps, 1000 PPO iterations, bfloat16, no BC regulariser, halting at u > q0.99 "
        "(BC init)",
}
DATASET_ORDER = ["medium", "mixed", "medium_noise"]  # experiments/published_datasets.sh's NAMES
COLUMNS = ("dataset", "method", "seeds", "return_mean", "return_ci95", "normalized_score", "normalized_ci95",
           "falls", "episodes", "fall_rate", "source")  # fmt: skip


def rwmu_command() -> str:
    return str(Path(sys.executable).parent / "rwmu")


def run_one(dataset: str, data: Path, method: str, seed: int, folder: Path, steps: int) -> dict:
    """Train (or resume, or skip) one baseline and score it; returns its evaluation."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    evaluation = folder / "eval.json"
    if not (folder / "summary.json").is_file():
        resume = ["--resume"] if (folder / "config.json").is_file() else []
        command = [rwmu_command(), "train-baseline", "--task", "go2_flat", "--data", str(data), "--out", str(folder),
                   "--method", method, "--steps", str(steps), "--seed", str(seed), "--no-progress", *resume]  # fmt: skip
        print("$", " ".join(["rwmu", *command[1:]]), flush=True)
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    if not evaluation.is_file():
        command = [rwmu_command(), "evaluate", "--task", "go2_flat", "--policy", str(folder / "export"),
                   "--episodes", "32", "--seed", "0", "--json", str(evaluation)]  # fmt: skip
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    result = json.loads(evaluation.read_text())
    print(f"{dataset} {method} seed {seed}: return {result['return_mean']:.3f}, normalised "
          f"{result['normalized_score']:.3f}, falls {result['falls']}/{result['episodes']}", flush=True)
    return {"dataset": dataset, "method": method, "seed": seed, "folder": str(folder), **result}


def aggregate(runs: list[dict]) -> dict:
    """Mean and 95 % Student-t interval over seeds of one dataset and method."""
    returns = [r["return_mean"] for r in runs]
    mean, ci = rep.mean_ci95(returns)
    refs = runs[0]["score_references"]
    span = refs["expert"] - refs["zero"]
    falls, episodes = sum(r["falls"] for r in runs), sum(r["episodes"] for r in runs)
    return {"seeds": len(runs), "return_mean": mean, "return_ci95": ci, "normalized_score": (mean - refs["zero"]) / span,
            "normalized_ci95": ci / span if ci == ci else ci, "falls": falls, "episodes": episodes,
            "fall_rate": falls / episodes}  # fmt: skip


def behavior_row(dataset: str, method: str, evaluation: Path) -> dict:
    """A behaviour policy's row from its ``rwmu evaluate --json`` file (one evaluation: no interval)."""
    e = json.loads(evaluation.read_text())
    return {"dataset": dataset, "method": method, "seeds": None, "return_mean": e["return_mean"], "return_ci95": None,
            "normalized_score": e["normalized_score"], "normalized_ci95": None, "falls": e["falls"],
            "episodes": e["episodes"], "fall_rate": e["fall_rate"], "source": str(evaluation)}  # fmt: skip


def grid_behavior_rows(grid: Path, dataset: str) -> list[dict]:
    """The behaviour policy's rows of an experiments/mopo_graded.sh folder for ``dataset``: with the action noise
    that recorded the data (``behavior_with_noise.json``, medium_noise) and without it (the sweeps' behaviour
    evaluation, the same for every sweep of the dataset)."""
    rows = []
    noisy = grid / dataset / "behavior_with_noise.json"
    if noisy.is_file():
        rows.append(behavior_row(dataset, "behaviour policy with its noise (the data's policy)", noisy))
    clean = sorted((grid / dataset).glob("*/behavior_evaluation.json"))
    if clean:
        name = Path(json.loads(clean[0].read_text())["policy"]).name
        rows.append(behavior_row(dataset, f"behaviour policy without noise ({name})", clean[0]))
    return rows


def grid_rows(grid: Path, dataset: str, span: float) -> list[dict]:
    """The MOPO-PPO rows of an experiments/mopo_graded.sh folder ``grid`` for ``dataset``, from its sweeps."""
    rows = []
    for (method, lam), name in MOPO_ROWS.items():
        sweep_json = grid / dataset / method / "sweep.json"
        if not sweep_json.is_file():
            continue
        for agg in json.loads(sweep_json.read_text())["aggregated"]:
            if lam is not None and agg["lambda"] != lam:
                continue
            ci = agg["true_return_ci95"]
            rows.append({"dataset": dataset, "method": name, "seeds": len(agg["seeds"]),
                         "return_mean": agg["true_return_mean"], "return_ci95": ci,
                         "normalized_score": agg["normalized_score_mean"],
                         "normalized_ci95": ci / span if ci is not None else None, "falls": agg["falls"],
                         "episodes": agg["episodes"], "fall_rate": agg["falls"] / agg["episodes"],
                         "source": str(sweep_json.parent)})  # fmt: skip
    return rows


def export_grid_policies(grid: Path, dataset: str, method: str, policies: Path) -> list[dict]:
    """ONNX exports (policy.onnx, policy.json) of every run of the sweep ``grid/dataset/method`` into
    ``policies/dataset/<method>_<run>/``, as manifest entries."""
    sweep_json = grid / dataset / method / "sweep.json"
    if not sweep_json.is_file():
        return []
    entries = []
    for r in json.loads(sweep_json.read_text())["runs"]:
        run_dir = grid / dataset / method / "runs" / Path(r["run_dir"]).name
        onnx = export_onnx(run_dir, policies / dataset / f"{method}_{run_dir.name}")
        entries.append({"file": str(onnx), "dataset": dataset,
                        "method": MOPO_ROWS.get((method, r["lambda"]), method), "lambda": r["lambda"],
                        "seed": r["seed"], "true_return": r["true_return_mean"],
                        "normalized_score": r["normalized_score"], "falls": r["falls"], "episodes": r["episodes"],
                        "source": f"bash experiments/mopo_graded.sh (METHODS={method})"})  # fmt: skip
    return entries


def mopo_rows(table: Path, dataset: str, span: float) -> list[dict]:
    """Section 6's rows for ``dataset`` (behaviour policy and MOPO-PPO variants), as comparison rows; ``span`` is
    the expert's return minus standing still's on the same evaluation (the normalised score's unit)."""
    if not table.is_file():
        return []
    rows = []
    for r in json.loads(table.read_text())["rows"]:
        if r["dataset"] != dataset:
            continue
        if r["method"].startswith("behaviour policy"):
            rows.append({"dataset": dataset, "method": r["method"], "seeds": None, "return_mean": r["return_mean"],
                         "return_ci95": None, "normalized_score": r["normalized_score"], "normalized_ci95": None,
                         "falls": None, "episodes": None, "fall_rate": None, "source": str(table)})  # fmt: skip
            continue
        name = MOPO_ROWS.get((r["method"], r["lambda"]))
        if name is None or not r.get("episodes"):
            continue
        rows.append({"dataset": dataset, "method": name, "seeds": r["seeds"], "return_mean": r["return_mean"],
                     "return_ci95": r["return_ci95"], "normalized_score": r["normalized_score"],
                     "normalized_ci95": r["return_ci95"] / span if r["return_ci95"] is not None else None,
                     "falls": r["falls"], "episodes": r["episodes"], "fall_rate": r["falls"] / r["episodes"],
                     "source": str(table)})  # fmt: skip
    return rows


def plot(rows: list[dict], path: Path) -> None:
    """Normalised score with its 95 % interval, one panel per dataset."""
    datasets = sorted({r["dataset"] for r in rows}, key=DATASET_ORDER.index)
    fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        shown = [r for r in rows if r["dataset"] == dataset]
        y = range(len(shown))
        colors = ["0.6" if r["method"].startswith("behaviour") else "tab:orange" if "d3rlpy" in r["method"]
                  else "tab:blue" for r in shown]  # fmt: skip
        ax.barh(list(y), [r["normalized_score"] for r in shown], color=colors,
                xerr=[r["normalized_ci95"] or 0.0 for r in shown], capsize=3)  # fmt: skip
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
    parser.add_argument("datasets", type=Path, help="folder holding <name>/dataset.rwmu")
    parser.add_argument("out", type=Path, help="run folder of the comparison")
    parser.add_argument("--names", nargs="+", default=["medium", "mixed"], choices=DATASET_ORDER, help="datasets")
    parser.add_argument("--methods", nargs="+", default=["bc", "iql", "cql", "td3bc"], choices=list(METHOD_NAMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", nargs="+", default=[], metavar="METHOD=N", help="override STEPS, e.g. cql=10000")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (one core each)")
    parser.add_argument("--table-only", action="store_true",
                        help="start no run: write the table from the runs already scored (a method's seeds so far)")
    parser.add_argument("--mopo-table", type=Path, default=Path("docs/results/mopo_graded/table.json"),
                        help="section 6's table: the behaviour policies' scores, and the MOPO-PPO rows without "
                             "--mopo-grid")  # fmt: skip
    parser.add_argument("--mopo-grid", type=Path, default=None,
                        help="an experiments/mopo_graded.sh folder on the same DATASETS: its MOPO-PPO rows instead "
                             "of the table's")  # fmt: skip
    parser.add_argument("--export-mopo", nargs="*", default=[], metavar="METHOD",
                        help="with --mopo-grid: also export these sweeps' policies to ONNX in --policies and list "
                             "them in its manifest, e.g. mopo_fbc_dc mopo_bc_dc")  # fmt: skip
    parser.add_argument("--publish", type=Path, default=Path("docs/results/baselines"))
    parser.add_argument("--policies", type=Path, default=Path("docs/results/policies"))
    args = parser.parse_args()
    steps = STEPS | {k: int(v) for k, v in (s.split("=") for s in args.steps)}
    for name in args.names:
        if not (args.datasets / name / "dataset.rwmu").is_file():
            sys.exit(f"{args.datasets / name / 'dataset.rwmu'}: missing; record it with "
                     f"bash experiments/published_datasets.sh {args.datasets}")  # fmt: skip
    jobs = [(d, m, s) for m in args.methods for d in args.names for s in args.seeds]
    if args.table_only:
        jobs = [(d, m, s) for d, m, s in jobs if (args.out / d / m / f"seed_{s}" / "eval.json").is_file()]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, d, args.datasets / d / "dataset.rwmu", m, s, args.out / d / m / f"seed_{s}",
                               steps[m]) for d, m, s in jobs]  # fmt: skip
        runs = [f.result() for f in futures]
    print(f"all runs done in {(time.perf_counter() - start) / 60:.1f} min")

    rows, manifest = [], []
    refs = runs[0]["score_references"]
    for d in args.names:
        span = refs["expert"] - refs["zero"]
        published = mopo_rows(args.mopo_table, d, span)
        if args.mopo_grid is None:
            rows += published
        else:
            behavior = [r for r in published if r["method"].startswith("behaviour")]
            rows += (behavior or grid_behavior_rows(args.mopo_grid, d)) + grid_rows(args.mopo_grid, d, span)
            for method in args.export_mopo:
                manifest += export_grid_policies(args.mopo_grid, d, method, args.policies)
        for m in args.methods:
            mine = [r for r in runs if r["dataset"] == d and r["method"] == m]
            if not mine:
                continue
            rows.append({"dataset": d, "method": f"{METHOD_NAMES[m]} (d3rlpy, {steps[m]:,} steps)",
                         **aggregate(mine), "source": str(args.out / d / m)})  # fmt: skip
            for r in mine:
                target = args.policies / d / f"{m}_seed{r['seed']}"
                target.mkdir(parents=True, exist_ok=True)
                for kind in ("onnx", "meta"):
                    shutil.copyfile(Path(r["folder"]) / "export" / EXPORT_FILES[kind], target / EXPORT_FILES[kind])
                manifest.append({"file": str(target / EXPORT_FILES["onnx"]), "dataset": d,
                                 "method": f"{METHOD_NAMES[m]} (d3rlpy offline RL, {steps[m]} gradient steps)",
                                 "lambda": None, "seed": r["seed"], "true_return": r["return_mean"],
                                 "normalized_score": r["normalized_score"], "falls": r["falls"],
                                 "episodes": r["episodes"]})  # fmt: skip
    args.publish.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(args.publish / "table.csv", COLUMNS, rows)
    write_json_atomic(args.publish / "table.json", {"rows": rows, "runs": runs, "steps": steps,
                                                    "command": " ".join(["python", *sys.argv])})  # fmt: skip
    table = [[r["dataset"], r["method"], r["seeds"], r["return_mean"], r["return_ci95"], r["normalized_score"],
              r["normalized_ci95"], "n/a" if r["falls"] is None else f"{r['falls']}/{r['episodes']}"]
             for r in rows]  # fmt: skip
    md = ["# Offline RL baselines beside MOPO-PPO on the graded datasets", "",
          rep.markdown_table(["dataset", "method", "seeds", "true return", "95 % interval +-", "normalised score",
                              "normalised 95 % +-", "falls"], table)]  # fmt: skip
    write_text_atomic(args.publish / "table.md", "\n".join(md) + "\n")
    plot(rows, args.publish / "comparison.png")
    manifest_path = args.policies.with_suffix(".json")
    published = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"policies": []}
    ours = {p["file"] for p in manifest}
    published["policies"] = [p for p in published["policies"] if p["file"] not in ours] + manifest
    published["regenerate_baselines"] = " ".join(["python", *sys.argv])
    write_json_atomic(manifest_path, published)
    print("\n".join(md))
    print(f"wrote {args.publish} and {manifest_path}")


if __name__ == "__main__":
    main()
