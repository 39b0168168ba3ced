"""Sim-to-sim check of a Unitree export: run OUT/exported/policy.onnx in MuJoCo from OUT/params/deploy.yaml alone.

Reads only the two files rwmu export --format unitree wrote (and the Go2 MJCF): its own MuJoCo loop maps the policy's
joints to the motors through joint_ids_map, runs the PD law with the YAML's gains at the physics rate, builds the
observation from the YAML's terms and scales, and scores the evaluation's command schedules on the task's reward
(docs/go2.md, "Deploying on a Go2"). With --compare it also scores OUT/exported with rwmu evaluate on the same
schedules and prints the difference of the mean returns with its 95 % interval: agreement shows the exported facts
are the ones the policy was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from rwmu.evaluation.schedules import COMMAND_SCHEDULES


@dataclass(frozen=True)
class Command:
    """Run a Unitree export in an independent MuJoCo loop and score it."""

    folder: tyro.conf.Positional[Path]
    """folder written by rwmu export --format unitree (params/deploy.yaml, exported/policy.onnx)"""
    episodes: int = 32
    """episodes, one after the other; episode e runs schedule e mod the schedule count"""
    seed: int = 1234
    """seed of the start states"""
    schedules: tuple[str, ...] = tuple(COMMAND_SCHEDULES)
    """built-in command schedules, cycled over the episodes"""
    commands: Path | None = None
    """a JSON or CSV file of further schedules (as rwmu evaluate --commands)"""
    compare: bool = False
    """also score OUT/exported with rwmu evaluate (rwmu's simulator) and report the difference"""
    json: Path | None = None
    """also write the results as JSON to this file"""
    progress: bool = True
    """show a progress bar"""
