"""The ``rwmu`` entry point: usage, unknown commands, and tyro's parse errors as one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rwmu.cli.main import COMMANDS, declaration_module, main, runner_module


def test_usage_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in COMMANDS)
    assert main([]) == 2 and "usage: rwmu" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["train-model", "--data", "x", "--out", "y", "--optim.iterations", "abc"], "--optim.iterations"),
        (["train-model", "--data", "x"], "--out"),
        (["evaluate", "--policy", "scripted", "--bogus", "1"], "--bogus"),
        (["data"], "give one of info, validate, convert, example"),
        (["train-model", "--data", "x", "--out", "y", "--device", "foo"], "--device foo: not a torch device"),
        (["collect", "--out", "y", "--action-noise", "nan"], "--action-noise must be a finite std >= 0, got nan"),
        (["collect", "--out", "y", "--randomization.friction", "1.2", "0.5"], "give a finite range, low <= high"),
        (["collect", "--out", "y", "--randomization.added-base-mass", "-9", "0"], "the trunk weighs 6.921 kg"),
        (["collect", "--out", "y", "--randomization.motor-strength", "-1", "1"], "must be > 0"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err and "╭" not in err


def test_every_command_has_help(capsys):
    for name in COMMANDS:
        module = declaration_module(name)
        argv = [name, next(iter(module.SUBCOMMANDS)), "--help"] if hasattr(module, "SUBCOMMANDS") else [name, "--help"]
        assert main(argv) == 0, name
        assert "usage: rwmu " + name in capsys.readouterr().out


def _interrupt(command):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "name, argv",
    [
        ("train-model", ["--data", "d", "--task", "anymal_d_flat"]),
        ("train-policy", ["--task", "anymal_d_flat", "--world-model", "wm.pt", "--data", "d"]),
        ("train-online", []),
    ],
)
def test_ctrl_c_says_what_was_saved_and_how_to_continue(tmp_path, monkeypatch, capsys, name, argv):
    out = tmp_path / "run"
    monkeypatch.setattr(runner_module(name), "run", _interrupt)
    assert main([name, *argv, "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip() == (
        f"rwmu {name}: interrupted; no checkpoint was saved yet in {out}; start again with the same command"
    )
    out.mkdir()
    saved = out / ("model_latest.pt" if name == "train-model" else "model_7.pt")
    saved.write_bytes(b"")
    (out / "model_3.pt").write_bytes(b"")
    assert main([name, *argv, "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip() == (
        f"rwmu {name}: interrupted; saved {saved}; continue with: rwmu {name} --out {out} --resume"
    )


def test_ctrl_c_in_other_commands_is_one_line_and_130(monkeypatch, capsys):
    monkeypatch.setattr(runner_module("evaluate"), "run", _interrupt)
    assert main(["evaluate", "--policy", "zero"]) == 130
    assert capsys.readouterr().err.strip() == "rwmu evaluate: interrupted"


def test_ctrl_c_in_collect_says_which_chunks_were_kept_and_how_to_continue(tmp_path, monkeypatch, capsys):
    out = tmp_path / "data"
    monkeypatch.setattr(runner_module("collect"), "run", _interrupt)
    argv = ["collect", "--out", str(out), "--chunk-rows", "100"]
    assert main(argv) == 130
    assert capsys.readouterr().err.strip() == (
        f"rwmu collect: interrupted; no chunk of 100 rows was completed yet in {out}; start again with the same command"
    )
    (out / ".collect").mkdir(parents=True)
    for k in range(2):
        (out / ".collect" / f"chunk_{k}.rwmu").write_bytes(b"")
        (out / ".collect" / f"chunk_{k}.pt").write_bytes(b"")
        assert main(argv) == 130
        assert capsys.readouterr().err.strip() == (
            f"rwmu collect: interrupted; kept {k + 1} completed "
            f"{'chunk' if k == 0 else 'chunks'} of 100 rows in {out}/.collect; "
            f"continue with: rwmu collect --out {out} --resume"
        )


def test_help_imports_no_subcommand_nor_torch():
    """``rwmu --help`` and ``--version`` start fast: the subcommands (and torch, rsl_rl) are imported only to run."""
    code = (
        "import sys; from rwmu.cli.main import main; main(['--help']); "
        "print(sorted(m for m in ('torch', 'rsl_rl', 'rwmu.cli.train_policy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_every_command_help_imports_no_torch():
    """``rwmu COMMAND --help`` (and the help of each action of a group) reads only the torch-free declarations in
    ``rwmu.cli.commands``: no torch, rsl_rl, MuJoCo nor runner module is imported."""
    code = """
import sys
from rwmu.cli.main import COMMANDS, declaration_module, main
for name in COMMANDS:
    module = declaration_module(name)
    actions = [[action] for action in module.SUBCOMMANDS] if hasattr(module, "SUBCOMMANDS") else [[]]
    for action in actions:
        try:
            main([name, *action, "--help"])
        except SystemExit:
            pass
heavy = ("torch", "rsl_rl", "mujoco", "tensordict", "scipy", "d3rlpy", "ray")
runners = [f"rwmu.cli.{name.replace('-', '_')}" for name in COMMANDS]
print(sorted(m for m in (*heavy, *runners) if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
