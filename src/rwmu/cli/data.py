"""Runs ``rwmu data``; its flags are declared in :mod:`rwmu.cli.commands.data` (imported without torch for ``--help``)."""

from __future__ import annotations

import json
from pathlib import Path

from rwmu.cli.commands.data import Convert, Example, Info, Validate
from rwmu.cli.common import check_output_file, check_output_folder, resolve_task_and_dims
from rwmu.data import NATIVE_SUFFIX, load_dataset, save_dataset, write_csv_dataset
from rwmu.data.csv_format import check_csv_target
from rwmu.data.statistics import column_statistics, format_speed_coverage, speed_coverage
from rwmu.data.synthetic import DEFAULT_DIMS, make_synthetic_dataset
from rwmu.errors import RwmuError
from rwmu.utils.io import write_run_config


def _source(paths: tuple[Path, ...]) -> str | list[str]:
    return str(paths[0]) if len(paths) == 1 else [str(p) for p in paths]


def run(cmd: Info | Validate | Convert | Example) -> int:
    runner = {Info: info, Validate: validate, Convert: convert, Example: example}[type(cmd)]
    return runner(cmd)


def info(cmd: Info) -> int:
    task, dims = resolve_task_and_dims(cmd.task, cmd.dims)
    ds = load_dataset(str(cmd.path), task=task, dims=dims)
    lengths = ds.trajectory_lengths
    report = {
        "path": str(cmd.path),
        "dims": ds.dims.as_dict(),
        "num_columns": ds.dims.num_columns,
        "rows": ds.num_rows,
        "trajectories": ds.num_trajectories,
        "trajectory_rows": {"min": int(lengths.min()), "max": int(lengths.max())},
        "episodes": ds.num_episodes,
        "terminations": ds.num_terminations,
        "dt": ds.meta.get("dt"),
        "task": ds.meta.get("task"),
        "provenance": ds.meta.get("provenance"),
        "columns": column_statistics(ds),
        "context_names": ds.context_names,
        "speed_coverage": speed_coverage(ds),
    }
    if cmd.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{cmd.path}")
    print(f"  {ds.dims.describe()} ({ds.dims.num_columns} columns)")
    print(
        f"  rows {ds.num_rows}, trajectories {ds.num_trajectories} (rows per trajectory {lengths.min()}-"
        f"{lengths.max()}), episodes {ds.num_episodes}, terminations {ds.num_terminations}"
    )
    print(f"  task {ds.meta.get('task')}, dt {ds.meta.get('dt')}")
    context = ", ".join(ds.context_names) if ds.context_names else "none (commands not recorded)"
    print(f"  context columns: {context}")
    for line in format_speed_coverage(report["speed_coverage"]) if report["speed_coverage"] else []:
        print(f"  {line}")
    width = max(len(c["name"]) for c in report["columns"])
    print(f"  {'#':>3}  {'column':<{width}}  {'mean':>11} {'std':>11} {'min':>11} {'max':>11}")
    for c in report["columns"]:
        index = f"c{c['column']}" if c["context"] else str(c["column"])
        print(
            f"  {index:>3}  {c['name']:<{width}}  {c['mean']:>11.4g} {c['std']:>11.4g} "
            f"{c['min']:>11.4g} {c['max']:>11.4g}"
        )
    return 0


def validate(cmd: Validate) -> int:
    task, dims = resolve_task_and_dims(cmd.task, cmd.dims)
    ds = load_dataset(str(cmd.path), task=task, dims=dims, min_rows=cmd.min_rows)
    ds.check_values(source=str(cmd.path))  # native files were checked when written; check again here
    print(f"OK {cmd.path}: {ds.summary()}")
    return 0


def convert(cmd: Convert) -> int:
    if len(cmd.src) < 2:
        raise RwmuError("rwmu data convert SRC [SRC ...] DST: give the data to convert, then the output path")
    task, dims = resolve_task_and_dims(cmd.task, cmd.dims)
    sources, dst = cmd.src[:-1], cmd.src[-1]
    (check_output_file if dst.suffix == NATIVE_SUFFIX else check_output_folder)(dst, "DST")
    if dst.suffix != NATIVE_SUFFIX:
        check_csv_target(dst)  # before the data is read
    ds = load_dataset(_source(sources), task=task, dims=dims)
    if dst.suffix == NATIVE_SUFFIX:
        save_dataset(ds, dst)
        print(f"wrote {dst} ({ds.summary()})")
    else:
        paths = write_csv_dataset(ds, dst)
        print(f"wrote {len(paths)} CSV file(s) to {dst}/ ({ds.summary()})")
    return 0


def example(cmd: Example) -> int:
    task, dims = resolve_task_and_dims(cmd.task if cmd.dims is None else None, cmd.dims)
    native = cmd.format == "rwmu"
    target = (cmd.out if cmd.out.suffix == NATIVE_SUFFIX else cmd.out / "example.rwmu") if native else cmd.out
    (check_output_file if native else check_output_folder)(target, "--out")
    ds = make_synthetic_dataset(cmd.trajectories, cmd.steps, dims=dims or DEFAULT_DIMS, seed=cmd.seed, task=task)
    if native:
        save_dataset(ds, target)
        config_dir, where = target.parent, str(target)
    else:
        write_csv_dataset(ds, cmd.out)
        config_dir, where = cmd.out, f"{cmd.out}/"
    write_run_config(
        config_dir,
        {
            "command": cmd,
            "task": task.name if task is not None else None,
            "dims": ds.dims.as_dict(),
            "generator": ds.meta["provenance"],
        },
        name="example_config.json",
    )
    print(f"wrote synthetic example data to {where} ({ds.summary()})")
    return 0
