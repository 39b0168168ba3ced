"""World-model checkpoints: ours, and reference-format files such as ``pretrain_rnn_ens.pt``.

Our checkpoint is a torch file (a dict) with the reference's key ``system_dynamics_state_dict`` for the weights,
plus ``format``, ``config`` (the architecture), ``normalization``, ``uncertainty_reference`` (quantiles of the
epistemic uncertainty on held-out data, :mod:`rwmu.models.calibration`), ``iter``, ``task``, ``data`` and ``train``
(what it was trained on and how), and the optimizer state under ``system_dynamics_optimizer_state_dict`` for resuming.
A reference file carries only the weights; the architecture is read back from the tensor shapes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from rwmu.data.normalization import Normalization
from rwmu.errors import RwmuError
from rwmu.models.config import REDUCTIONS, WorldModelConfig
from rwmu.models.ensemble import WorldModelEnsemble
from rwmu.utils.checkpoints import read_torch_checkpoint
from rwmu.utils.io import torch_save_atomic
from rwmu.version import __version__

FORMAT = "rwmu.world_model"
FORMAT_VERSION = 1
WEIGHTS_KEY = "system_dynamics_state_dict"
OPTIMIZER_KEY = "system_dynamics_optimizer_state_dict"
POLICY_KEY = "model_state_dict"
DEFAULT_HISTORY = 32  # reference config; a recurrent base does not record M in its shapes


def save_world_model(
    path: str | os.PathLike,
    model: WorldModelEnsemble,
    *,
    iteration: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` (with its normalisation and ``extra`` metadata) to ``path`` atomically."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rwmu_version": __version__,
        "config": model.config.to_dict(),
        WEIGHTS_KEY: model.state_dict(),
        "iter": int(iteration),
        "normalization": model.normalization.to_dict() if model.normalization is not None else None,
        "uncertainty_reference": model.uncertainty_reference,
    }
    if optimizer is not None:
        payload[OPTIMIZER_KEY] = optimizer.state_dict()
    payload.update(extra or {})
    torch_save_atomic(payload, path)


def read_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a world-model checkpoint file as a dict (:func:`rwmu.utils.checkpoints.read_torch_checkpoint`)."""
    return read_torch_checkpoint(path, "a world-model checkpoint (.pt)", map_location=device)


def _weights_of(ckpt: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    if WEIGHTS_KEY in ckpt:
        return ckpt[WEIGHTS_KEY]
    if any(k.startswith("state_base.") for k in ckpt):  # a bare world-model state dict
        return ckpt
    if POLICY_KEY in ckpt or any(k.startswith(("actor", "critic")) for k in ckpt):
        raise RwmuError(
            f"{path}: holds a policy (key '{POLICY_KEY}' with actor/critic weights), not a world model; "
            f"a world model lives under key '{WEIGHTS_KEY}' (pass the world-model checkpoint instead)"
        )
    keys = ", ".join(sorted(map(str, ckpt))[:6])
    raise RwmuError(f"{path}: no world model in this checkpoint (keys: {keys}); expected key '{WEIGHTS_KEY}'")


def _mlp_shape(sd: dict[str, torch.Tensor], prefix: str) -> tuple[tuple[int, ...], int, int]:
    """(hidden widths, input dim, output dim) of a reference Sequential at ``prefix`` (Linear at even indices)."""
    idx = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(re.escape(prefix) + r"\.(\d+)\.weight", k)))
    if not idx:
        raise KeyError(prefix)
    shapes = [tuple(sd[f"{prefix}.{i}.weight"].shape) for i in idx]
    return tuple(s[0] for s in shapes[:-1]), shapes[0][1], shapes[-1][0]


