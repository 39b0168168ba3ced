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

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli import collect
from rwmu.cli.common import check_device, check_output_folder
from rwmu.errors import RwmuError
from rwmu.experiments.backend import BackendConfig
from rwmu.experiments.experiment import run_experiment
from rwmu.experiments.experiment_file import DatasetSpec, read_experiment
from rwmu.experiments.manifest import publish, read_manifest
from rwmu.experiments.signal_table import copy_signal_table
from rwmu.utils.io import folder_lock

MANIFEST = Path("docs/results/policies.json")
PUBLISHED = Path("docs/results")


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


def collect_command(dataset: DatasetSpec, out: Path) -> collect.Command:
    """The typed ``rwmu collect`` command of a dataset's ``collect`` table (its keys are the command's settings;
    ``steps``, ``num_envs``, ``num_workers``, ``seed`` ... are its ``CollectConfig``)."""
    table = dict(dataset.collect or {})
    known = set(collect.Command.__dataclass_fields__) - {"out", "collect", "resume", "progress"}
    nested = set(collect.CollectConfig.__dataclass_fields__)
    unknown = sorted(set(table) - known - nested)
    if unknown:
        raise RwmuError(
            f"datasets.{dataset.name}.collect: unknown setting(s) {', '.join(unknown)} (rwmu collect --help lists them)"
        )
    top = {k: v for k, v in table.items() if k in known}
    inner = {k: v for k, v in table.items() if k in nested}
    return collect.Command(
        **{"format": "rwmu", **top},
        out=out,
        progress=False,
        collect=dataclasses.replace(collect.CollectConfig(), **inner),
    )


def dataset_files(spec, out: Path) -> dict[str, str]:
    """Each dataset's file: the declared path, or the collected one (collected now if it is not there yet)."""
    files = {}
    for name, dataset in spec.datasets.items():
        if dataset.path is not None:
            if not Path(dataset.path).exists():
                raise RwmuError(f"{spec.file}: datasets.{name}.path {dataset.path}: no such file or folder")
            files[name] = dataset.path
            continue
        folder = out / name / "data"
        command = collect_command(dataset, folder)
        if not (folder / "dataset.rwmu").is_file():
            print(f"[experiment] collecting {name} into {folder}", flush=True)
            collect.run(dataclasses.replace(command, resume=(folder / ".collect").is_dir()))
        files[name] = str(folder / "dataset.rwmu")
    return files


def interrupted(cmd: Run) -> str:
    """After Ctrl-C or SIGTERM: the running workers were stopped, every run kept its last checkpoint."""
    return f"every run in {cmd.out} keeps its last checkpoint; run the same command again to continue"


def run(cmd: Run) -> int:
    spec = read_experiment(cmd.file)  # every key, recipe and dataset checked before any work
    for dataset in spec.datasets.values():
        if dataset.collect is not None:
            collect_command(dataset, cmd.out / dataset.name / "data")
    if cmd.jobs < 1:
        raise RwmuError(f"--jobs must be >= 1, got {cmd.jobs}")
    check_device(cmd.device)
    check_output_folder(cmd.out, "--out")
    cmd.backend.check(cmd.out)
    with folder_lock(cmd.out, "rwmu experiment"), cmd.backend.session(cmd.out):
        data = dataset_files(spec, cmd.out)
        run_experiment(spec, cmd.out, data, cmd.jobs, cmd.device, backend=cmd.backend)
        if cmd.publish and spec.grids:
            entries = publish(cmd.out, read_manifest(cmd.out / "policies.json")["policies"], Path("."), MANIFEST)
            print(f"published {len(entries)} policies into docs/results/policies/ and {MANIFEST}")
        if cmd.publish and spec.studies:
            target = PUBLISHED / spec.name
            copied = copy_signal_table(cmd.out / "signals", target)
            print(f"published the signal table and {copied - 3} ROC plots into {target}")
    tables = [cmd.out / "table.md"] if spec.grids else []
    tables += [cmd.out / "signals" / "table.md"] if spec.studies else []
    print(f"results: {', '.join(map(str, tables))}")
    return 0
