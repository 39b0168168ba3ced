"""Dataset loading and window indexing speed.

Generates a task-shaped synthetic dataset (default 1M rows x 66 columns, ANYmal-D flat dims) as reference-convention
CSV files in a temporary folder, then times:

* CSV load (``load_dataset(folder, task=anymal_d_flat)``, full validation included),
* native ``.rwmu`` load (``load_dataset(file)``, header + CRC-32 check included), and their ratio,
* window indexing for windows of M + N = 40 rows: ``window_starts`` and ``split_windows``.

Usage::

    python benchmarks/bench_data.py [--rows 1000000] [--files 10] [--window 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="total rows (default 1M)")
    parser.add_argument("--files", type=int, default=10, help="number of CSV files / trajectories")
    parser.add_argument("--window", type=int, default=40, help="window length M + N (default 32 + 8)")
    parser.add_argument("--repeats", type=int, default=3, help="native load and indexing: best of this many runs")
    parser.add_argument("--csv-repeats", type=int, default=1, help="CSV load: best of this many runs")
    args = parser.parse_args()

    from rwmu.data.csv_format import write_csv_dataset
    from rwmu.data.loading import load_dataset
    from rwmu.data.native_format import save_dataset
    from rwmu.data.synthetic import make_synthetic_dataset
    from rwmu.data.windows import split_windows, window_starts
    from rwmu.tasks import get_task

    task = get_task("anymal_d_flat")
    steps = args.rows // args.files
    with tempfile.TemporaryDirectory(prefix="rwmu_bench_data_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        ds = make_synthetic_dataset(args.files, steps, seed=0, task=task)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_csv_dataset(ds, tmp / "csv")
        t_write = time.perf_counter() - t0
        csv_bytes = sum(p.stat().st_size for p in (tmp / "csv").glob("*.csv"))
        save_dataset(ds, tmp / "data.rwmu")
        native_bytes = (tmp / "data.rwmu").stat().st_size
        print(
            f"dataset: {ds.num_rows} rows x {ds.dims.num_columns} columns, {ds.num_trajectories} files, "
            f"{ds.num_terminations} terminations (generated in {t_gen:.1f} s, CSV written in {t_write:.1f} s)"
        )
        print(f"size: CSV {csv_bytes / 1e6:.0f} MB, native {native_bytes / 1e6:.0f} MB")

        t_csv, from_csv = best_of(args.csv_repeats, lambda: load_dataset(tmp / "csv", task=task))
        t_native, from_native = best_of(args.repeats, lambda: load_dataset(tmp / "data.rwmu"))
        assert from_csv.data.tobytes() == ds.data.tobytes() == from_native.data.tobytes()
        print(f"CSV load:    {t_csv:8.3f} s  ({ds.num_rows / t_csv / 1e6:.2f} M rows/s)")
        print(f"native load: {t_native:8.3f} s  ({ds.num_rows / t_native / 1e6:.2f} M rows/s)")
        print(f"native is {t_csv / t_native:.0f}x faster than CSV")

        t_starts, starts = best_of(args.repeats, lambda: window_starts(ds, args.window))
        t_split, (train, val) = best_of(args.repeats, lambda: split_windows(ds, args.window, 0.1, seed=0))
        print(f"window_starts(L={args.window}): {t_starts * 1e3:8.1f} ms  ({starts.size} windows)")
        print(f"split_windows(L={args.window}): {t_split * 1e3:8.1f} ms  ({train.size} train, {val.size} val)")


if __name__ == "__main__":
    main()