def infer_config(
    sd: dict[str, torch.Tensor], history_horizon: int | None = None, action_dim: int | None = None
) -> WorldModelConfig:
    """Read the architecture back from reference parameter names and shapes (docs/method.md section 4).

    A recurrent base does not record M (``history_horizon`` defaults to 32, the reference's); an MLP base records
    M * (S + A), so either ``history_horizon`` or ``action_dim`` settles the split (M = 32 is tried otherwise).
    """
    members = sorted({int(m.group(1)) for k in sd if (m := re.match(r"state_heads\.(\d+)\.", k))})
    if not members or members != list(range(len(members))):
        raise KeyError("state_heads.<b>")
    B = len(members)
    S = sd["state_heads.0.state_min_logstd"].shape[-1]
    mean_shape, base_out, _ = _mlp_shape(sd, "state_heads.0.state_mean_layers")
    logstd_shape, _, _ = _mlp_shape(sd, "state_heads.0.state_logstd_layers")
    aux: dict[str, Any] = {}
    for name in ("extension", "contact", "termination"):
        try:
            shape, _, out = _mlp_shape(sd, f"auxiliary_heads.0.{name}_layers")
            aux[f"{name}_dim"], aux[f"{name}_shape"] = out, shape
        except KeyError:
            aux[f"{name}_dim"], aux[f"{name}_shape"] = 0, (128,)
    if "state_base.memory.rnn.weight_ih_l0" in sd:
        w = sd["state_base.memory.rnn.weight_ih_l0"]
        hidden = sd["state_base.memory.rnn.weight_hh_l0"].shape[1]
        gates = w.shape[0] // hidden
        kind = {3: "gru", 4: "lstm"}.get(gates)
        if kind is None:
            raise KeyError("state_base.memory.rnn gate count")
        layers = len([k for k in sd if re.fullmatch(r"state_base\.memory\.rnn\.weight_ih_l\d+", k)])
        A = w.shape[1] - S
        base = dict(
            base_type=kind,
            rnn_hidden_size=hidden,
            rnn_num_layers=layers,
            history_horizon=history_horizon or DEFAULT_HISTORY,
        )
    else:
        hidden_widths, flat_in, last = _mlp_shape(sd, "state_base.layers")
        base_shape = (*hidden_widths, last)  # every base layer is Linear + ReLU
        if action_dim is not None:
            A = action_dim
            M = flat_in // (S + A)
        else:
            M = history_horizon or DEFAULT_HISTORY
            A = flat_in // M - S
        if M * (S + A) != flat_in or A <= 0:
            raise KeyError(f"state_base.layers.0.weight input {flat_in} is not M*(S+A) for S={S}, M={M}")
        base = dict(base_type="mlp", mlp_base_shape=base_shape, history_horizon=M)
    return WorldModelConfig(
        state_dim=S,
        action_dim=A,
        ensemble_size=B,
        state_mean_shape=mean_shape,
        state_logstd_shape=logstd_shape,
        **aux,
        **base,
    )


def load_world_model(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    *,
    task=None,
    history_horizon: int | None = None,
    return_checkpoint: bool = False,
):
    """Load a ready-to-use world model (eval mode) from an rwmu checkpoint or a reference-format file.

    Args:
        path: a ``.pt`` file with ``system_dynamics_state_dict`` (ours or the reference's) or a bare state dict.
        device: where to put it.
        task: a :class:`rwmu.tasks.Task` whose normalisation is attached when the file carries none (reference files);
            a checkpoint recorded for another task is refused.
        history_horizon: M for files that do not record it (recurrent reference files default to 32).
        return_checkpoint: also return the raw checkpoint dict (metadata, optimizer state).

    Returns:
        :class:`WorldModelEnsemble` (and the checkpoint dict if asked). The architecture comes from the stored config
        or, for reference files, from the tensor shapes; weights load with strict checking.

    Raises:
        RwmuError: missing/unreadable file, a policy-only checkpoint, a model of another task than ``task``, or
            weights that fit no world model.
    """
    p = Path(path)
    ckpt = read_checkpoint(p, device)
    recorded = ckpt.get("task")
    if task is not None and isinstance(recorded, str) and recorded != task.name:
        raise RwmuError(
            f"{p}: a world model trained for task {recorded}, not {task.name}; give --task {recorded}, "
            f"or a world model trained on {task.name} data"
        )
    sd = _weights_of(ckpt, p)
    try:
        if isinstance(ckpt.get("config"), dict):
            config = WorldModelConfig.from_dict(ckpt["config"])
        else:
            config = infer_config(sd, history_horizon=history_horizon)
    except (KeyError, ValueError, IndexError) as err:
        raise RwmuError(
            f"{p}: weights do not describe a world model ({err}); is this an rwmu/RWM-U checkpoint?"
        ) from None
    model = WorldModelEnsemble(config).to(device)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:300]
        raise RwmuError(f"{p}: weights do not match the world-model layout: {detail}") from None
    norm = ckpt.get("normalization")
    if norm:
        model.normalization = Normalization.from_dict(norm).to(device)
    elif task is not None and task.state_mean is not None:
        model.normalization = Normalization.from_task(task).to(device)
    model.uncertainty_reference = ckpt.get("uncertainty_reference")
    model.eval()
    return (model, ckpt) if return_checkpoint else model


def describe_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Summary for ``rwmu model info``: architecture, parameter count, iterations, normalisation, data used."""
    model, ckpt = load_world_model(path, return_checkpoint=True)
    norm = model.normalization.to_dict() if model.normalization is not None else None
    return {
        "path": str(path),
        "format": ckpt.get("format", "reference (system_dynamics_state_dict only)"),
        "rwmu_version": ckpt.get("rwmu_version"),
        "architecture": model.config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "iterations": ckpt.get("iter"),
        "task": ckpt.get("task"),
        "data": ckpt.get("data"),
        "train": ckpt.get("train"),
        "validation": ckpt.get("validation"),
        "normalization": norm,
        "uncertainty_reference": _reference_summary(model.uncertainty_reference),
    }


def _reference_summary(reference: dict | None) -> dict | None:
    """Median, 90 % and 99 % quantiles of a stored uncertainty reference (``rwmu model info``)."""
    if not reference:
        return None
    levels = reference["levels"]
    picks = {f"p{round(100 * q)}": q for q in (0.5, 0.9, 0.99)}
    return {
        "source": reference.get("source"),
        "windows": reference.get("windows"),
        **{r: {name: reference[r][levels.index(q)] for name, q in picks.items()} for r in REDUCTIONS if r in reference},
    }
