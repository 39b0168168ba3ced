"""Settings of ``rwmu sweep`` (:func:`rwmu.experiments.sweep.run_sweep`); free of torch and MuJoCo."""

from __future__ import annotations

from dataclasses import dataclass

from rwmu.evaluation.simulator_config import EvaluationConfig


@dataclass(frozen=True)
class SweepConfig:
    """Settings of ``rwmu sweep`` (the policy runs' own config is a :class:`PolicyTrainingConfig`)."""

    world_model: str
    data: str
    lambdas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 5.0)  # the grid of the paper's Figure 4
    seeds: tuple[int, ...] = (0, 1, 2)  # 3 training seeds per lambda
    jobs: int = 1  # runs side by side (each gets cpu_count // jobs torch threads)
    task: str = "go2_flat"
    episodes: int = 16  # MuJoCo episodes per policy (rwmu evaluate default)
    eval_seed: int = 0  # same evaluation episodes for every policy
    behavior: bool = True  # also evaluate the behaviour policy (the data's source)
    # the behaviour policy as rwmu evaluate --policy takes it: scripted (the demo data's), a checkpoint, an export
    behavior_policy: str = "scripted"
    curve: bool = False  # also score every saved checkpoint: true return against PPO iterations (sweep_curve.*)
    report_only: bool = False  # write sweep.* from the runs finished so far; train and evaluate nothing

    def evaluation(self) -> EvaluationConfig:
        return EvaluationConfig(episodes=self.episodes, seed=self.eval_seed)
