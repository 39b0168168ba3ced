"""What one world-model prediction means for the task: the next physical state, the contacts and the episode end
(module docstring of :mod:`rwmu.envs.imagination`, "Episode end")."""

from __future__ import annotations

import torch

from rwmu.data.normalization import Normalization
from rwmu.errors import RwmuError
from rwmu.tasks.base import Task


def task_rule(model, task: Task, rule, mode: str, flag: str):
    """``rule`` (the task's termination or contact rule) if ``mode`` (``rule``, ``head`` or ``auto``) asks for it or
    allows it and the model predicts the extension columns it reads, else None (the learned head)."""
    usable = rule is not None and (not rule.reads_extension or model.dims.extension == task.dims.extension)
    if mode == "rule" and not usable:
        why = (
            f"defines no {flag} rule"
            if rule is None
            else (
                f"needs the {task.dims.extension} extension columns {', '.join(task.extension_names)}, which the "
                f"world model does not predict ({model.dims.extension} extension columns)"
            )
        )
        raise RwmuError(f"--env.{flag} rule: task {task.name} {why}; use --env.{flag} head")
    if mode == "head" or not usable:
        return None
    return rule


def imagined_outcome(
    out, normalization: Normalization, task: Task, contact_rule, termination_rule
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What one world-model prediction means for the task, as imagination reads it (module docstring, "Episode end").

    Args:
        out: a prediction with ``state`` ``(n, S)`` and ``extension``, ``contact``, ``termination`` (or None),
            normalised (:class:`~rwmu.models.WorldModelOutput`, or one member's slice of
            :class:`~rwmu.models.MemberPredictions`).
        contact_rule, termination_rule: the task's rules in use (:func:`task_rule`), None for the learned heads.

    Returns:
        ``(next_physical (n, S), contacts (n, C) 0/1, terminated (n,) bool)``.
    """
    n = out.state.shape[0]
    next_physical = normalization.denormalize_state(out.state)
    extension = normalization.denormalize_extension(out.extension) if out.extension is not None else None
    if out.contact is not None:
        contacts = (out.contact > 0).float()  # round(sigmoid(logit))
    else:
        contacts = torch.zeros(n, task.dims.contact, device=out.state.device)
    if contact_rule is not None:
        contacts = contact_rule(contacts, extension)
    if termination_rule is not None:
        terminated = termination_rule(next_physical, extension, task.layout)
    elif out.termination is not None:
        terminated = out.termination[:, 0] > 0
    else:
        terminated = torch.zeros(n, dtype=torch.bool, device=out.state.device)
    return next_physical, contacts, terminated
