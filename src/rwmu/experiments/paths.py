"""Where experiments write: folder-safe labels of lambdas and policies, and the layout of a ``rwmu demo`` folder.

Shared by :mod:`rwmu.experiments.demo` (which runs the stages), :mod:`rwmu.experiments.demo_report` (which reads
their outputs) and :mod:`rwmu.experiments.sweep` (run folders ``lam<lambda>_seed<seed>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STAGES_JSON = "stages.json"
SUMMARY_JSON = "summary.json"
EVALUATION_JSON = "evaluation.json"  # a policy run's MuJoCo score (rwmu evaluate --json)
MODEL_CHECK_JSON = "model_check.json"  # a policy run's rwmu check-model report
EXPORT_DIR = "export"  # a policy run's ONNX actor (policy.onnx, policy.json): the file scored and published


def run_name(lam: float, seed: int) -> str:
    """A policy run's folder in a sweep or an experiment: ``lam<lambda>_seed<seed>``."""
    return f"lam{lambda_label(lam)}_seed{seed}"


def lambda_label(lam: float) -> str:
    """Folder-safe label of a lambda: 1.0 -> ``1``, 0.5 -> ``0.5``, 2.25 -> ``2.25`` (a minus sign becomes ``m``)."""
    return f"{float(lam):g}".replace("-", "m")


def evaluation_key(name: str) -> str:
    """File-name key of a policy label: ``MOPO-PPO lambda=1`` -> ``mopo_ppo_lambda_1``."""
    if name.startswith("behaviour"):
        return "behaviour"
    return "".join(ch if ch.isalnum() or ch == "." else "_" for ch in name.lower()).replace("__", "_")


@dataclass(frozen=True)
class DemoPaths:
    """Where each stage of ``rwmu demo`` writes inside the demo folder ``out``."""

    out: Path

    @property
    def stages(self) -> Path:
        return self.out / STAGES_JSON

    @property
    def data(self) -> Path:
        return self.out / "data" / "dataset.rwmu"

    @property
    def collect_stats(self) -> Path:
        return self.out / "data" / "collect_stats.json"

    @property
    def world_model_dir(self) -> Path:
        return self.out / "world_model"

    @property
    def world_model(self) -> Path:
        return self.world_model_dir / "model_best.pt"

    @property
    def uncertainty_dir(self) -> Path:
        return self.out / "uncertainty"

    def policy_dir(self, lam: float) -> Path:
        return self.out / f"policy_lam{lambda_label(lam)}"

    def evaluation(self, name: str) -> Path:
        return self.out / "evaluation" / f"{name}.json"

    def model_check(self, name: str) -> Path:
        return self.out / "model_check" / f"{name}.json"


PUBLISHED = Path("docs/results")
"""Where published results live, relative to the repository root."""


MANIFEST = PUBLISHED / "policies.json"
"""The manifest of published policies (``rwmu experiment run --publish`` merges into it, ``rwmu manifest`` reads it)."""
