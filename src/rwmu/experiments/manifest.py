"""The manifest of published policies (docs/results/policies.json): every policy behind a published number, as ONNX,
with what produced it and what it scored.

An entry: ``file`` (policy.onnx, relative to the repository root), ``dataset``, ``recipe`` and ``recipe_version``
(or ``method`` for policies no recipe trains: behaviour policies, d3rlpy baselines), ``lambda``, ``seed``,
``experiment`` (the file or command that regenerates it), ``true_return``, ``normalized_score``, ``falls``,
``episodes`` and ``eval_seed`` (the ``rwmu evaluate --seed`` of the recorded score).

:func:`check_manifest` finds broken entries; :func:`rescore` scores entries again in MuJoCo and says which differ from
their record.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments.paths import PUBLISHED
from rwmu.tasks import get_task
from rwmu.training.export import EXPORT_FILES, export_policy
from rwmu.utils.io import write_json_atomic

RESCORE = "rwmu manifest rescore"
RETURN_TOLERANCE = 1e-4
"""|re-scored - recorded| return above which an entry is listed as differing (MuJoCo on CPU is deterministic for a
policy file and evaluation seed; ONNX export and float formatting move the 6th digit at most)"""


def copy_published_files(source: Path, target: Path) -> Path:
    """The published part of the export folder ``source`` (policy.onnx and policy.json) into ``target``; returns
    the ONNX file's path there."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("onnx", "meta"):
        shutil.copyfile(source / EXPORT_FILES[name], target / EXPORT_FILES[name])
    return target / EXPORT_FILES["onnx"]


def export_onnx(checkpoint: Path, out_dir: Path) -> Path:
    """``rwmu export`` of ``checkpoint`` into ``out_dir``, keeping policy.onnx and policy.json only."""
    with tempfile.TemporaryDirectory() as tmp:
        export_policy(checkpoint, tmp)
        return copy_published_files(Path(tmp), out_dir)


def manifest_entry(
    file: Path,
    dataset: str,
    recipe: str,
    version: int,
    lam: float,
    seed: int,
    experiment: str,
    record: dict[str, Any],
    eval_seed: int,
) -> dict[str, Any]:
    """The entry of one experiment policy, from its run record (:func:`rwmu.experiments.sweep.read_run_record`)."""
    return {
        "file": str(file),
        "dataset": dataset,
        "recipe": recipe,
        "recipe_version": version,
        "lambda": lam,
        "seed": seed,
        "experiment": experiment,
        "true_return": record["true_return_mean"],
        "normalized_score": record["normalized_score"],
        "falls": record["falls"],
        "episodes": record["episodes"],
        "eval_seed": eval_seed,
    }


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RwmuError(f"{path}: no such manifest")
    try:
        data = json.loads(path.read_text())
        entries = data["policies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise RwmuError(f"{path}: not a policy manifest (a JSON object with a 'policies' list)") from None
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "file" not in entry:
            raise RwmuError(f"{path}: entry {i} has no 'file'")
    return data


def write_manifest(path: Path, entries: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
    write_json_atomic(path, {"policies": entries, "rescore": f"{RESCORE} --manifest {path}", **(extra or {})})


def check_manifest(data: dict[str, Any], root: Path) -> list[str]:
    """One line per problem: a file that is missing; one file behind two entries that are not the same policy with
    the same recorded score; an entry that names neither a recipe nor a method, or no experiment."""
    problems = []
    by_file: dict[str, list[int]] = {}
    for i, entry in enumerate(data["policies"]):
        by_file.setdefault(entry["file"], []).append(i)
        if not (root / entry["file"]).is_file():
            problems.append(f"entry {i}: {entry['file']} does not exist")
        if not entry.get("recipe") and not entry.get("method"):
            problems.append(f"entry {i} ({entry['file']}): names neither a recipe nor a method")
        if not entry.get("experiment"):
            problems.append(f"entry {i} ({entry['file']}): names no experiment")
    for file, indices in by_file.items():
        if len(indices) < 2:
            continue
        scores = {json.dumps([data["policies"][i].get(k) for k in ("true_return", "eval_seed")]) for i in indices}
        if len(scores) > 1:
            problems.append(f"{file}: {len(indices)} entries (indices {indices}) with different recorded scores")
    return problems


def merge_entries(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` with every entry of the same file replaced by the one in ``new``, and the others of ``new`` appended."""
    files = {e["file"] for e in new}
    return [e for e in old if e["file"] not in files] + new


def publish(out: Path, entries: list[dict[str, Any]], root: Path, manifest: Path) -> list[dict[str, Any]]:
    """Copy an experiment's policies (``out/<file>``) to ``root/docs/results/<file>`` and merge their entries into
    ``manifest``; returns the published entries."""
    published = []
    for entry in entries:
        target = PUBLISHED / entry["file"]
        copy_published_files(out / Path(entry["file"]).parent, root / target.parent)
        published.append({**entry, "file": str(target)})
    data = read_manifest(manifest) if manifest.is_file() else {"policies": []}
    extra = {k: v for k, v in data.items() if k not in ("policies", "rescore")}
    write_manifest(manifest, merge_entries(data["policies"], published), extra)
    return published


def rescore(
    data: dict[str, Any],
    root: Path,
    config: EvaluationConfig,
    select: Callable[[dict], bool] = lambda e: True,
    progress: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Score every selected entry in MuJoCo with ``config``; one record each: the entry, the new return, falls and
    normalised score, and ``differs`` (the recorded return was measured at this evaluation seed on the built-in
    schedules and the new one is more than :data:`RETURN_TOLERANCE` away from it)."""
    task = get_task("go2_flat")
    same_protocol = config.commands is None and tuple(config.schedules) == EvaluationConfig().schedules
    records = []
    for entry in [e for e in data["policies"] if select(e)]:
        result = evaluate_policy(str(root / entry["file"]), config, task, progress=False)
        recorded = entry.get("true_return")
        comparable = (
            same_protocol
            and recorded is not None
            and entry.get("eval_seed", 0) == config.seed
            and entry.get("episodes") == config.episodes
        )
        differs = comparable and not math.isclose(result["return_mean"], recorded, abs_tol=RETURN_TOLERANCE)
        records.append(
            {
                **entry,
                "rescored_return": result["return_mean"],
                "rescored_falls": result["falls"],
                "rescored_episodes": result["episodes"],
                "rescored_normalized_score": result.get("normalized_score"),
                "comparable": comparable,
                "differs": differs,
            }
        )
        mark = " DIFFERS" if differs else ""
        progress(f"{entry['file']}: {result['return_mean']:.4f} (recorded {recorded}){mark}")
    return records


def rescore_config(episodes: int, seed: int, commands: Path | None) -> EvaluationConfig:
    """The evaluation of a re-score: the built-in schedules, or only those of ``commands``."""
    config = EvaluationConfig(episodes=episodes, seed=seed)
    if commands is not None:
        config = dataclasses.replace(config, schedules=(), commands=commands)
    return config
