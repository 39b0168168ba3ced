"""The graded-data comparison table, ONNX exports of every policy and the manifest docs/results/policies.json.

    python experiments/mopo_graded_table.py results/graded --datasets results/datasets \
        --publish docs/results/mopo_graded --policies docs/results/policies

Reads the `rwmu sweep` folders that experiments/mopo_graded.sh writes (OUT/<dataset>/<method>/sweep.json) and the
graded datasets' own table (DATASETS/datasets.json: the behaviour policies' scores and where they came from).
Writes PUBLISH/table.md, table.csv and table.json: per dataset and method (and lambda) the mean MuJoCo return
(unpenalised reward) over seeds with its 95 % Student-t interval, the normalised score and the falls, beside the
behaviour policy. Every policy's latest checkpoint is exported to ONNX in POLICIES/<dataset>/<run>/ (policy.onnx and
policy.json; no TorchScript copy), the behaviour policies too, and all are listed in POLICIES.json (file, dataset,
method, lambda, seed, return, normalised score) so that anyone can re-score them with
`rwmu evaluate --task go2_flat --policy docs/results/policies/<...>/policy.onnx`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rwmu.experiments import report as rep
from rwmu.training.export import EXPORT_FILES, export_policy
from rwmu.training.runner import latest_checkpoint
from rwmu.utils.io import write_csv_atomic, write_json_atomic, write_text_atomic

METHODS = {  # sweep folder -> what it is (experiments/mopo_graded.sh)
    "bc": "behaviour cloning of all the data (no PPO update)",
    "fbc": "filtered behaviour cloning: the episodes with the top 10 % true returns",
    "mopo_fbc": "MOPO-PPO from the filtered-BC actor, with the BC regulariser and 48-step branched rollouts",
    "mopo_bc": "MOPO-PPO from the BC actor of all the data, with the BC regulariser and 48-step branched rollouts",
    "mopo": "MOPO-PPO from a random actor (paper Table S11 settings at CPU scale)",
    "mopo_fbc_excess": "mopo_fbc with the calibrated penalty lambda * max(0, u - u0), u0 = the data's 0.9 quantile",
    "mopo_fbc_300it": "mopo_fbc with 3x the PPO: 300 iterations",
    "mopo_fbc_dc": "mopo_fbc with starts keeping the data's command and a first PPO learning rate of 1e-4",
    "mopo_fbc_dc256": "mopo_fbc_dc with the task's 256-step imagined episodes instead of 48",
    "mopo_bc_dc": "mopo_bc with starts keeping the data's command and a first PPO learning rate of 1e-4",
}
COLUMNS = ("dataset", "method", "lambda", "seeds", "return_mean", "return_ci95", "normalized_score", "falls",
           "episodes", "imagined_episode_length", "u_ratio")  # fmt: skip


def export_onnx(checkpoint: Path, out_dir: Path) -> Path:
    """``rwmu export`` of ``checkpoint`` into ``out_dir``, keeping policy.onnx and policy.json only."""
    with tempfile.TemporaryDirectory() as tmp:
        export_policy(checkpoint, tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("onnx", "meta"):
            shutil.copyfile(Path(tmp) / EXPORT_FILES[name], out_dir / EXPORT_FILES[name])
    return out_dir / EXPORT_FILES["onnx"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder of experiments/mopo_graded.sh")
    parser.add_argument("--datasets", type=Path, default=Path("results/datasets"))
    parser.add_argument("--publish", type=Path, default=Path("docs/results/mopo_graded"))
    parser.add_argument("--policies", type=Path, default=Path("docs/results/policies"))
    parser.add_argument("--no-export", action="store_true", help="write the table only")
    args = parser.parse_args()
    graded = json.loads((args.datasets / "datasets.json").read_text())
    run_of = Path(graded["run"])
    rows, manifest = [], []
    for entry in graded["datasets"]:
        name = entry["dataset"]
        ckpts = entry["checkpoints"].replace("model_", "").split()
        label = f"iteration {ckpts[0]}" if len(ckpts) == 1 else f"{len(ckpts)} checkpoints, {ckpts[0]}..{ckpts[-1]}"
        rows.append({"dataset": name, "method": f"behaviour policy ({label})",
                     "lambda": None, "seeds": None, "return_mean": entry["behaviour_return"], "return_ci95": None,
                     "normalized_score": entry["behaviour_normalized_score"],
                     "falls": f"{entry['behaviour_fall_rate']:.0%} of episodes"})  # fmt: skip
        for ckpt in entry["checkpoints"].split():
            if args.no_export:
                break
            onnx = export_onnx(run_of / f"{ckpt}.pt", args.policies / "behavior" / ckpt)
            manifest.append({"file": str(onnx), "dataset": name, "method": "behaviour policy", "lambda": None,
                             "seed": None, "source": f"{ckpt}.pt of the rwmu train-online run that recorded the "
                                                     "graded datasets (docs/results.md sections 3 and 4)"})  # fmt: skip
        for method, description in METHODS.items():
            sweep_json = args.out / name / method / "sweep.json"
            if not sweep_json.is_file():
                continue
            sweep = json.loads(sweep_json.read_text())
            for agg in sweep["aggregated"]:
                runs = [r for r in sweep["runs"] if r["lambda"] == agg["lambda"]]
                lengths = [_imagined_length(Path(r["run_dir"])) for r in runs]
                rows.append({"dataset": name, "method": method, "lambda": agg["lambda"] if "mopo" in method else None,
                             "seeds": len(agg["seeds"]),
                             "return_mean": agg["true_return_mean"], "return_ci95": agg["true_return_ci95"],
                             "normalized_score": agg["normalized_score_mean"], "falls": agg["falls"],
                             "episodes": agg["episodes"],
                             "imagined_episode_length": rep.mean_std(lengths)[0] if "mopo" in method else None,
                             "u_ratio": rep.mean_std([r.get("u_ratio") for r in runs])[0]})  # fmt: skip
                for r in runs:
                    if args.no_export:
                        continue
                    run_dir = Path(r["run_dir"])
                    onnx = export_onnx(latest_checkpoint(run_dir), args.policies / name / f"{method}_{run_dir.name}")
                    manifest.append({"file": str(onnx), "dataset": name, "method": description,
                                     "lambda": r["lambda"] if "mopo" in method else None, "seed": r["seed"],
                                     "true_return": r["true_return_mean"], "normalized_score": r["normalized_score"],
                                     "falls": r["falls"], "episodes": r["episodes"]})  # fmt: skip
    args.publish.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(args.publish / "table.csv", COLUMNS, rows)
    write_json_atomic(args.publish / "table.json", {"rows": rows, "methods": METHODS, "datasets": graded["datasets"]})
    table = [[r["dataset"], r["method"], r["lambda"], r["seeds"], r["return_mean"], r["return_ci95"],
              r["normalized_score"], r["falls"] if r.get("episodes") is None else f"{r['falls']}/{r['episodes']}",
              r.get("imagined_episode_length"), r.get("u_ratio")] for r in rows]  # fmt: skip
    md = ["# MOPO-PPO on the graded datasets", "",
          rep.markdown_table(["dataset", "method", "lambda", "seeds", "true return", "95 % interval +-",
                              "normalised score", "falls", "imagined episode (steps)", "u ratio"], table), "",
          "Methods: " + "; ".join(f"`{k}`: {v}" for k, v in METHODS.items()) + "."]  # fmt: skip
    write_text_atomic(args.publish / "table.md", "\n".join(md) + "\n")
    if manifest:
        write_json_atomic(args.policies.with_suffix(".json"), {
            "policies": manifest,
            "rescore": "rwmu evaluate --task go2_flat --policy <file> --episodes 32 --seed 0",
            "regenerate": "bash experiments/mopo_graded.sh results/datasets results/graded",
        })  # fmt: skip
    print("\n".join(md))


def _imagined_length(run_dir: Path) -> float | None:
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary.get("mean_episode_length")


if __name__ == "__main__":
    main()
