"""Velocity commands and push events, vectorised over environments and seeded with a ``torch.Generator``.

Both follow docs/method.md section 3 (Isaac Lab's ``UniformVelocityCommand`` and interval ``push_robot`` event,
counted in control steps instead of seconds):

- :class:`CommandSampler`: vx, vy, wz uniform in their ranges; a share of environments (2 %) get a zero "standing"
  command; an environment's command is redrawn at its reset and every k steps, k uniform in [100, 120) drawn anew
  per environment each time.
- :class:`PushScheduler`: every k steps, k uniform in [48, 96) per environment, a push adds a velocity uniform in
  [-0.5, 0.5] m/s to the body-frame base vx and vy; the timer restarts at the environment's reset.

Both environments use them through :class:`rwmu.tasks.locomotion.LocomotionCore`, which also keeps fixed command
schedules and applies the kicks (push convention in its docstring).
"""

from __future__ import annotations

import torch

from rwmu.tasks.base import CommandConfig, PushConfig


def _as_ids(env_ids: torch.Tensor | None, num_envs: int, device: torch.device) -> torch.Tensor:
    if env_ids is None:
        return torch.arange(num_envs, device=device)
    return torch.as_tensor(env_ids, dtype=torch.long, device=device).reshape(-1)


def _uniform(low: float, high: float, size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(size, generator=generator, device=device)


def _randint(low: int, high: int, size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """Integers uniform in [low, high) (high > low; equal bounds give ``low``)."""
    if high <= low:
        return torch.full((size,), int(low), dtype=torch.long, device=device)
    return torch.randint(int(low), int(high), (size,), generator=generator, device=device)


class CommandSampler:
    """Per-environment velocity commands ``commands`` (n, 3) = [vx, vy, wz].

    Args:
        config: ranges, standing share and resampling interval (``task.commands``).
        num_envs: number of environments ``n``.
        device: where the commands live.
        generator: random source (on ``device``); None uses torch's global generator.
    """

    def __init__(
        self,
        config: CommandConfig,
        num_envs: int,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
    ):
        self.config = config
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.generator = generator
        self.commands = torch.zeros(self.num_envs, 3, device=self.device)  # (n, 3)
        self.is_standing = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)  # (n,)
        self.steps_until_resample = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)  # (n,)
        self.resample()

    def resample(self, env_ids: torch.Tensor | None = None) -> None:
        """Draw new commands and new resampling intervals for ``env_ids`` (all if None)."""
        ids = _as_ids(env_ids, self.num_envs, self.device)
        k = ids.numel()
        if k == 0:
            return
        cfg, gen, dev = self.config, self.generator, self.device
        new = torch.stack(
            (
                _uniform(*cfg.lin_vel_x, k, gen, dev),
                _uniform(*cfg.lin_vel_y, k, gen, dev),
                _uniform(*cfg.ang_vel_z, k, gen, dev),
            ),
            dim=-1,
        )
        standing = torch.rand(k, generator=gen, device=dev) < cfg.standing_fraction
        self.commands[ids] = torch.where(standing[:, None], torch.zeros_like(new), new)
        self.is_standing[ids] = standing
        self.steps_until_resample[ids] = _randint(*cfg.resample_steps, k, gen, dev)

    def set(self, env_ids: torch.Tensor, commands: torch.Tensor) -> None:
        """Set the commands of ``env_ids`` (k,) to ``commands`` (k, 3); an all-zero command counts as standing. The
        resampling intervals are left as they are."""
        ids = env_ids.to(self.device)
        if ids.numel() == 0:
            return
        commands = commands.to(self.commands)
        self.commands[ids] = commands
        self.is_standing[ids] = (commands == 0).all(dim=-1)

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        """Environment reset: a fresh command and interval."""
        self.resample(env_ids)

    def step(self) -> torch.Tensor:
        """Advance one control step; redraw the commands whose interval ran out. Returns the redrawn env ids."""
        self.steps_until_resample -= 1
        due = torch.nonzero(self.steps_until_resample <= 0, as_tuple=False).squeeze(-1)
        if due.numel() > 0:
            self.resample(due)
        return due


class PushScheduler:
    """Per-environment push timers; :meth:`step` returns the base-velocity kicks of this step.

    Args:
        config: interval and magnitude (``task.pushes``); ``enabled=False`` makes every kick zero.
        num_envs: number of environments ``n``.
        device: where the tensors live.
        generator: random source (on ``device``); None uses torch's global generator.
    """

    def __init__(
        self,
        config: PushConfig,
        num_envs: int,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
    ):
        self.config = config
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.generator = generator
        self.steps_until_push = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)  # (n,)
        self.pushed = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)  # (n,) pushed at last step
        self.reset()

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        """Restart the push timers of ``env_ids`` (all if None)."""
        ids = _as_ids(env_ids, self.num_envs, self.device)
        if ids.numel() == 0:
            return
        self.steps_until_push[ids] = _randint(*self.config.interval_steps, ids.numel(), self.generator, self.device)
        self.pushed[ids] = False

    def step(self) -> torch.Tensor:
        """Advance one control step.

        Returns:
            (n, 2) velocity to add to the body-frame base [vx, vy] in m/s: uniform in [-v, v] where a push is due,
            0 elsewhere.
        """
        kicks = torch.zeros(self.num_envs, 2, device=self.device)
        if not self.config.enabled:
            self.pushed.zero_()
            return kicks
        self.steps_until_push -= 1
        self.pushed.copy_(self.steps_until_push <= 0)  # in place: usable in and out of torch.inference_mode()
        due = torch.nonzero(self.pushed, as_tuple=False).squeeze(-1)
        if due.numel() > 0:
            v = self.config.velocity_range
            kicks[due] = (2.0 * torch.rand(due.numel(), 2, generator=self.generator, device=self.device) - 1.0) * v
            self.steps_until_push[due] = _randint(*self.config.interval_steps, due.numel(), self.generator, self.device)
        return kicks
