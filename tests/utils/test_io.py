"""Run-folder locks and the clean-up of temporary files that killed atomic writes leave behind."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch

import rwmu
from rwmu.errors import RwmuError, os_error_message
from rwmu.utils import io
from rwmu.utils.io import atomic_path, data_sha256, folder_lock, remove_stale_temp_files, run_metadata

HOLD_LOCK = """
import sys, time
from rwmu.utils.io import folder_lock
with folder_lock(sys.argv[1], sys.argv[2]):
    print("locked", flush=True)
    time.sleep(120)
"""


def hold_lock(folder: Path, what: str = "rwmu train-model") -> subprocess.Popen:
    """A separate process holding ``folder``'s lock until killed (started and locked when this returns)."""
    env = {**os.environ, "PYTHONPATH": str(Path(rwmu.__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder), what], stdout=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture()
def holder(tmp_path):
    proc = hold_lock(tmp_path / "run")
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_held_folder_is_refused_with_the_holders_pid(tmp_path, holder):
    with pytest.raises(RwmuError, match=f"rwmu train-model \\(pid {holder.pid}\\) is working in this folder"):
        with folder_lock(tmp_path / "run", "rwmu train-model"):
            pass


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_lock_of_a_dead_process_is_taken_over(tmp_path, holder, sig):
    holder.send_signal(sig)
    holder.wait()
    with folder_lock(tmp_path / "run", "rwmu collect"):
        assert (tmp_path / "run" / ".lock").read_text() == f"rwmu collect (pid {os.getpid()})"


def test_stale_temp_files_are_removed_but_not_those_of_a_nested_run(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "nested").mkdir()
    (run / "nested" / ".lock").write_text("")
    stale = [run / ".model_latest.pt.k2j3.tmp", run / "checkpoints" / ".model_10.pt.a1b2.tmp"]
    kept = [run / "model_latest.pt", run / "nested" / ".model_1.pt.zz.tmp", run / "notes.tmp"]
    for path in stale + kept:
        path.write_text("x")
    with folder_lock(run, "rwmu train-model"):
        assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert remove_stale_temp_files(run / "nested") == [run / "nested" / ".model_1.pt.zz.tmp"]


def test_an_atomic_write_that_fails_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "model.pt") as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_a_folder_created_for_a_refused_run_is_removed_again(tmp_path):
    with pytest.raises(RwmuError), folder_lock(tmp_path / "new", "rwmu collect"):
        raise RwmuError("refused before writing anything")
    assert not (tmp_path / "new").exists()
    with folder_lock(tmp_path / "used", "rwmu collect"):
        (tmp_path / "used" / "config.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == [".lock", "config.json"]
    (tmp_path / "existing").mkdir()
    with folder_lock(tmp_path / "existing", "rwmu collect"):
        pass
    assert (tmp_path / "existing").is_dir()  # a folder the user made stays


def test_a_full_disk_during_a_checkpoint_save_is_an_os_error_naming_the_file(tmp_path, monkeypatch):
    """torch reports a failed write as a RuntimeError from its zip writer; it reaches the user as a full disk."""

    def failing_save(obj, path):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 4480 vs 4368")

    monkeypatch.setattr(torch, "save", failing_save)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 0))
    target = tmp_path / "model_5.pt"
    with pytest.raises(OSError) as err:
        io.torch_save_atomic({"x": 1}, target)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert os_error_message(err.value).startswith(f"{target}: No space left on device; free some space")
    assert not target.exists() and list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_run_metadata_records_where_a_run_came_from(tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"rows")
    meta = run_metadata(data=data, device="cpu")
    assert meta["data_sha256"] == hashlib.sha256(b"rows").hexdigest() and meta["device"] == "cpu"
    for name in ("rwmu_version", "torch", "rsl_rl", "mujoco", "numpy", "python", "command"):
        assert meta[name], name
    assert meta["ray_address"] is None
    git = meta["git"]  # a source checkout records its commit; an installed wheel records none
    assert git is None or (len(git["commit"]) == 40 and git["dirty"] in (True, False))
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "0.csv").write_text("a")
    first = data_sha256(folder)
    (folder / "0.csv").write_text("b")
    assert data_sha256(folder) != first and data_sha256([data, None]) == [meta["data_sha256"], None]
