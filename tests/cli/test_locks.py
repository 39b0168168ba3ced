"""Every run folder is locked: a second command into the same --out is refused at once with the holder's pid."""

from __future__ import annotations

import os

import pytest

from rwmu.cli.main import main
from tests.utils.test_io import hold_lock

RUNS = {
    "train-model": ["train-model", "--data", "missing", "--task", "anymal_d_flat"],
    "train-policy": ["train-policy", "--task", "anymal_d_flat", "--world-model", "missing.pt", "--data", "missing"],
    "train-online": ["train-online"],
    "train-baseline": ["train-baseline", "--task", "go2_flat", "--data", "missing"],
    "collect": ["collect", "--steps", "100000"],
    "demo": ["demo"],
}


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("locked") / "run"
    proc = hold_lock(folder, "rwmu train-model")
    yield folder, proc.pid
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("name", RUNS)
def test_a_second_run_into_a_locked_folder_is_refused_at_once(locked, capsys, name):
    folder, pid = locked
    assert main(RUNS[name] + ["--out", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"rwmu {name}: error: {folder}: rwmu train-model (pid {pid}) is working in this folder; wait for "
        f"it to finish or stop it, then re-run (finished work is kept)"
    )
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]


def test_a_run_cleans_the_temp_files_a_killed_run_left(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = run / "checkpoints" / ".model_10.pt.x8y7.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert main(RUNS["train-model"] + ["--out", str(run)]) == 2  # refused later: the data is missing
    assert "missing: no such file or folder" in capsys.readouterr().err
    assert not stale.exists()


@pytest.mark.parametrize("name", ["train-model", "train-policy"])
def test_the_lock_a_killed_run_left_is_taken_over(tmp_path, capsys, name):
    run = tmp_path / "run"
    proc = hold_lock(run, f"rwmu {name}")
    proc.kill()
    proc.wait()
    assert (run / ".lock").read_text() == f"rwmu {name} (pid {proc.pid})"  # the dead run's lock file is still there
    assert main(RUNS[name] + ["--out", str(run)]) == 2  # refused later: the inputs are missing, not the folder locked
    err = capsys.readouterr().err
    assert "missing" in err and "no such file" in err and "is working in this folder" not in err, err
    assert (run / ".lock").read_text() == f"rwmu {name} (pid {os.getpid()})"
