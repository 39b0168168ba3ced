"""Outputs that cannot be written are refused in one line, exit 2, before any work starts."""

from __future__ import annotations

import pytest

from rwmu.cli.main import main


@pytest.fixture()
def a_file(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("x")
    return path


def test_evaluate_refuses_a_json_it_cannot_write_before_the_episodes(tmp_path, a_file, capsys):
    assert main(["evaluate", "--policy", "zero", "--episodes", "64", "--json", str(tmp_path)]) == 2
    assert main(["evaluate", "--policy", "zero", "--json", str(a_file / "out.json")]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert "--json" in err and "is a folder" in err and "is not a folder" in err and "Traceback" not in err
    assert "episodes" not in captured.out  # refused before any episode ran
    assert not (tmp_path / "out.json").exists()


def test_collect_refuses_an_out_folder_it_cannot_create(a_file, capsys):
    assert main(["collect", "--steps", "100000", "--out", str(a_file / "data")]) == 2
    assert "--out" in capsys.readouterr().err
    assert not (a_file.parent / "data").exists()
