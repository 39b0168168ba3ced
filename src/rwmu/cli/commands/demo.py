"""The whole pipeline end to end on a small Go2 problem (CPU, about 10 minutes on 2 cores).

Collects data with a behaviour policy in MuJoCo (the shipped expert with action noise 0.5; --behavior-policy,
--action-noise), trains a world model, evaluates its uncertainty against its error, trains MOPO-PPO at each lambda
(from the behaviour-cloned actor), scores every policy and the behaviour policy in MuJoCo on the
unpenalised reward, and writes OUT/report.md (+ PNG plots) and OUT/report.json. Re-running with the same --out
continues: stages whose outputs exist are skipped. Every stage's settings are flags (e.g.
--world-model.optim.iterations, --policy.iterations, --policy.env.num-envs, --collect.steps, --lambdas 1 0);
--preset paper sets the paper's for every stage, --preset tiny checks the pipeline in under a minute.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from rwmu.experiments.demo_config import PRESETS, DemoConfig


@dataclass(frozen=True)
class Command:
    """Run the whole pipeline on a small Go2 problem and write a report."""

    out: Path
    """report folder (re-run with the same folder to continue)"""
    preset: Literal["demo", "paper", "tiny"] = "demo"
    """demo: ~10 min on 2 CPU cores; paper: the paper's settings for every stage (hours; GPU advised); tiny: under
    a minute, checks the pipeline only. Flags override it."""
    demo: Annotated[DemoConfig, tyro.conf.arg(name="")] = field(default_factory=DemoConfig)


def defaults(argv: list[str]) -> Command:
    """The preset's settings."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--preset", choices=tuple(PRESETS), default="demo")
    preset = parser.parse_known_args(argv)[0].preset
    return Command(out=tyro.MISSING, preset=preset, demo=PRESETS[preset]())
