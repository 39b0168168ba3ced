"""Outputs that cannot be written are refused in one line, exit 2, before any work starts; an OSError that happens
anyway is one line naming the path."""

from __future__ import annotations

import errno

import pytest

from rwmu.cli import main as cli_main
from rwmu.cli.main import main

UNCREATABLE = "/proc/rwmu-cannot-exist"  # mkdir there fails with ENOENT, even for root


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


def folder_commands(out: str) -> list[list[str]]:
    """Every command writing into an output folder, with inputs that do not exist (the output is checked first)."""
    return [
        ["train-model", "--data", "missing", "--task", "anymal_d_flat", "--out", out],
        ["train-policy", "--task", "anymal_d_flat", "--world-model", "missing.pt", "--data", "missing", "--out", out],
        ["train-online", "--out", out],
        ["train-baseline", "--task", "go2_flat", "--data", "missing", "--out", out],
        ["collect", "--steps", "100000", "--out", out],
        ["demo", "--out", out],
        ["sweep", "--world-model", "missing.pt", "--data", "missing", "--out", out],
        ["export", "missing", "--out", out],
        ["eval-uncertainty", "--world-model", "missing.pt", "--data", "missing", "--out", out],
        ["data", "example", "--out", out],
        ["data", "convert", "missing", out],
    ]


def file_commands(out: str) -> list[list[str]]:
    """Every command writing an output file."""
    return [
        ["evaluate", "--policy", "zero", "--json", out],
        ["check-model", "--world-model", "missing.pt", "--data", "missing", "--policy", "zero", "--json", out],
        ["play-imagination", "--policy", "missing", "--json", out],
        ["data", "example", "--format", "rwmu", "--out", out],
        ["data", "convert", "missing", out],
    ]


def _one_line_refusal(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert all(text in err for text in expected), err
    return err


@pytest.mark.parametrize("index", range(len(folder_commands("x"))))
def test_an_output_folder_that_is_a_file_is_refused_before_any_work(a_file, capsys, index):
    argv = folder_commands(str(a_file))[index]
    _one_line_refusal(capsys, argv, str(a_file), "is a file, not a folder")
    assert a_file.read_text() == "x"


@pytest.mark.parametrize("index", range(len(folder_commands("x"))))
def test_an_output_folder_that_cannot_be_created_is_refused(capsys, index):
    argv = folder_commands(UNCREATABLE + "/out")[index]
    _one_line_refusal(capsys, argv, UNCREATABLE, "cannot write in /proc", "choose another location")


@pytest.mark.parametrize("index", range(len(file_commands("x"))))
def test_an_output_file_under_a_file_or_an_uncreatable_folder_is_refused(a_file, capsys, index):
    _one_line_refusal(capsys, file_commands(str(a_file / "out.rwmu"))[index], "is not a folder")
    _one_line_refusal(capsys, file_commands(UNCREATABLE + ".rwmu")[index], "cannot write in /proc")
    assert sorted(p.name for p in a_file.parent.iterdir()) == ["plain.txt"]


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/data/run/model.pt"),
            "/data/run/model.pt: Permission denied; choose a location you can write to",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device", "/data/run/model.pt"),
            "/data/run/model.pt: No space left on device; free some space or choose another location",
        ),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "/gone/x.json"),
            "/gone/x.json: No such file or directory; check that the path",
        ),
    ],
)
def test_an_os_error_during_a_command_is_one_line_with_the_path(monkeypatch, capsys, error, expected):
    def fail(command):
        raise error

    monkeypatch.setattr(cli_main.runner_module("export"), "run", fail)
    err = _one_line_refusal(capsys, ["export", "missing", "--out", "x"], expected)
    assert err.startswith("rwmu export: error: ")


def test_a_broken_pipe_is_not_reported_as_an_error(monkeypatch, capsys):
    def fail(command):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(cli_main.runner_module("export"), "run", fail)
    with pytest.raises(BrokenPipeError):
        cli_main.run_command(["export", "missing", "--out", "x"])
