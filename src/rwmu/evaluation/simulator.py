"""Score a policy in the MuJoCo Go2 simulator on the true, unpenalised task reward (docs/method.md section 8.3).

Episodes run under fixed command schedules (:data:`rwmu.evaluation.schedules.COMMAND_SCHEDULES`; episode ``e`` uses
schedule ``e mod len(schedules)``), in waves of up to ``max_envs`` parallel environments. An episode ends at its
first termination (a fall) or after ``task.episode_length`` steps. Reported per episode and aggregated: the return
(sum of the task reward terms of docs/method.md section 3, each ``weight * value * dt``, no uncertainty penalty),
the per-term returns, the episode length, whether it fell, and the velocity-tracking errors.

Policies are anything :func:`rwmu.training.policy_loader.load_policy` reads (``scripted``, a run folder, a
checkpoint, an export) or a ready policy object.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from rwmu.errors import RwmuError
from rwmu.evaluation.episodes import episode_schedules, summarize_episodes
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.evaluation.video import VideoRecorder
from rwmu.sim.collect import NoisyPolicy
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.training.policy_loader import load_policy, shipped_expert


def evaluate_policy(
    policy_spec: str | Any,
    config: EvaluationConfig = EvaluationConfig(),
    task: Task = GO2_FLAT,
    video_path: str | Path | None = None,
    progress: bool = True,
    video_steps: int | None = None,
) -> dict[str, Any]:
    """Run ``config.episodes`` episodes and return the summary dict (see :func:`summarize_episodes`).

    Args:
        policy_spec: ``"scripted"``, a policy path (:func:`rwmu.training.policy_loader.load_policy`), or a policy
            object whose ``act`` / ``reset`` work for ``min(episodes, max_envs)`` environments.
        video_path: if given, render environment 0 of the first wave offscreen to this ``.mp4`` or ``.gif``.
        video_steps: render only the first ``video_steps`` control steps (default: the whole episode).
    """
    T = task.episode_length
    schedules = episode_schedules(config, T)
    names_used = tuple(schedules)
    if not config.action_noise >= 0:
        raise RwmuError(f"--action-noise must be >= 0, got {config.action_noise}")
    n = min(config.episodes, config.max_envs)
    reference = _score_reference(config.score_reference, task)
    policy = load_policy(policy_spec, n, task, config.seed) if isinstance(policy_spec, (str, Path)) else policy_spec
    if config.action_noise > 0:
        policy = NoisyPolicy(policy, config.action_noise, seed=config.seed + 1)
    env = Go2VecEnv(
        Go2EnvConfig(num_envs=n, num_workers=config.num_workers, seed=config.seed, pushes=config.pushes), task
    )
    recorder = VideoRecorder(video_path, env, video_steps) if video_path else None
    episodes: list[dict[str, Any]] = []
    try:
        bar = tqdm(total=config.episodes, desc="evaluate", unit="episode", disable=not progress, dynamic_ncols=True)
        with bar:
            while len(episodes) < config.episodes:
                first = len(episodes)
                count = min(n, config.episodes - first)
                names = [names_used[(first + i) % len(names_used)] for i in range(n)]
                env.set_fixed_commands(torch.stack([schedules[name] for name in names]))
                obs = env.reset()[0]["policy"]
                policy.reset(None)
                wave = _run_wave(env, policy, obs, T, recorder if first == 0 else None)
                for i in range(count):
                    episodes.append({"schedule": names[i], **{k: v[i] for k, v in wave.items()}})
                bar.update(count)
    finally:
        env.close()
        if recorder is not None:
            recorder.close()
    result = summarize_episodes(episodes, task, config)
    result.update(normalized_score(result["return_mean"], reference, config, task))
    return result


def _score_reference(spec: str | None, task: Task) -> str | None:
    """``spec`` if it names a policy that loads (checked before any work), None when there is no score to give: no
    reference asked for, or ``expert`` asked for where this version ships none for ``task``."""
    if spec is None or (spec == "expert" and shipped_expert(task.name) is None):
        return None
    load_policy(spec, 1, task)
    return spec


def normalized_score(return_mean: float, reference: str | None, config: EvaluationConfig, task: Task) -> dict[str, Any]:
    """``(R - R_zero) / (R_reference - R_zero)`` on the episodes of ``config``: 0 is standing still (zero actions),
    1 the reference policy (the shipped expert by default); ``normalized_score`` is None without a reference."""
    if reference is None:
        return {"normalized_score": None, "score_references": None, "score_reference_asked": config.score_reference}
    plain = dataclasses.replace(config, score_reference=None, action_noise=0.0)
    zero = evaluate_policy("zero", plain, task, progress=False)["return_mean"]
    top = evaluate_policy(reference, plain, task, progress=False)["return_mean"]
    return {
        "normalized_score": (return_mean - zero) / (top - zero) if top != zero else None,
        "score_references": {"zero": zero, reference: top},
    }


def _run_wave(env: Any, policy: Any, obs: torch.Tensor, T: int, recorder: Any) -> dict[str, list]:
    """One episode per environment; per-env results as lists."""
    n = env.num_envs
    active = torch.ones(n, dtype=torch.bool)
    ret = torch.zeros(n, dtype=torch.float64)
    terms: dict[str, torch.Tensor] = {}
    length = torch.zeros(n, dtype=torch.long)
    fell = torch.zeros(n, dtype=torch.bool)
    lin_err = torch.zeros(n, dtype=torch.float64)
    yaw_err = torch.zeros(n, dtype=torch.float64)
    distance = torch.zeros(n, dtype=torch.float64)
    start_xy = env.base_pos[:, :2].clone()
    for _ in range(T):
        if not active.any():
            break
        actions = policy.act(obs)
        obs_td, reward, dones, _ = env.step(actions)
        rec = env.last_step
        a = active.double()
        ret += reward.double() * a
        for name, value in rec.terms.items():
            terms[name] = terms.get(name, torch.zeros(n, dtype=torch.float64)) + value.double() * a
        length += active.long()
        lin_err += torch.linalg.vector_norm(rec.command[:, :2] - rec.state[:, 0:2], dim=-1).double() * a
        yaw_err += (rec.command[:, 2] - rec.state[:, 5]).abs().double() * a
        fell |= rec.terminated & active
        distance = torch.where(active, (rec.base_pos[:, :2] - start_xy).norm(dim=-1).double(), distance)
        if recorder is not None and bool(active[0]):
            recorder.frame()
        active &= ~dones.bool()
        done_ids = torch.nonzero(dones.bool(), as_tuple=False).squeeze(-1)
        if done_ids.numel() > 0:
            policy.reset(done_ids)
        obs = obs_td["policy"]
    steps = length.clamp(min=1).double()
    return {
        "return": ret.tolist(),
        "terms": [{name: float(v[i]) for name, v in terms.items()} for i in range(n)],
        "length": length.tolist(),
        "fell": fell.tolist(),
        "lin_vel_error": (lin_err / steps).tolist(),
        "yaw_rate_error": (yaw_err / steps).tolist(),
        "distance": distance.tolist(),
    }
