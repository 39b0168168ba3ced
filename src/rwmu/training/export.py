"""Deployable actor files from an rsl_rl policy checkpoint written by ``rwmu train-policy``.

:func:`export_policy` writes to a folder:

- ``policy.pt``: TorchScript module, ``actions = policy(obs)``; obs ``(batch, obs_dim)`` float32 in the physical
  units of :func:`rwmu.tasks.observations.build_policy_observation`, actions ``(batch, A)`` (the mean action);
- ``policy.onnx``: the same network for ONNX runtimes, input ``obs``, output ``actions``, dynamic batch size;
- ``policy.json``: observation and action names, dimensions, control ``dt``, the source checkpoint and its SHA-256.

Observation normalisation, when the policy learnt one (rsl_rl ``obs_normalization``), is folded into the first
linear layer (``W' = W / (std + eps)``, ``b' = b - W' mean``), so deployed files take raw observations and contain
nothing but the MLP.
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from rwmu.errors import RwmuError


def load_actor(checkpoint: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the rsl_rl actor of a ``rwmu train-policy`` checkpoint.

    Returns:
        ``(actor, info)``: the rsl_rl ``MLPModel`` in eval mode, and ``infos["rwmu"]`` (task, observation layout,
        world model, config) from the checkpoint.
    """
    from rsl_rl.utils import resolve_class
    from tensordict import TensorDict

    from rwmu.training.policy import read_policy_checkpoint

    ckpt = read_policy_checkpoint(checkpoint, map_location=device)
    info = (ckpt.get("infos") or {}).get("rwmu")
    if not isinstance(info, dict) or "rsl_rl_cfg" not in info:
        raise RwmuError(
            f"{checkpoint}: an rsl_rl checkpoint without rwmu metadata (infos['rwmu']); only checkpoints written by "
            f"rwmu train-policy can be exported or played"
        )
    actor_cfg = dict(info["rsl_rl_cfg"]["actor"])
    actor_class, actor_kwargs = resolve_class(actor_cfg)
    obs = TensorDict({"policy": torch.zeros(1, int(info["observation_dim"]))}, batch_size=[1])
    actor = actor_class(obs, {"actor": ["policy"]}, "actor", int(info["num_actions"]), **actor_kwargs)
    try:
        actor.load_state_dict(ckpt["actor_state_dict"], strict=True)
    except RuntimeError as err:
        raise RwmuError(f"{checkpoint}: actor weights do not fit the stored actor config ({str(err)[:200]})") from None
    return actor.to(device).eval(), info


def folded_actor_network(actor) -> nn.Sequential:
    """A plain ``nn.Sequential`` computing the actor's mean action from raw observations.

    Args:
        actor: rsl_rl ``MLPModel`` with a Gaussian (identity-mean) output distribution.

    Returns:
        a copy of ``actor.mlp`` whose first ``nn.Linear`` absorbs the observation normaliser (if any).
    """
    net = copy.deepcopy(actor.mlp).cpu().eval()
    if getattr(actor, "obs_normalization", False):
        norm = actor.obs_normalizer
        mean = norm._mean.detach().cpu().reshape(-1)
        scale = 1.0 / (norm._std.detach().cpu().reshape(-1) + norm.eps)
        first = net[0]
        if not isinstance(first, nn.Linear):
            raise RwmuError("cannot fold the observation normaliser: the actor's first layer is not linear")
        with torch.no_grad():
            weight = first.weight * scale[None, :]
            first.bias.copy_(first.bias - weight @ mean)
            first.weight.copy_(weight)
    if actor.distribution is not None and type(actor.distribution).__name__ not in (
        "GaussianDistribution",
        "HeteroscedasticGaussianDistribution",
    ):  # fmt: skip
        raise RwmuError(f"export supports Gaussian actors only, got {type(actor.distribution).__name__}")
    return net


def export_policy(checkpoint: str | Path, out_dir: str | Path) -> dict[str, str]:
    """Write ``policy.pt`` (TorchScript), ``policy.onnx`` and ``policy.json`` for ``checkpoint`` into ``out_dir``.

    Returns:
        name -> path of each written file.
    """
    from rwmu.utils.io import atomic_path, file_sha256, write_json_atomic

    actor, info = load_actor(checkpoint)
    net = folded_actor_network(actor)
    obs_dim = int(info["observation_dim"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, obs_dim)

    paths = {"torchscript": out_dir / "policy.pt", "onnx": out_dir / "policy.onnx", "meta": out_dir / "policy.json"}
    with warnings.catch_warnings():  # TorchScript is deprecated in recent torch but still the deployment standard
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(net)
        with atomic_path(paths["torchscript"]) as tmp:
            scripted.save(str(tmp))
    with atomic_path(paths["onnx"]) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous = logging.getLogger("torch.onnx").level
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        try:
            torch.onnx.export(
                net, (example,), str(tmp), input_names=["obs"], output_names=["actions"],
                dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=18, dynamo=True,
                external_data=False, verbose=False,
            )  # fmt: skip
        finally:
            logging.getLogger("torch.onnx").setLevel(previous)
    meta = {
        "format": "rwmu.exported_policy",
        "source_checkpoint": str(Path(checkpoint).resolve()),
        "source_sha256": file_sha256(checkpoint),
        "task": info.get("task"),
        "dt": info.get("dt"),
        "observation_dim": obs_dim,
        "num_actions": int(info["num_actions"]),
        "observation_names": info.get("observation_names"),
        "action_names": info.get("action_names"),
        "observation_normalization_folded": bool(getattr(actor, "obs_normalization", False)),
        "inputs": {"obs": ["batch", obs_dim]},
        "outputs": {"actions": ["batch", int(info["num_actions"])]},
        "world_model": info.get("world_model"),
    }
    write_json_atomic(paths["meta"], meta)
    return {k: str(v) for k, v in paths.items()}
