"""Run a declared experiment: datasets x recipes x lambda x seeds, every policy scored in MuJoCo.

``rwmu experiment run FILE --out DIR`` collects the datasets the file asks for (rwmu collect), trains one world
model per dataset and recipe world model, trains every recipe x lambda x seed with MOPO-PPO, scores every policy in
MuJoCo on the unpenalised reward, runs check-model, exports every policy to ONNX and writes DIR/table.md with the
per-recipe sweep.md. Re-running the same command continues where it stopped; ``--backend ray`` runs the jobs as
Ray tasks (docs/scaling.md). ``--publish`` then copies the
policies into docs/results/policies/ and merges them into docs/results/policies.json. The file's form:
:mod:`rwmu.experiments.experiment_file`; the experiments rwmu published are in experiments/*.toml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.experiments.backend_config import BackendConfig


@dataclass(frozen=True)
class Run:
    """Run (or continue) an experiment file into an output folder."""

    file: tyro.conf.Positional[Path]
    """experiment file (TOML), e.g. experiments/mixed.toml"""
    out: Path
    """output folder, owned by this experiment (re-run with the same folder to continue)"""
    jobs: int = 2
    """jobs side by side (world models, policy runs); CPU threads are split between them"""
    device: str = "cpu"
    """torch device of the world models and PPO"""
    backend: Annotated[BackendConfig, tyro.conf.arg(name="")] = BackendConfig()
    publish: bool = False
    """copy the policies into docs/results/policies/ and merge their entries into docs/results/policies.json; the
    signal table of [[study]] blocks and its ROC plots into docs/results/<experiment name>/"""


SUBCOMMANDS = {"run": Run}
