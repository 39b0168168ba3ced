"""The ``rwmu`` entry point: usage, unknown commands, and tyro's parse errors as one line with exit code 2."""

from __future__ import annotations

import pytest

from rwmu.cli.main import COMMANDS, main


def test_usage_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in COMMANDS)
    assert main([]) == 2 and "usage: rwmu" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["train-model", "--data", "x", "--out", "y", "--optim.iterations", "abc"], "--optim.iterations"),
    (["train-model", "--data", "x"], "--out"),
    (["evaluate", "--policy", "scripted", "--bogus", "1"], "--bogus"),
    (["data"], "give one of info, validate, convert, example"),
])  # fmt: skip
def test_user_errors_are_one_line_with_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err and "╭" not in err


def test_every_command_has_help(capsys):
    for name, module in COMMANDS.items():
        argv = [name, next(iter(module.SUBCOMMANDS)), "--help"] if hasattr(module, "SUBCOMMANDS") else [name, "--help"]
        assert main(argv) == 0, name
        assert "usage: rwmu " + name in capsys.readouterr().out
