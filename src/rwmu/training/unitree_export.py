"""A Go2 policy as Unitree's deploy stack runs it: ``exported/policy.onnx`` and ``params/deploy.yaml``.

Unitree's Go2 deploy stack (unitree_rl_lab ``deploy/``; its ``State_RLBase`` reads ``POLICY_DIR/params/deploy.yaml``
and runs ``POLICY_DIR/exported/policy.onnx``) needs the facts of the training environment beside the network
(:mod:`rwmu.training.deploy_facts`). :func:`export_unitree` writes that layout; ``exported/`` is also an ordinary
rwmu export folder (``policy.json``, ``policy.pt``), so ``rwmu evaluate --policy OUT/exported`` scores it.

Only a policy whose actor reads what the robot measures in low-level mode exports this way (task
``go2_flat_deploy``): Unitree's stack has no base linear velocity term, and a policy observing it is refused.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.training.deploy_facts import UNITREE_OBSERVATION_TERMS, deploy_facts
from rwmu.training.export import export_policy, load_actor
from rwmu.training.runner import resolve_policy_checkpoint
from rwmu.utils.io import write_text_atomic

EXPORTED_DIR = "exported"
PARAMS_DIR = "params"
DEPLOY_YAML = "deploy.yaml"


def export_unitree(checkpoint: str | Path, out_dir: str | Path) -> dict[str, str]:
    """Write ``out_dir/exported/`` (``policy.onnx`` with the facts in its ``metadata_props``, ``policy.json``,
    ``policy.pt``) and ``out_dir/params/deploy.yaml`` for ``checkpoint`` (a run folder or ``model_<it>.pt``).

    Returns:
        name (``torchscript``, ``onnx``, ``meta``, ``deploy``) -> path of each written file.
    """
    checkpoint = resolve_policy_checkpoint(checkpoint)
    _, info = load_actor(checkpoint)
    task = get_task(info["task"]) if info.get("task") else None
    if task is None or not task.simulated:
        raise RwmuError(
            f"{checkpoint}: not a Go2 policy (task {info.get('task')}); --format unitree exports Go2 policies"
        )
    blocked = [t for t in task.observation_terms if t not in UNITREE_OBSERVATION_TERMS]
    if blocked:
        raise RwmuError(
            f"{checkpoint}: a {task.name} policy observes {', '.join(blocked)}, which a Go2 does not measure in "
            f"low-level control (Unitree's deploy stack has no such term); train it on task go2_flat_deploy"
        )
    out_dir = Path(out_dir)
    paths = export_policy(checkpoint, out_dir / EXPORTED_DIR)
    deploy = out_dir / PARAMS_DIR / DEPLOY_YAML
    deploy.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(deploy, yaml.safe_dump(deploy_facts(task), default_flow_style=None, sort_keys=False, width=120))
    return {**paths, "deploy": str(deploy)}
