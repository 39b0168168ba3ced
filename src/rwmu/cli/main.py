"""The ``rwmu`` command: one subcommand per job.

Every subcommand module exposes ``register(subparsers)``, which adds its parser and sets ``func`` to the function
that runs it. User errors (:class:`rwmu.errors.RwmuError`) end as one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules under rwmu.cli, in the order ``rwmu --help`` lists them.
SUBCOMMAND_MODULES = (
    "data",
    "model",
    "train_model",
    "train_policy", "export", "play_imagination",
    "collect", "evaluate",
    "eval_uncertainty",
    "demo", "sweep",
)


def build_parser() -> argparse.ArgumentParser:
    from rwmu import __version__

    parser = argparse.ArgumentParser(
        prog="rwmu",
        description="Offline model-based RL for legged robots: world models, MOPO-PPO, MuJoCo evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"rwmu {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"rwmu.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from rwmu.errors import RwmuError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except RwmuError as err:
        print(f"rwmu {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"rwmu {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that closed early (e.g. | head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
