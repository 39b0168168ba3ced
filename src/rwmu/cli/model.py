"""Runs ``rwmu model``; its flags are declared in :mod:`rwmu.cli.commands.model` (imported without torch for ``--help``)."""

from __future__ import annotations

import json

from rwmu.cli.commands.model import Info
from rwmu.models.checkpoint import describe_checkpoint


def run(cmd: Info) -> int:
    d = describe_checkpoint(cmd.path)
    if cmd.json:
        print(json.dumps(d, indent=2, default=str))
        return 0
    a = d["architecture"]
    base = (
        f"{a['base_type'].upper()} {a['rnn_num_layers']}x{a['rnn_hidden_size']}"
        if a["base_type"] != "mlp"
        else f"MLP {a['mlp_base_shape']} over M={a['history_horizon']} steps"
    )
    rows = [
        ("file", d["path"]),
        ("format", d["format"]),
        (
            "dims",
            f"S={a['state_dim']} A={a['action_dim']} E={a['extension_dim']} C={a['contact_dim']} "
            f"T={a['termination_dim']}",
        ),
        ("base", base),
        ("ensemble", f"B={a['ensemble_size']}, heads {a['state_mean_shape']}, reduction {a['reduction']}"),
        ("history", f"M={a['history_horizon']}"),
        ("parameters", f"{d['parameters']:,}"),
        ("iterations", d["iterations"]),
        ("task", d["task"]),
        ("data", json.dumps(d["data"]) if d["data"] else None),
        ("normalisation", "stored" if d["normalization"] else "none (pass the task's when loading)"),
    ]
    if d.get("validation"):
        v = d["validation"]
        rows.append(
            (
                "val rel. error",
                f"{v.get('val/rel_error_forecast_mean', float('nan')):.4f} over the forecast "
                f"(no-change {v.get('val/no_change_rel_error_forecast_mean', float('nan')):.4f})",
            )
        )
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
