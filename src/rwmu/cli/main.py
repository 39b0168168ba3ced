"""The ``rwmu`` command: one subcommand per job, each with one typed config tree parsed by tyro.

Every subcommand has its one-line summary in :data:`COMMANDS` and two modules. Its declaration
``rwmu.cli.commands.<name>`` defines ``Command`` (a frozen dataclass; a group such as ``rwmu data`` has
``SUBCOMMANDS``, name -> dataclass, instead) and, where a recipe, preset or resumed run changes the defaults,
``defaults(argv) -> Command | None``; it imports no torch, so that ``rwmu COMMAND --help`` is quick. Its runner
``rwmu.cli.<name>``, imported only to run the command, defines ``run(command) -> int`` and, where a run can be
continued, ``interrupted(command) -> str`` (what was saved and how to continue, printed after Ctrl-C with exit code
130).
Flags given on the command line always win over those defaults.
User errors (:class:`rwmu.errors.RwmuError`) and operating-system errors (an output that cannot be written, a full
disk) end as one line on stderr and exit code 2, without a traceback. SIGTERM ends a command as Ctrl-C does (its
worker processes closed, its folder lock released, no half-written file), with exit code 143.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import signal
import sys
from types import ModuleType

import tyro

from rwmu.cli.tyro_errors import one_line
from rwmu.errors import RwmuError, os_error_message
from rwmu.version import __version__

COMMANDS: dict[str, str] = {  # subcommand -> its one-line summary; its modules are imported only when it is named
    "data": "convert, inspect, validate and generate trajectory datasets (rwmu data info|validate|convert|example)",
    "model": "inspect world-model checkpoints (rwmu model info PATH)",
    "train-model": "train a world model (ensemble with epistemic uncertainty) on a dataset",
    "eval-uncertainty": "does the world model's uncertainty track its rollout error? (held-out data)",
    "check-model": "does imagination hold on a policy's own states? (world model replayed on MuJoCo rollouts)",
    "signals": "which uncertainty signal sees a policy's failures? (fall AUROC, error correlation, level; MuJoCo)",
    "train-policy": "train a policy with MOPO-PPO in the world model (uncertainty-penalised imagination)",
    "play-imagination": "roll a policy in the world model and print per-term imagined returns",
    "train-online": "train a policy with PPO online in the MuJoCo Go2 simulator (an expert, data source, upper bound)",
    "train-baseline": "train a model-free offline RL baseline (BC, TD3+BC, IQL, CQL from d3rlpy) on a dataset",
    "export": "export a trained policy's actor to TorchScript and ONNX for deployment",
    "collect": "record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator",
    "evaluate": "score a policy in the MuJoCo Go2 simulator (true, unpenalised reward)",
    "sim2sim": "run a Unitree export (deploy.yaml + policy.onnx) in an independent MuJoCo loop and score it",
    "demo": "end-to-end demo: Go2 data, world model, uncertainty check, MOPO-PPO at lambda 1 and 0, MuJoCo scores",
    "sweep": "MOPO-PPO over a grid of lambda and seeds; true (MuJoCo) return against lambda",
    "recipes": "list the named recipes --recipe takes, with their published results",
    "experiment": "run a declared experiment file: datasets x recipes x lambda x seeds, scored in MuJoCo, tables, ONNX",
    "manifest": "check the manifest of published policies, or re-score its policies in MuJoCo",
}


def declaration_module(name: str) -> ModuleType:
    """The flags of subcommand ``name``: ``rwmu.cli.commands.<name with _>`` (imported now; ``rwmu --help`` imports
    none of them)."""
    return importlib.import_module(f"rwmu.cli.commands.{name.replace('-', '_')}")


def runner_module(name: str) -> ModuleType:
    """The runner of subcommand ``name``: ``rwmu.cli.<name with _>`` (imported now, with torch)."""
    return importlib.import_module(f"rwmu.cli.{name.replace('-', '_')}")


def listing(entries: dict[str, str]) -> str:
    width = max(map(len, entries))
    return "\n".join(f"  {name:<{width}}  {text}" for name, text in entries.items())


def usage() -> str:
    return "\n".join(
        [
            "usage: rwmu [--version] COMMAND [--help] [FLAGS]",
            "",
            "Offline model-based RL for legged robots: world models, MOPO-PPO in imagination, MuJoCo evaluation.",
            "",
            "commands:",
            listing(COMMANDS),
            "",
            "`rwmu COMMAND --help` lists every flag of a command with its default.",
        ]
    )


def parse(name: str, argv: list[str]):
    """The command config of subcommand ``name`` from its flags ``argv`` (tyro exits with code 2 on a bad flag)."""
    module = declaration_module(name)
    if hasattr(module, "SUBCOMMANDS"):  # a group: rwmu data info ...
        if not argv or argv[0] not in module.SUBCOMMANDS:
            choices = ", ".join(module.SUBCOMMANDS)
            if not argv or argv[0] not in ("-h", "--help"):
                raise RwmuError(f"give one of {choices} (rwmu {name} ACTION [FLAGS]); see rwmu {name} --help")
            print(
                f"usage: rwmu {name} {{{choices}}} [--help] [FLAGS]\n\n{COMMANDS[name]}\n\n"
                + listing({sub: (cls.__doc__ or "").strip().splitlines()[0] for sub, cls in module.SUBCOMMANDS.items()})
            )
            raise SystemExit(0)
        cls, prog, argv = module.SUBCOMMANDS[argv[0]], f"rwmu {name} {argv[0]}", argv[1:]
    else:
        cls, prog = module.Command, f"rwmu {name}"
    defaults = module.defaults(argv) if hasattr(module, "defaults") else None
    return tyro.cli(
        cls, args=argv, prog=prog, description=cls.__doc__ if cls.__doc__ else module.__doc__, default=defaults
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the command unwinds as after Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def terminate_as_interrupt():
    """While the block runs, SIGTERM raises :class:`Terminated` (cleanup runs) instead of ending the process at once."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interruption_note(module: ModuleType, command: object) -> str:
    """``; what was saved and how to continue`` for a command whose module says so (``interrupted(command)``)."""
    if command is None or not hasattr(module, "interrupted"):
        return ""
    return f"; {module.interrupted(command)}"


