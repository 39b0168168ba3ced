"""The native .rwmu format: bit-exact round trip, metadata, and clear errors on damaged files."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from rwmu.data.csv_format import write_csv_dataset
from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.layout import DataDims
from rwmu.data.loading import load_dataset
from rwmu.data.native_format import read_native_header, save_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError


@pytest.fixture()
def dataset() -> TrajectoryDataset:
    return make_synthetic_dataset(3, 120, seed=4)


def test_round_trip_is_bit_exact(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    back = load_dataset(path)
    assert back.data.dtype == np.float32
    assert back.data.tobytes() == dataset.data.tobytes()
    np.testing.assert_array_equal(back.trajectory_offsets, dataset.trajectory_offsets)
    assert back.dims == dataset.dims
    assert back.meta["column_names"] == dataset.meta["column_names"]
    assert back.meta["dt"] == dataset.meta["dt"]
    assert back.meta["provenance"]["seed"] == 4
    assert "rwmu_version" in back.meta["provenance"]
    mapped = load_dataset(path, mmap=True)
    assert mapped.data.tobytes() == dataset.data.tobytes()
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_data_is_aligned_and_readable_with_fromfile(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    header = read_native_header(path)
    assert header["data_offset"] % 64 == 0
    raw = np.fromfile(path, dtype="<f4", offset=header["data_offset"]).reshape(dataset.data.shape)
    np.testing.assert_array_equal(raw, dataset.data)


def test_csv_to_native_to_csv_round_trip(tmp_path, dataset):
    write_csv_dataset(dataset, tmp_path / "csv")
    from_csv = load_dataset(tmp_path / "csv", dims=dataset.dims)
    assert from_csv.data.tobytes() == dataset.data.tobytes()  # %.9g text keeps float32 exact
    save_dataset(from_csv, tmp_path / "d.rwmu")
    native = load_dataset(tmp_path / "d.rwmu")
    assert native.data.tobytes() == dataset.data.tobytes()
    assert native.meta["provenance"]["source_files"][0].endswith("state_action_data_0.csv")


def test_truncated_file_is_refused(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    blob = path.read_bytes()
    path.write_bytes(blob[:-10])
    with pytest.raises(RwmuError, match="truncated"):
        load_dataset(path)
    path.write_bytes(blob[:20])
    with pytest.raises(RwmuError, match="truncated"):
        load_dataset(path)
    path.write_bytes(blob + b"x")
    with pytest.raises(RwmuError, match="trailing bytes"):
        load_dataset(path)


def test_corrupt_files_are_refused(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    blob = bytearray(path.read_bytes())
    flipped = bytearray(blob)
    flipped[-3] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(RwmuError, match="checksum"):
        load_dataset(path)
    bad_magic = bytearray(blob)
    bad_magic[:8] = b"NOTMAGIC"
    path.write_bytes(bytes(bad_magic))
    with pytest.raises(RwmuError, match="bad magic"):
        load_dataset(path)
    bad_json = bytearray(blob)
    bad_json[24] = ord("#")
    path.write_bytes(bytes(bad_json))
    with pytest.raises(RwmuError, match="corrupt native dataset header"):
        load_dataset(path)
    future = bytearray(blob)
    future[8:12] = struct.pack("<I", 99)
    path.write_bytes(bytes(future))
    with pytest.raises(RwmuError, match="version 99"):
        load_dataset(path)


def test_task_or_dims_must_match_header(tmp_path, dataset):
    from rwmu.tasks import get_task

    path = save_dataset(dataset, tmp_path / "d.rwmu")
    with pytest.raises(RwmuError, match="task anymal_d_flat needs"):
        load_dataset(path, task=get_task("anymal_d_flat"))
    with pytest.raises(RwmuError, match="--dims give"):
        load_dataset(path, dims=DataDims(5, 2, 0, 3, 1))
    assert load_dataset(path, dims=dataset.dims).num_rows == dataset.num_rows


def test_min_rows_applies_to_native(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    with pytest.raises(RwmuError, match="trajectory 0 has 120 rows"):
        load_dataset(path, min_rows=121)


def test_save_refuses_invalid_values(tmp_path, dataset):
    data = dataset.data.copy()
    data[5, dataset.dims.contact_slice.start] = 0.3
    bad = TrajectoryDataset(data, dataset.dims, dataset.trajectory_offsets, dataset.meta)
    with pytest.raises(RwmuError, match="row 6, column 9: contact value"):
        save_dataset(bad, tmp_path / "bad.rwmu")
    assert not (tmp_path / "bad.rwmu").exists()


def test_header_is_json_with_metadata(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    header = read_native_header(path)
    assert header["dims"] == dataset.dims.as_dict()
    assert header["num_rows"] == dataset.num_rows
    assert header["trajectory_offsets"] == dataset.trajectory_offsets.tolist()
    json.dumps({k: v for k, v in header.items() if not k.startswith("_")})


def _rewrite_header(path, edit, version: int, checksum: bool) -> None:
    """Rewrite ``path``'s JSON header through ``edit`` (same length budget), as format ``version``."""
    raw = path.read_bytes()
    magic, _, _, length = struct.unpack("<8sIIQ", raw[:24])
    header = json.loads(raw[24 : 24 + length])
    edit(header)
    body = json.dumps(header, separators=(",", ":")).encode()
    pad = header["data_offset"] - 24 - len(body)
    assert pad >= 0
    crc = zlib.crc32(body) if checksum else 0
    path.write_bytes(
        struct.pack("<8sIIQ", magic, version, crc, len(body)) + body + b"\0" * pad + raw[header["data_offset"] :]
    )


