"""World models: :class:`WorldModelEnsemble` and its checkpoints."""

import importlib

_EXPORTS = {
    "MemberPredictions": "rwmu.models.ensemble",
    "WorldModelConfig": "rwmu.models.config",
    "WorldModelEnsemble": "rwmu.models.ensemble",
    "WorldModelOutput": "rwmu.models.ensemble",
    "epistemic_uncertainty": "rwmu.models.disagreement",
}
"""Each re-exported name and its module, imported on first use: a config module (``rwmu.models.config``) imports no
torch, so that ``rwmu COMMAND --help`` starts quickly (docs/architecture.md, Layers)."""

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rwmu.models' has no attribute {name!r}")
