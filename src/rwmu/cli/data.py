"""``rwmu data``: convert, inspect, validate and generate trajectory datasets.

    rwmu data convert SRC DST [--task T | --dims S,A,E,C,T]     CSV folder/file(s) <-> native .rwmu
    rwmu data info PATH [--task T | --dims ...] [--json]         dims, rows, episodes, per-column statistics
    rwmu data validate PATH [--task T | --dims ...] [--min-rows N]
    rwmu data example --out DIR [--task anymal_d_flat|none] [--trajectories K --steps N --seed S --format csv|rwmu]
"""

from __future__ import annotations



def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data",
        help="convert, inspect, validate and generate trajectory datasets",
        description="Work with trajectory datasets (reference CSV folders and native .rwmu files).",
    )
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION")
    commands.required = True

    from rwmu.cli.common import add_task_arguments as add_dims_flags

    convert = commands.add_parser(
        "convert",
        help="convert CSV data to a native .rwmu file, or a .rwmu file to a CSV folder",
        description="DST ending in .rwmu: write the native format; otherwise write a folder of "
        "state_action_data_<k>.csv files.",
    )
    convert.add_argument("src", nargs="+", metavar="SRC", help="CSV folder, CSV file(s) or .rwmu file")
    convert.add_argument("dst", metavar="DST", help="output .rwmu file or CSV folder")
    add_dims_flags(convert)

    info = commands.add_parser("info", help="dims, rows, trajectories, terminations and per-column statistics")
    info.add_argument("path", metavar="PATH")
    add_dims_flags(info)
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")

    validate = commands.add_parser("validate", help="check a dataset; print a summary or the first problem")
    validate.add_argument("path", metavar="PATH")
    add_dims_flags(validate)
    validate.add_argument("--min-rows", type=int, default=1, help="minimum rows per trajectory (e.g. M + N)")

    example = commands.add_parser("example", help="write synthetic example data (damped linear system)")
    example.add_argument("--out", required=True, metavar="DIR", help="output folder (or a .rwmu file path)")
    example.add_argument(
        "--task",
        default=None,
        help="task whose shape to imitate (default anymal_d_flat unless --dims is given), or 'none' for the small "
        "6/2/0/2/1 system",
    )
    example.add_argument("--dims", default=None, metavar="S,A,E,C,T", help="column widths instead of a task")
    example.add_argument("--trajectories", type=int, default=4, help="number of trajectories (files)")
    example.add_argument("--steps", type=int, default=2500, help="rows per trajectory")
    example.add_argument("--seed", type=int, default=0)
    example.add_argument("--format", choices=("csv", "rwmu"), default="csv")

    parser.set_defaults(func=run)


def _task_and_dims(args):
    """``--task`` (``none`` allowed) and ``--dims`` via :func:`rwmu.cli.common.resolve_task_and_dims`."""
    from rwmu.cli.common import resolve_task_and_dims

    if args.task is not None and args.task.lower() == "none":
        args.task = None
    return resolve_task_and_dims(args)


def _source(paths: list[str]):
    return paths[0] if len(paths) == 1 else paths


def run(args) -> int:
    return {"convert": _convert, "info": _info, "validate": _validate, "example": _example}[args.data_command](args)


def _convert(args) -> int:
    from pathlib import Path

    from rwmu.data.dataset import NATIVE_SUFFIX, load_dataset, save_dataset
    from rwmu.data.writer import write_csv_dataset

    task, dims = _task_and_dims(args)
    ds = load_dataset(_source(args.src), task=task, dims=dims)
    dst = Path(args.dst)
    if dst.suffix == NATIVE_SUFFIX:
        save_dataset(ds, dst)
        print(f"wrote {dst} ({ds.summary()})")
    else:
        paths = write_csv_dataset(ds, dst)
        print(f"wrote {len(paths)} CSV file(s) to {dst}/ ({ds.summary()})")
    return 0


def _statistics(ds) -> list[dict]:
    import numpy as np

    data = ds.data
    mean = data.mean(axis=0, dtype=np.float64)
    std = data.std(axis=0, dtype=np.float64)
    low, high = data.min(axis=0), data.max(axis=0)
    return [
        {"column": i, "name": name, "mean": float(mean[i]), "std": float(std[i]), "min": float(low[i]),
         "max": float(high[i])}
        for i, name in enumerate(ds.column_names)
    ]  # fmt: skip


def _info(args) -> int:
    import json

    from rwmu.data.dataset import load_dataset

    task, dims = _task_and_dims(args)
    ds = load_dataset(args.path, task=task, dims=dims)
    lengths = ds.trajectory_lengths
    report = {
        "path": args.path,
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
        "columns": _statistics(ds),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.path}")
    print(f"  {ds.dims.describe()} ({ds.dims.num_columns} columns)")
    print(
        f"  rows {ds.num_rows}, trajectories {ds.num_trajectories} "
        f"(rows per trajectory {lengths.min()}-{lengths.max()}), episodes {ds.num_episodes}, "
        f"terminations {ds.num_terminations}"
    )
    print(f"  task {ds.meta.get('task')}, dt {ds.meta.get('dt')}")
    width = max(len(c["name"]) for c in report["columns"])
    print(f"  {'#':>3}  {'column':<{width}}  {'mean':>11} {'std':>11} {'min':>11} {'max':>11}")
    for c in report["columns"]:
        print(
            f"  {c['column']:>3}  {c['name']:<{width}}  {c['mean']:>11.4g} {c['std']:>11.4g} "
            f"{c['min']:>11.4g} {c['max']:>11.4g}"
        )
    return 0


def _validate(args) -> int:
    from rwmu.data.dataset import load_dataset

    task, dims = _task_and_dims(args)
    ds = load_dataset(args.path, task=task, dims=dims, min_rows=args.min_rows)
    ds.check_values(source=args.path)  # native files were checked when written; check again here
    print(f"OK {args.path}: {ds.summary()}")
    return 0


def _example(args) -> int:
    from pathlib import Path

    from rwmu.data.dataset import NATIVE_SUFFIX, save_dataset
    from rwmu.data.synthetic import DEFAULT_DIMS, make_synthetic_dataset
    from rwmu.data.writer import write_csv_dataset
    from rwmu.utils.io import write_run_config

    if args.task is None and args.dims is None:
        args.task = "anymal_d_flat"
    task, dims = _task_and_dims(args)
    ds = make_synthetic_dataset(
        args.trajectories, args.steps, dims=dims or DEFAULT_DIMS, seed=args.seed, task=task
    )
    out = Path(args.out)
    if args.format == "rwmu":
        target = out if out.suffix == NATIVE_SUFFIX else out / "example.rwmu"
        save_dataset(ds, target)
        config_dir = target.parent
        where = str(target)
    else:
        write_csv_dataset(ds, out)
        config_dir, where = out, f"{out}/"
    config = {
        "task": task.name if task else None,
        "dims": ds.dims.as_dict(),
        "trajectories": args.trajectories,
        "steps": args.steps,
        "seed": args.seed,
        "format": args.format,
        "generator": ds.meta["provenance"],
    }
    write_run_config(config_dir, config, name="example_config.json")
    print(f"wrote synthetic example data to {where} ({ds.summary()})")
    return 0