def test_a_flipped_header_bit_is_caught_and_version_2_files_still_read(tmp_path, dataset):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    blob = path.read_bytes()
    _, version, crc, length = struct.unpack("<8sIIQ", blob[:24])
    assert version == 3 and crc == zlib.crc32(blob[24 : 24 + length])
    first_offset = blob.index(b'"trajectory_offsets":[0,') + len(b'"trajectory_offsets":[0,')
    flipped = bytearray(blob)
    flipped[first_offset] ^= 0x01  # one digit of a trajectory boundary: still valid JSON, still consistent sizes
    path.write_bytes(bytes(flipped))
    with pytest.raises(RwmuError, match="header .checksum mismatch."):
        load_dataset(path)
    path.write_bytes(blob)
    _rewrite_header(path, lambda h: None, version=2, checksum=False)  # a version-2 file: no header checksum
    assert load_dataset(path).data.tobytes() == dataset.data.tobytes()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h.update(trajectory_offsets=[float(o) for o in h["trajectory_offsets"]]), "not whole numbers"),
        (lambda h: h.update(column_names="abc"), "column_names are not a list of names"),
        (lambda h: h.update(dt=-0.02), "not a control period"),
        (lambda h: h.update(num_rows=0), "holds no rows"),
    ],
)
def test_header_fields_of_the_wrong_type_or_range_are_refused(tmp_path, dataset, edit, message):
    path = save_dataset(dataset, tmp_path / "d.rwmu")
    _rewrite_header(path, edit, version=3, checksum=True)  # a consistent checksum: the field checks catch it
    with pytest.raises(RwmuError, match=message):
        load_dataset(path)


def test_a_dt_other_than_the_tasks_is_refused(tmp_path):
    from rwmu.tasks import get_task

    task = get_task("anymal_d_flat")
    ds = make_synthetic_dataset(2, 40, seed=2, task=task)
    path = save_dataset(ds, tmp_path / "d.rwmu")
    _rewrite_header(path, lambda h: h.update(dt=0.5), version=3, checksum=True)
    with pytest.raises(RwmuError, match="recorded at dt = 0.5 s, but task anymal_d_flat steps at"):
        load_dataset(path, task=task)
