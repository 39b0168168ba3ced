"""Roll a trained policy in the world model and break its imagined reward down by term (``rwmu play-imagination``).

Lets a user inspect a policy without a simulator: which reward terms it collects, how much uncertainty penalty it
pays, how long imagined episodes last. The numbers are imagined (model) returns, not real-robot performance.
"""

from __future__ import annotations

import torch

from rwmu.envs.imagination import REWARD_NAMES

# The imagination environment's per-step terms: task terms, uncertainty_penalty, task (unpenalised) and total.
SUMMARY_TERMS = REWARD_NAMES


def play_policy(env, actor, steps: int, stochastic: bool = False, progress: bool = False) -> dict:
    """Run ``actor`` in ``env`` for ``steps`` steps (all envs in parallel).

    Args:
        env: :class:`~rwmu.envs.imagination.ImaginationEnv`.
        actor: rsl_rl ``MLPModel`` (or any callable TensorDict -> (n, A) actions; ``stochastic`` needs an MLPModel).
        steps: control steps per environment.
        stochastic: sample actions from the policy distribution instead of using its mean.
        progress: show a tqdm bar.

    Returns:
        ``per_step``: term -> mean per env and step; ``per_env_return``: term -> mean over envs of the sum over the
        ``steps`` steps; ``episodes``: finished episodes, their mean length, task return and total return;
        ``epistemic_uncertainty``: mean per env and step; ``steps``, ``num_envs``.
    """
    from tqdm import tqdm

    n = env.num_envs
    sums = {name: torch.zeros(n, device=env.device) for name in SUMMARY_TERMS}
    epistemic_sum = 0.0
    episode_task = torch.zeros(n, device=env.device)
    episode_total = torch.zeros(n, device=env.device)
    episode_len = torch.zeros(n, device=env.device)
    finished_task: list[torch.Tensor] = []
    finished_total: list[torch.Tensor] = []
    finished_len: list[torch.Tensor] = []
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in tqdm(range(steps), desc="play-imagination", unit="step", disable=not progress, dynamic_ncols=True):
            actions = actor(obs, stochastic_output=True) if stochastic else actor(obs)
            obs, _, dones, extras = env.step(actions)
            terms = env.last_step_terms
            for name in SUMMARY_TERMS:
                sums[name] += terms[name]
            epistemic_sum += float(extras["log"]["Imagination/epistemic_uncertainty"])
            episode_task += terms["task"]
            episode_total += terms["total"]
            episode_len += 1
            done = dones.bool()
            if bool(done.any()):
                finished_task.append(episode_task[done].clone())
                finished_total.append(episode_total[done].clone())
                finished_len.append(episode_len[done].clone())
                episode_task[done] = 0.0
                episode_total[done] = 0.0
                episode_len[done] = 0.0
    count = int(sum(t.numel() for t in finished_len))

    def mean_of(chunks: list[torch.Tensor]) -> float | None:
        return float(torch.cat(chunks).mean()) if count else None

    return {
        "steps": int(steps),
        "num_envs": int(n),
        "per_step": {name: float(s.mean()) / steps for name, s in sums.items()},
        "per_env_return": {name: float(s.mean()) for name, s in sums.items()},
        "epistemic_uncertainty": epistemic_sum / max(steps, 1),
        "episodes": {
            "finished": count,
            "mean_length": mean_of(finished_len),
            "mean_task_return": mean_of(finished_task),
            "mean_total_return": mean_of(finished_total),
        },
    }


def format_play_report(result: dict) -> str:
    """A fixed-width table of :func:`play_policy`'s result."""
    lines = [
        f"{result['num_envs']} envs x {result['steps']} steps in imagination",
        f"{'term':<24}{'return per env':>16}{'per step':>14}",
    ]
    for name in SUMMARY_TERMS:
        if name in ("task", "total"):
            lines.append("-" * 54)
        lines.append(f"{name:<24}{result['per_env_return'][name]:>16.4f}{result['per_step'][name]:>14.6f}")
    ep = result["episodes"]
    lines.append(f"mean epistemic uncertainty per step: {result['epistemic_uncertainty']:.4f}")
    if ep["finished"]:
        lines.append(
            f"finished episodes: {ep['finished']}, mean length {ep['mean_length']:.1f} steps, mean task return "
            f"{ep['mean_task_return']:.4f}, mean total return {ep['mean_total_return']:.4f}"
        )
    else:
        lines.append("finished episodes: 0 (returns above are over the rollout, per env)")
    return "\n".join(lines)
