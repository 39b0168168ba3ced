"""``rwmu export``: TorchScript and ONNX actor files from a policy checkpoint."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a trained policy's actor to TorchScript and ONNX for deployment",
        description="Write policy.pt (TorchScript), policy.onnx and policy.json (observation/action layout) for the "
        "actor of an rsl_rl checkpoint written by rwmu train-policy. Inputs are raw observations (any observation "
        "normalisation is folded into the network); outputs are the mean actions.",
    )
    p.add_argument("checkpoint", help="policy checkpoint model_<iteration>.pt")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rwmu.training.export import export_policy

    paths = export_policy(args.checkpoint, args.out)
    for kind, path in paths.items():
        print(f"{kind:<12} {path}")
    return 0
