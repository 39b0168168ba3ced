"""World models: :class:`WorldModelEnsemble` and its checkpoints."""

from rwmu.models.config import WorldModelConfig
from rwmu.models.disagreement import epistemic_uncertainty
from rwmu.models.ensemble import MemberPredictions, WorldModelEnsemble, WorldModelOutput

__all__ = ["MemberPredictions", "WorldModelConfig", "WorldModelEnsemble", "WorldModelOutput", "epistemic_uncertainty"]
