"""rwmu: offline model-based reinforcement learning for legged robots.

Learn an uncertainty-aware world model from a fixed dataset of robot trajectories, train a policy inside it with
the reward penalised by the model's epistemic uncertainty (MOPO-PPO, as in RWM-U), and score the policy in MuJoCo.
"""

from rwmu.errors import RwmuError
from rwmu.version import __version__

API = ("collect", "train_model", "train_policy", "evaluate", "run_experiment")
"""The Python API (:mod:`rwmu.api`), importable as ``rwmu.<name>``; loaded on first use, so that ``import rwmu``
and ``rwmu --help`` stay fast."""

__all__ = ["RwmuError", "__version__", "load_world_model", *API]


def __getattr__(name: str):
    if name in API:
        from rwmu import api

        return getattr(api, name)
    raise AttributeError(f"module 'rwmu' has no attribute {name!r}")


def load_world_model(path, device="cpu", **kwargs):
    """Load a ready world model from an rwmu checkpoint or a reference-format file (``system_dynamics_state_dict``).

    The architecture is read from the file (stored config, or the tensor shapes of a reference file); a file holding
    only a policy is refused with the key it needs. Keyword arguments (``task``, ``history_horizon``,
    ``return_checkpoint``) are those of :func:`rwmu.models.checkpoint.load_world_model`.
    """
    from rwmu.models.checkpoint import load_world_model as _load

    return _load(path, device=device, **kwargs)