def main(argv: list[str] | None = None) -> int:
    try:
        return run_command(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # output piped into a reader that closed early (e.g. | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def run_command(argv: list[str]) -> int:
    """Parse ``argv`` (without the program name), run the command, and turn user errors into one line and code 2."""
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"rwmu {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"rwmu: error: unknown command {name!r}; run `rwmu --help` for the list", file=sys.stderr)
        return 2
    command = None
    try:
        captured = io.StringIO()
        try:
            with contextlib.redirect_stderr(captured):
                command = parse(name, argv[1:])
        except SystemExit as exit_:  # --help (printed), or a flag tyro refused: say why in one line
            if exit_.code:
                print(f"rwmu {name}: error: {one_line(captured.getvalue())}; see --help", file=sys.stderr)
            return int(exit_.code or 0)
        # torch's threads: the CPUs this process may use, unless OMP_NUM_THREADS says; imported by name, as the
        # subcommands are, so that `rwmu --help` imports no torch (docs/architecture.md, Layers)
        importlib.import_module("rwmu.utils.threads").configure_threads()
        with terminate_as_interrupt():
            return int(runner_module(name).run(command) or 0)
    except RwmuError as err:
        print(f"rwmu {name}: error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        raise
    except OSError as err:  # an output that could not be written after all (permissions, disk full, ...)
        print(f"rwmu {name}: error: {os_error_message(err)}", file=sys.stderr)
        return RwmuError.exit_code
    except Terminated:
        print(f"rwmu {name}: terminated (SIGTERM){interruption_note(runner_module(name), command)}", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"rwmu {name}: interrupted{interruption_note(runner_module(name), command)}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
