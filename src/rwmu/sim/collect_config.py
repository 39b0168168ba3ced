"""Settings of ``rwmu collect`` (:func:`rwmu.sim.collect.collect_dataset`); free of torch and MuJoCo."""

from __future__ import annotations

from dataclasses import dataclass, field

from rwmu.sim.env_config import DomainRandomizationConfig, Go2EnvConfig, ResetConfig


@dataclass(frozen=True)
class CollectConfig:
    """Settings of ``rwmu collect`` (defaults: 64 envs, pushes on, no domain randomisation)."""

    steps: int = 100_000  # dataset rows to write (rows = transitions + one reset row per episode)
    num_envs: int = 64  # environments stepped together (the data depends on it, like on the seed)
    num_workers: int = 1  # processes stepping MuJoCo (the data does not depend on it)
    seed: int = 0
    pushes: bool = True  # velocity kicks every 48-96 steps (docs/method.md section 3) widen the state coverage
    randomization: DomainRandomizationConfig = field(default_factory=DomainRandomizationConfig)
    reset: ResetConfig = field(default_factory=ResetConfig)
    # Trajectories shorter than this are not written (the pieces cut off when collection stops), so every trajectory
    # holds a training window: 64 > M + N = 40 of the paper (Table S10), and `rwmu train-model` accepts the data.
    min_trajectory_rows: int = 64
    # rwmu collect records this many rows at a time, each chunk from fresh episodes, and keeps every completed chunk
    # so that an interrupted collection resumes after it (--resume). The data depends on it; 0: one chunk.
    chunk_rows: int = 100_000

    def env_config(self) -> Go2EnvConfig:
        return Go2EnvConfig(
            num_envs=self.num_envs,
            num_workers=self.num_workers,
            seed=self.seed,
            pushes=self.pushes,
            randomization=self.randomization,
            reset=self.reset,
        )
