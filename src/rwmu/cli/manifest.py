"""Runs ``rwmu manifest``; its flags are declared in :mod:`rwmu.cli.commands.manifest` (imported without torch for ``--help``)."""

from __future__ import annotations

import json
from pathlib import Path

from rwmu.cli.commands.manifest import Check, Rescore, Table
from rwmu.cli.common import check_output_folder
from rwmu.errors import RwmuError
from rwmu.evaluation.heldout_schedules import random_schedules
from rwmu.experiments import report as rep
from rwmu.experiments.headline import headline_table, with_table
from rwmu.experiments.manifest import check_manifest, read_manifest, rescore, rescore_config
from rwmu.utils.io import write_json_atomic, write_text_atomic


def run(cmd: Check | Rescore | Table) -> int:
    if isinstance(cmd, Table):
        table = headline_table(Path("."))
        if cmd.write is None:
            print(table)
        else:
            write_text_atomic(cmd.write, with_table(cmd.write.read_text(), table))
            print(f"wrote the results table into {cmd.write}")
        return 0
    data = read_manifest(cmd.manifest)
    if isinstance(cmd, Check):
        problems = check_manifest(data, Path("."))
        for line in problems:
            print(line)
        print(f"{cmd.manifest}: {len(data['policies'])} entries, {len(problems)} problem(s)")
        return 1 if problems else 0
    return _rescore(cmd, data)


def _rescore(cmd: Rescore, data: dict) -> int:
    if cmd.episodes < 1:
        raise RwmuError(f"--episodes must be >= 1, got {cmd.episodes}")
    check_output_folder(cmd.out, "--out")
    cmd.out.mkdir(parents=True, exist_ok=True)
    commands = None
    if cmd.heldout_seed is not None:
        commands = cmd.out / "heldout_schedules.json"
        write_text_atomic(commands, json.dumps(random_schedules(8, cmd.heldout_seed), indent=1))

    def selected(entry: dict) -> bool:
        return (not cmd.recipe or entry.get("recipe") in cmd.recipe) and (
            not cmd.dataset or entry.get("dataset") in cmd.dataset
        )

    if not any(selected(e) for e in data["policies"]):
        raise RwmuError(
            f"{cmd.manifest}: no entry matches --recipe {' '.join(cmd.recipe)} --dataset {' '.join(cmd.dataset)}"
        )
    records = rescore(data, Path("."), rescore_config(cmd.episodes, cmd.seed, commands), selected)
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r.get("dataset"), r.get("recipe") or r.get("method"), r.get("lambda")), []).append(r)
    rows = []
    for (dataset, name, lam), group in groups.items():
        mean, ci = rep.mean_ci95([r["rescored_return"] for r in group])
        score = rep.mean_std([r["rescored_normalized_score"] for r in group])[0]
        falls, episodes = sum(r["rescored_falls"] for r in group), sum(r["rescored_episodes"] for r in group)
        rows.append(
            {
                "dataset": dataset,
                "recipe": name,
                "lambda": lam,
                "policies": len(group),
                "return_mean": mean,
                "return_ci95": ci,
                "normalized_score": score,
                "falls": falls,
                "episodes": episodes,
            }
        )
    differing = [r for r in records if r["differs"]]
    write_json_atomic(
        cmd.out / "rescore.json",
        {
            "manifest": str(cmd.manifest),
            "seed": cmd.seed,
            "episodes": cmd.episodes,
            "heldout_seed": cmd.heldout_seed,
            "groups": rows,
            "entries": records,
            "differing": [r["file"] for r in differing],
        },
    )
    table = rep.markdown_table(
        ["dataset", "recipe / method", "lambda", "policies", "return", "95 % +-", "normalised", "falls"],
        [
            [
                r["dataset"],
                r["recipe"],
                r["lambda"],
                r["policies"],
                r["return_mean"],
                r["return_ci95"],
                r["normalized_score"],
                f"{r['falls']}/{r['episodes']}",
            ]
            for r in rows
        ],
    )
    where = f"8 held-out schedules (seed {cmd.heldout_seed})" if commands else "the 8 built-in schedules"
    lines = [
        f"# Re-score of {cmd.manifest}",
        "",
        f"{cmd.episodes} episodes per policy over {where}, evaluation seed {cmd.seed}.",
        "",
        table,
        "",
    ]
    compared = sum(r["comparable"] for r in records)
    lines.append(
        f"{compared} entries compared with their record at this seed: {len(differing)} differ."
        if compared
        else "No entry was recorded under this protocol: nothing to compare."
    )
    if differing:
        worst = max(abs(r["rescored_return"] - r["true_return"]) for r in differing)
        lines.append(f"Largest difference: {worst:.4f}.")
    lines += [
        f"- {r['file']}: recorded {r['true_return']:.6f}, now {r['rescored_return']:.6f} "
        f"({r['rescored_return'] - r['true_return']:+.6f})"
        for r in sorted(differing, key=lambda r: -abs(r["rescored_return"] - r["true_return"]))
    ]
    write_text_atomic(cmd.out / "rescore.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0
