"""Runs ``rwmu sim2sim``; its flags are declared in :mod:`rwmu.cli.commands.sim2sim` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.sim2sim import Command
from rwmu.cli.common import check_output_file
from rwmu.evaluation.sim2sim import compare_with_evaluate, read_unitree_export, run_sim2sim
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.evaluation.tables import format_evaluation_table
from rwmu.utils.io import write_json_atomic


def run(cmd: Command) -> int:
    read_unitree_export(cmd.folder)  # before any work: both files there, the YAML readable, the task named
    if cmd.json is not None:
        check_output_file(cmd.json, "--json")
    config = EvaluationConfig(
        episodes=cmd.episodes, seed=cmd.seed, schedules=cmd.schedules, commands=cmd.commands, score_reference=None
    )
    if not cmd.compare:
        result = run_sim2sim(cmd.folder, config, cmd.progress)
        print(format_evaluation_table(result))
    else:
        result = compare_with_evaluate(cmd.folder, config, cmd.progress)
        for name in ("sim2sim", "evaluate"):
            print(f"-- {name}\n{format_evaluation_table(result[name])}")
        low, high = result["return_difference_ci95"]
        print(
            f"return sim2sim - evaluate: {result['return_difference']:+.3f} (95 % interval {low:+.3f} .. {high:+.3f}); "
            f"falls {result['falls']['sim2sim']} vs {result['falls']['evaluate']}"
        )
    if cmd.json is not None:
        write_json_atomic(cmd.json, result)
        print(f"wrote {cmd.json}")
    return 0
