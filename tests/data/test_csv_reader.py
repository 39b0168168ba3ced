"""The reference CSV reader: numeric file order, dims from a task or explicit, and every refusal of bad input."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rwmu.data.csv_format import find_csv_files, write_csv_dataset
from rwmu.data.layout import DataDims
from rwmu.data.loading import load_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError

DIMS = DataDims(state=3, action=2, extension=0, contact=2, termination=1)  # 8 columns


def good_rows(n: int, start: float = 0.0) -> np.ndarray:
    """(n, 8) valid rows; state column 0 counts up from ``start`` so files can be told apart."""
    rows = np.zeros((n, DIMS.num_columns), dtype=np.float32)
    rows[:, 0] = start + np.arange(n)
    rows[:, 1:5] = np.linspace(-1, 1, 4)
    rows[:, 5] = np.arange(n) % 2  # contact
    rows[-1, 7] = 1.0  # termination on the last row
    return rows


def write(path: Path, rows) -> Path:
    if isinstance(rows, str):
        path.write_text(rows)
    else:
        np.savetxt(path, rows, fmt="%.9g", delimiter=",")
    return path


def test_folder_is_read_in_numeric_order(tmp_path):
    for k in range(12):
        write(tmp_path / f"state_action_data_{k}.csv", good_rows(3 + k % 3, start=100 * k))
    (tmp_path / "notes.txt").write_text("not data")
    names = [p.name for p in find_csv_files(tmp_path)]
    assert names[9:] == ["state_action_data_9.csv", "state_action_data_10.csv", "state_action_data_11.csv"]
    ds = load_dataset(tmp_path, dims=DIMS)
    first_values = ds.data[ds.trajectory_offsets[:-1], 0]
    np.testing.assert_array_equal(first_values, 100 * np.arange(12))
    assert ds.num_trajectories == 12
    assert ds.trajectory_lengths.tolist() == [3 + k % 3 for k in range(12)]
    assert ds.data.dtype == np.float32
    assert ds.meta["provenance"]["source_files"][-1].endswith("state_action_data_11.csv")


def test_a_gap_in_the_numbering_is_refused(tmp_path, capsys):
    from rwmu.cli.main import main

    for k in (0, 1, 2, 4, 5, 7):
        write(tmp_path / f"state_action_data_{k}.csv", good_rows(3))
    with pytest.raises(RwmuError) as err:
        find_csv_files(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}: state_action_data_3.csv is missing between state_action_data_0.csv and "
        "state_action_data_7.csv (2 missing); restore it, or renumber the files without a gap"
    )
    assert main(["data", "validate", str(tmp_path), "--dims", "3", "2", "0", "2", "1"]) == 2
    assert "state_action_data_3.csv is missing" in capsys.readouterr().err


def test_explicit_files_keep_given_order_and_values_round_trip(tmp_path):
    a = write(tmp_path / "a.csv", good_rows(4, start=0.123456789))
    b = write(tmp_path / "b.csv", good_rows(5, start=7))
    ds = load_dataset([b, a], dims=DIMS)
    np.testing.assert_array_equal(ds.trajectory(0), good_rows(5, start=7))
    np.testing.assert_array_equal(ds.trajectory(1), good_rows(4, start=0.123456789))
    single = load_dataset(a, dims=DIMS)
    assert single.num_trajectories == 1 and single.num_rows == 4


def test_views_and_counts(tmp_path):
    write(tmp_path / "state_action_data_0.csv", good_rows(6))
    ds = load_dataset(tmp_path, dims=DIMS)
    assert ds.states.shape == (6, 3) and ds.actions.shape == (6, 2)
    assert ds.contacts.shape == (6, 2) and ds.extensions.shape == (6, 0) and ds.terminations.shape == (6, 1)
    assert ds.num_terminations == 1 and ds.num_episodes == 1
    assert np.shares_memory(ds.states, ds.data)


def test_task_gives_dims_and_names(tmp_path):
    from rwmu.tasks import get_task

    task = get_task("anymal_d_flat")
    rows = np.zeros((5, 66), dtype=np.float32)
    write(tmp_path / "state_action_data_0.csv", rows)
    ds = load_dataset(tmp_path, task=task)
    assert ds.dims == task.dims
    assert ds.meta["column_names"][0] == "state/base_lin_vel_x" and ds.meta["task"] == "anymal_d_flat"
    assert ds.meta["dt"] == pytest.approx(0.02)


def test_dims_required_for_csv(tmp_path):
    write(tmp_path / "state_action_data_0.csv", good_rows(3))
    with pytest.raises(RwmuError, match="--task .* or --dims"):
        load_dataset(tmp_path)


def test_blank_lines_skipped_and_reported_rows_are_file_lines(tmp_path):
    rows = good_rows(4)
    text = "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows)
    lines = text.split("\n")
    lines[2] = lines[2].rsplit(",", 1)[0] + ",nan"  # third data row, termination column
    path = write(tmp_path / "f.csv", "\n\n".join(lines) + "\n")  # blank line between every row
    with pytest.raises(RwmuError, match=r"f\.csv: row 5, column 8: value nan is not finite"):
        load_dataset(path, dims=DIMS)


ROW = "0,1,2,0.5,-0.5,1,0,0"


@pytest.mark.parametrize(
    "content, pattern",
    [
        (f"{ROW}\n{ROW}\n0,1,2,0.5,-0.5,1,0\n", r"bad\.csv: row 3 has 7 columns, expected 8"),
        (f"{ROW}\n{ROW},1\n", r"bad\.csv: row 2 has 9 columns, expected 8"),
        ("0,1,2,0.5\n0,1,2,0.5\n", r"bad\.csv: row 1 has 4 columns, expected 8"),
        (f"{ROW}\n0,1,abc,0.5,-0.5,1,0,0\n", r"bad\.csv: row 2, column 3: 'abc' is not a number"),
        (f"{ROW}\n0,1,,0.5,-0.5,1,0,0\n", r"bad\.csv: row 2, column 3: '' is not a number"),
        (f"{ROW}\n{ROW}\n0,1,2,inf,-0.5,1,0,0\n", r"bad\.csv: row 3, column 4: value inf is not finite"),
        (f"{ROW}\n0,NaN,2,0.5,-0.5,1,0,0\n", r"bad\.csv: row 2, column 2: value nan is not finite"),
        (f"{ROW}\n0,1,2,0.5,-0.5,0.5,0,0\n", r"bad\.csv: row 2, column 6: contact value 0.5 is not 0 or 1"),
        (f"{ROW}\n{ROW}\n0,1,2,0.5,-0.5,1,0,2\n", r"bad\.csv: row 3, column 8: termination value 2.0 is not 0 or 1"),
        ("", r"bad\.csv: file is empty"),
        ("\n  \n", r"bad\.csv: file is empty"),
    ],
)
def test_bad_csv_is_refused_naming_file_row_column(tmp_path, content, pattern):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(RwmuError, match=pattern):
        load_dataset(path, dims=DIMS)


def test_short_file_refused_with_min_rows(tmp_path):
    write(tmp_path / "state_action_data_0.csv", good_rows(50))
    write(tmp_path / "state_action_data_1.csv", good_rows(30))
    assert load_dataset(tmp_path, dims=DIMS, min_rows=30).num_rows == 80
    with pytest.raises(RwmuError, match=r"state_action_data_1\.csv: 30 rows, shorter than one training window of 40"):
        load_dataset(tmp_path, dims=DIMS, min_rows=40)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(RwmuError, match="no such file or folder"):
        load_dataset(tmp_path / "nope", dims=DIMS)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RwmuError, match="folder is empty"):
        load_dataset(empty, dims=DIMS)
    (empty / "data_0.csv").write_text(ROW)
    with pytest.raises(RwmuError, match="none named state_action_data_<k>.csv"):
        load_dataset(empty, dims=DIMS)
    with pytest.raises(RwmuError, match="no such file"):
        load_dataset([empty / "data_0.csv", tmp_path / "missing.csv"], dims=DIMS)


def test_duplicate_numbers_refused(tmp_path):
    write(tmp_path / "state_action_data_1.csv", good_rows(3))
    write(tmp_path / "state_action_data_01.csv", good_rows(3))
    with pytest.raises(RwmuError, match="both have number 1"):
        load_dataset(tmp_path, dims=DIMS)


def test_task_and_dims_must_agree(tmp_path):
    from rwmu.tasks import get_task

    write(tmp_path / "state_action_data_0.csv", good_rows(3))
    with pytest.raises(RwmuError, match="disagree"):
        load_dataset(tmp_path, task=get_task("anymal_d_flat"), dims=DIMS)
    with pytest.raises(RwmuError, match="8 columns, expected 66|row 1 has 8 columns, expected 66"):
        load_dataset(tmp_path, task=get_task("anymal_d_flat"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rwmu.cli.main", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "content, needle",
    [
        (f"{ROW}\n0,1,2,0.5,-0.5,1,0\n", "row 2 has 7 columns, expected 8"),
        (f"{ROW}\n0,1,x,0.5,-0.5,1,0,0\n", "row 2, column 3: 'x' is not a number"),
        (f"{ROW}\n0,1,2,0.5,-0.5,3,0,0\n", "row 2, column 6: contact value 3.0 is not 0 or 1"),
    ],
)
def test_cli_validate_prints_one_line_and_exits_2(tmp_path, content, needle):
    folder = tmp_path / "data"
    folder.mkdir()
    write(folder / "state_action_data_0.csv", content)
    result = run_cli("data", "validate", str(folder), "--dims", "3", "2", "0", "2", "1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "state_action_data_0.csv" in lines[0] and needle in lines[0]


def test_cli_missing_folder_and_no_dims_exit_2(tmp_path):
    result = run_cli("data", "info", str(tmp_path / "missing"), "--dims", "3", "2", "0", "2", "1")
    assert result.returncode == 2 and "no such file or folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    write(tmp_path / "state_action_data_0.csv", ROW + "\n")
    result = run_cli("data", "validate", str(tmp_path))
    assert result.returncode == 2 and "--dims" in result.stderr and "Traceback" not in result.stderr


def test_csv_writing_is_all_or_nothing_and_refuses_a_folder_with_data(tmp_path, monkeypatch):
    ds = make_synthetic_dataset(4, 30, dims=DataDims(3, 2, 0, 1, 1), seed=0)
    out = tmp_path / "out"
    calls = []
    real_savetxt = np.savetxt

    def full_disk(*args, **kwargs):  # the third file finds the disk full
        calls.append(args[0])
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))
        return real_savetxt(*args, **kwargs)

    monkeypatch.setattr(np, "savetxt", full_disk)
    with pytest.raises(OSError):
        write_csv_dataset(ds, out)
    assert list(out.iterdir()) == []  # no partial dataset, no staging folder
    monkeypatch.setattr(np, "savetxt", real_savetxt)
    assert len(write_csv_dataset(ds, out)) == 4
    with pytest.raises(RwmuError, match="already holds dataset files"):
        write_csv_dataset(ds, out)
