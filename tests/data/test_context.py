"""Context columns (recorded commands): both file formats carry them, old files still read, bad ones are refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from rwmu.data.csv_format import write_csv_dataset
from rwmu.data.dataset import COMMAND_CONTEXT_NAMES, TrajectoryDataset, concatenate_datasets
from rwmu.data.layout import DataDims
from rwmu.data.loading import load_dataset
from rwmu.data.native_format import read_native_header, save_dataset
from rwmu.data.statistics import speed_coverage
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError


def with_commands(ds: TrajectoryDataset, seed: int = 0) -> TrajectoryDataset:
    commands = np.random.default_rng(seed).uniform(-1, 1, size=(ds.num_rows, 3)).astype(np.float32)
    meta = {**ds.meta, "context_names": list(COMMAND_CONTEXT_NAMES)}
    return TrajectoryDataset(ds.data, ds.dims, ds.trajectory_offsets, meta, context=commands)


@pytest.fixture()
def dataset() -> TrajectoryDataset:
    return with_commands(make_synthetic_dataset(3, 50, seed=1))


def test_native_round_trip_keeps_the_context_bit_exact(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    for mmap in (False, True):
        back = load_dataset(path, mmap=mmap)
        assert back.data.tobytes() == dataset.data.tobytes()
        assert back.context.tobytes() == dataset.context.tobytes()
        assert back.context_names == list(COMMAND_CONTEXT_NAMES)
        np.testing.assert_array_equal(back.commands, dataset.commands)
    assert read_native_header(path)["version"] == 3


def test_native_context_damage_is_detected(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # the last byte belongs to the context block
    path.write_bytes(bytes(raw))
    with pytest.raises(RwmuError, match="context checksum"):
        load_dataset(path)
    path.write_bytes(bytes(raw[:-8]))
    with pytest.raises(RwmuError, match="truncated"):
        load_dataset(path)


def test_version_1_files_without_context_still_read(tmp_path):
    ds = make_synthetic_dataset(2, 40, seed=2)
    path = save_dataset(ds, tmp_path / "v2.rwmu")
    # Rewrite as version 1: same layout, a header without the context keys.
    raw = path.read_bytes()
    magic, _, reserved, length = struct.unpack("<8sIIQ", raw[:24])
    header = json.loads(raw[24 : 24 + length])
    for key in ("context_names", "context_offset", "context_crc32"):
        header.pop(key)
    body = json.dumps(header).encode()
    pad = header["data_offset"] - 24 - len(body)
    assert pad >= 0
    old = tmp_path / "v1.rwmu"
    old.write_bytes(
        struct.pack("<8sIIQ", magic, 1, reserved, len(body)) + body + b"\0" * pad + raw[header["data_offset"] :]
    )
    back = load_dataset(old)
    assert back.data.tobytes() == ds.data.tobytes() and back.context is None and back.commands is None


def test_csv_writes_context_beside_the_reference_files(tmp_path, dataset):
    write_csv_dataset(dataset, tmp_path / "csv")
    lines = (tmp_path / "csv" / "context_0.csv").read_text().splitlines()
    assert lines[0] == ",".join(COMMAND_CONTEXT_NAMES) and len(lines) == 1 + dataset.trajectory_lengths[0]
    # The trajectory files themselves keep the reference convention (no extra columns).
    first = (tmp_path / "csv" / "state_action_data_0.csv").read_text().splitlines()[0]
    assert len(first.split(",")) == dataset.dims.num_columns
    back = load_dataset(tmp_path / "csv", dims=dataset.dims)
    np.testing.assert_array_equal(back.context, dataset.context)
    assert back.context_names == list(COMMAND_CONTEXT_NAMES)


def test_csv_context_files_must_be_complete_and_consistent(tmp_path, dataset):
    folder = tmp_path / "csv"
    write_csv_dataset(dataset, folder)
    (folder / "context_1.csv").unlink()
    with pytest.raises(RwmuError, match="context_1.csv: missing"):
        load_dataset(folder, dims=dataset.dims)
    folder = tmp_path / "csv2"
    write_csv_dataset(dataset, folder)
    lines = (folder / "context_2.csv").read_text().splitlines()
    (folder / "context_2.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(RwmuError, match=r"context_2.csv: 49 rows x 3 columns, expected 50 x 3"):
        load_dataset(folder, dims=dataset.dims)
    lines[5] = "nan,0,0"
    (folder / "context_2.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(RwmuError, match="not finite"):
        load_dataset(folder, dims=dataset.dims)


def test_context_must_match_the_rows_and_names(dataset):
    with pytest.raises(RwmuError, match="context array"):
        TrajectoryDataset(
            dataset.data, dataset.dims, dataset.trajectory_offsets, dataset.meta, context=dataset.context[:-1]
        )
    with pytest.raises(RwmuError, match="context names"):
        TrajectoryDataset(
            dataset.data,
            dataset.dims,
            dataset.trajectory_offsets,
            {**dataset.meta, "context_names": ["a"]},
            context=dataset.context,
        )
    with pytest.raises(RwmuError, match="no context column 'heading'"):
        dataset.context_column("heading")


def test_concatenate_keeps_rows_trajectories_and_context_together(dataset):
    other = with_commands(make_synthetic_dataset(2, 30, seed=5), seed=3)
    both = concatenate_datasets([dataset, other])
    assert both.num_rows == dataset.num_rows + other.num_rows
    assert both.num_trajectories == dataset.num_trajectories + other.num_trajectories
    np.testing.assert_array_equal(both.trajectory(3), other.trajectory(0))
    np.testing.assert_array_equal(both.context[dataset.num_rows :], other.context)
    bare = make_synthetic_dataset(2, 30, seed=5)
    with pytest.raises(RwmuError, match="context columns"):
        concatenate_datasets([dataset, bare])


def test_speed_coverage_reads_the_base_velocity_and_the_commands():
    names = ["state/base_lin_vel_x", "state/base_lin_vel_y", "state/base_ang_vel_z"]
    rows = 8
    data = np.zeros((rows, 3 + 1 + 1), dtype=np.float32)
    data[:, 0] = [0.1, 0.1, 0.3, 0.3, 0.6, 0.6, 0.9, 1.2]  # vx; vy 0 -> speed = vx
    data[:, 2] = -0.4  # |w_z| = 0.4 everywhere
    dims = DataDims(state=3, action=1, extension=0, contact=0, termination=1)
    meta = {"column_names": names + ["action/0", "termination"], "context_names": list(COMMAND_CONTEXT_NAMES)}
    commands = np.zeros((rows, 3), dtype=np.float32)
    commands[:, 0] = 0.5
    ds = TrajectoryDataset(data, dims, [0, rows], meta, context=commands)
    cov = speed_coverage(ds)
    assert cov["measured"]["speed_xy"]["share"] == {
        "0-0.25": 0.25,
        "0.25-0.5": 0.25,
        "0.5-0.75": 0.25,
        "0.75-1": 0.125,
        ">=1": 0.125,
    }
    assert cov["measured"]["yaw_rate"]["share"]["0.25-0.5"] == 1.0
    assert cov["commanded"]["speed_xy"]["share"]["0.5-0.75"] == 1.0
    assert cov["tracking_error"]["lin_vel_xy"] == pytest.approx(np.abs(data[:, 0] - 0.5).mean(), rel=1e-6)
    assert cov["tracking_error"]["yaw_rate"] == pytest.approx(0.4, rel=1e-6)
    assert speed_coverage(make_synthetic_dataset(1, 10)) is None  # no base-velocity columns
