"""Offline world-model training: ``rwmu train-model``.

Reads a dataset, builds the windows and the train/validation split, trains the ensemble on the docs/method.md section 5
objective with Adam (paper Table S10 defaults), validates with autoregressive rollouts on held-out trajectories,
and writes atomic checkpoints (latest, best on validation, periodic), TensorBoard scalars, the resolved config and a
summary next to them. ``resume=True`` continues from ``model_latest.pt`` in the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from rwmu.data.normalization import Normalization
from rwmu.data.windows import gather_windows, split_windows, trajectory_segments
from rwmu.errors import RwmuError
from rwmu.models.calibration import CALIBRATION_WINDOWS, uncertainty_reference
from rwmu.models.checkpoint import load_world_model, save_world_model
from rwmu.models.ensemble import WorldModelEnsemble
from rwmu.models.rollout import open_loop_rollout, relative_error
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.training.world_model_loss import event_pos_weights, split_columns, world_model_loss
from rwmu.utils.io import write_json_atomic, write_run_config


def normalized_tensor(data: np.ndarray, dims, norm, device) -> torch.Tensor:
    """A normalised copy of the whole dataset (state, action and extension columns). ``(rows, cols)``; ``data`` is
    untouched."""
    return norm.normalize_rows(torch.tensor(np.asarray(data, dtype=np.float32), device=device), dims)


MAX_DATA_MAGNITUDE = 1e6
"""A recorded value this large (in the data's physical units) is an outlier no robot records."""


def check_data_magnitude(dataset) -> None:
    """Refuse data holding a value of magnitude :data:`MAX_DATA_MAGNITUDE` or more, naming its row and column:
    training on it diverges, and the cause is the data, not the learning rate."""
    magnitude = np.abs(np.asarray(dataset.data))
    worst = int(magnitude.argmax())
    row, column = divmod(worst, magnitude.shape[1])
    if magnitude[row, column] >= MAX_DATA_MAGNITUDE:
        names = dataset.meta.get("column_names")
        name = names[column] if names else f"column {column}"
        raise RwmuError(
            f"data row {row}, {name}: {float(dataset.data[row, column]):g} is an outlier no robot records "
            f"(|value| >= {MAX_DATA_MAGNITUDE:g}); find it with rwmu data info and remove that trajectory"
        )


def check_same_data(path: Path, ckpt: dict, dataset) -> None:
    """Refuse to resume the checkpoint ``ckpt`` (``path``) on another dataset than it was trained on (told by its
    row and trajectory counts)."""
    trained_on = ckpt.get("data") if isinstance(ckpt.get("data"), dict) else {}
    before = (trained_on.get("rows"), trained_on.get("trajectories"))
    now = (int(dataset.num_rows), int(dataset.num_trajectories))
    if None not in before and before != now:
        raise RwmuError(
            f"--resume: {path} was trained on {before[0]} rows in {before[1]} trajectories "
            f"({trained_on.get('path')}), --data has {now[0]} rows in {now[1]}; resume with the same "
            f"--data or start a new --out"
        )


class _Logger:
    """TensorBoard (default), Weights & Biases (optional) or nothing."""

    def __init__(self, kind: str, log_dir: Path, config: dict):
        self.kind = kind
        self.writer = None
        if kind == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(log_dir))
        elif kind == "wandb":
            try:
                import wandb
            except ImportError:
                raise RwmuError("--logger wandb needs Weights & Biases: pip install 'rwmu[wandb]'") from None
            self.writer = wandb.init(project="rwmu", dir=str(log_dir), config=config)

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.kind == "tensorboard":
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)
        elif self.kind == "wandb":
            self.writer.log(values, step=step)

    def close(self) -> None:
        if self.kind == "tensorboard":
            self.writer.close()
        elif self.kind == "wandb":
            self.writer.finish()


class WorldModelTrainer:
    """Trains a :class:`~rwmu.models.WorldModelEnsemble` on a dataset; see the module docstring."""

    def __init__(
        self,
        dataset,
        task,
        out_dir: str | Path,
        config: TrainModelConfig,
        resume: bool = False,
        data_path: str | None = None,
        command: Any = None,
    ):

        self.cfg = config
        self.dataset = dataset
        self.task = task
        self.out_dir = Path(out_dir)
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RwmuError("--device cuda: no CUDA device is available here; use --device cpu")
        arch, opt, val = config.architecture, config.optim, config.validation
        M, N = arch.history_horizon, opt.forecast_horizon
        self.window = M + N
        dims = dataset.dims
        latest = self.out_dir / "model_latest.pt"
        if resume and not latest.exists():
            raise RwmuError(f"--resume: {latest} does not exist; start without --resume or point --out at a run")
        if not resume and latest.exists():
            raise RwmuError(f"{self.out_dir} already holds a run (model_latest.pt); pass --resume or another --out")

        torch.manual_seed(config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        if resume:
            self.model, ckpt = load_world_model(latest, device=self.device, task=task, return_checkpoint=True)
            if self.model.dims != dims:
                raise RwmuError(f"--resume: {latest} was trained on dims {self.model.dims}, the data has {dims}")
            check_same_data(latest, ckpt, dataset)
        else:
            self.model = WorldModelEnsemble(arch.to_model_config(dims)).to(self.device)
            if config.normalization == "task" and task is not None and task.state_mean is not None:
                self.model.normalization = Normalization.from_task(task).to(self.device)
            else:
                self.model.normalization = Normalization.from_dataset(dataset).to(self.device)
            ckpt = None
        self.norm = self.model.normalization
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=opt.learning_rate, weight_decay=opt.weight_decay)
        self.iteration = 0
        self.best_val = math.inf
        if ckpt is not None:
            self.optimizer.load_state_dict(ckpt["system_dynamics_optimizer_state_dict"])
            self.iteration = int(ckpt["iter"])
            self.best_val = float(ckpt.get("best_val", math.inf))
            if "generator_state" in ckpt:
                self.generator.set_state(ckpt["generator_state"].cpu())

        check_data_magnitude(dataset)
        self.data = normalized_tensor(dataset.data, dims, self.norm, self.device)
        # Positive-class weights of the rare events (--optim.event-weighting), from the whole dataset's rows.
        self.contact_pos_weight = event_pos_weights(
            self.data[:, dims.contact_slice], opt.event_weighting, opt.max_event_weight
        )
        self.termination_pos_weight = event_pos_weights(
            self.data[:, dims.termination_slice], opt.event_weighting, opt.max_event_weight
        )
        train_starts, val_starts = split_windows(
            dataset, self.window, val.val_fraction, seed=config.seed, block_length=val.block_length
        )
        if len(train_starts) == 0:
            raise RwmuError(f"no training windows of {self.window} rows in the data; record longer trajectories")
        self.train_starts = torch.as_tensor(train_starts, device=self.device)
        self.member_weights = self._trajectory_bootstrap(train_starts) if opt.bootstrap_unit == "trajectory" else None
        self.val_sets = self._validation_sets(val_starts)
        # Windows the uncertainty reference is measured on (rwmu.models.calibration): held out where there are any.
        pool, self.calibration_source = (
            (val_starts, "held-out windows")
            if len(val_starts)
            else (train_starts, "training windows (nothing held out)")
        )
        pick = np.random.default_rng(config.seed + 2).choice(
            len(pool), size=min(CALIBRATION_WINDOWS, len(pool)), replace=False
        )
        self.calibration_starts = torch.as_tensor(np.sort(pool[pick]), device=self.device)
        self.data_path = data_path
        self.command = command  # the whole command config, recorded in config.json (rwmu train-model)
        self.logger = None

    def _trajectory_bootstrap(self, train_starts: np.ndarray) -> torch.Tensor:
        """``(B, num_train_windows)`` how many times each member drew each window's trajectory segment: one
        resample with replacement of the training segments per member, drawn from the run's seed (a resumed run
        draws the same)."""
        cfg = self.cfg
        units = trajectory_segments(self.dataset, train_starts, cfg.validation.block_length)
        present, index = np.unique(units, return_inverse=True)
        rng = np.random.default_rng(cfg.seed + 3)
        B = cfg.architecture.ensemble_size
        counts = np.stack(
            [np.bincount(rng.integers(0, present.size, present.size), minlength=present.size) for _ in range(B)]
        )
        return torch.as_tensor(counts[:, index], dtype=torch.float32, device=self.device)

    # ------------------------------------------------------------------ validation
    def _validation_sets(self, val_starts: np.ndarray) -> dict[int, torch.Tensor]:
        """Fixed held-out window starts per rollout horizon (forecast horizon N and each reported horizon)."""

        cfg = self.cfg.validation
        M = self.cfg.architecture.history_horizon
        rng = np.random.default_rng(self.cfg.seed + 1)
        sets = {}
        for h in sorted({self.cfg.optim.forecast_horizon, *cfg.horizons}):
            if h == self.cfg.optim.forecast_horizon:
                starts = val_starts
            else:
                try:
                    _, starts = split_windows(
                        self.dataset, M + h, cfg.val_fraction, seed=self.cfg.seed, block_length=cfg.block_length
                    )
                except RwmuError:  # held-out segments too short for this horizon: report it not
                    continue
            if len(starts) == 0:
                continue
            pick = rng.choice(len(starts), size=min(cfg.windows, len(starts)), replace=False)
            sets[h] = torch.as_tensor(np.sort(starts[pick]), device=self.device)
        return sets

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Autoregressive relative error per forecast step and at each horizon, plus the no-change baseline."""

        self.model.eval()
        M = self.model.history_horizon
        N = self.cfg.optim.forecast_horizon
        metrics: dict[str, float] = {}
        for h, starts in self.val_sets.items():
            w = gather_windows(self.data, starts, M + h)
            s, a, *_ = split_columns(w, self.model.dims)
            roll = open_loop_rollout(self.model, s, a, h)
            err = relative_error(roll.state, s[:, M:])
            hold = relative_error(s[:, M - 1 : M].expand(-1, h, -1), s[:, M:])
            if h == N:
                for k in range(h):
                    metrics[f"val/rel_error_step_{k + 1}"] = float(err[k])
                metrics["val/rel_error_forecast_mean"] = float(err.mean())
                metrics["val/no_change_rel_error_forecast_mean"] = float(hold.mean())
                loss = world_model_loss(
                    self.model,
                    w,
                    loss_type=self.cfg.optim.state_loss,
                    bootstrap=False,
                    bound_weight=self.cfg.optim.bound_loss_weight,
                    generator=self.generator,
                    contact_pos_weight=self.contact_pos_weight,
                    termination_pos_weight=self.termination_pos_weight,
                )
                metrics.update({f"val/loss_{k}": v for k, v in loss.as_floats().items()})
            if h in self.cfg.validation.horizons:
                metrics[f"val/rel_error_at_{h}"] = float(err[-1])
                metrics[f"val/no_change_rel_error_at_{h}"] = float(hold[-1])
        self.model.train()
        return metrics

    def _check_finite(self, values: dict[str, float], quantity: str) -> None:
        """Stop (:meth:`_divergence`) if a value of ``values`` (a loss's terms, or ``{"total": gradient norm}``) is
        NaN or infinite, before it reaches the weights."""
        bad = next((k for k, v in values.items() if not math.isfinite(v)), None)
        if bad is not None:
            what = quantity if bad == "total" else f"{bad} term of the {quantity}"
            raise self._divergence(f"the {what} became {values[bad]}")

    def _divergence(self, problem: str) -> RwmuError:
        """One line naming the iteration, what diverged and the flags to change."""
        opt = self.cfg.optim
        return RwmuError(
            f"world-model training diverged at iteration {self.iteration}: {problem}; lower "
            f"--optim.learning-rate (now {opt.learning_rate:g}) or --optim.max-grad-norm (now "
            f"{opt.max_grad_norm:g}), or check the data with rwmu data info; checkpoints saved before "
            f"it are kept, nothing diverged was written"
        )

    # ------------------------------------------------------------------ checkpoints
    def _save(self, name: str, metrics: dict | None = None) -> None:
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise self._divergence("the model's weights became NaN/Inf")

        extra = {
            "task": self.task.name if self.task is not None else None,
            "data": {
                "path": self.data_path,
                "rows": int(self.dataset.num_rows),
                "trajectories": int(self.dataset.num_trajectories),
                "train_windows": int(len(self.train_starts)),
            },
            "train": json.loads(json.dumps(dataclasses.asdict(self.cfg))),
            "best_val": float(self.best_val),
            "validation": metrics,
            "generator_state": self.generator.get_state(),
        }
        was_training = self.model.training
        self.model.eval()
        self.model.uncertainty_reference = uncertainty_reference(
            self.model, self.data, self.calibration_starts, source=self.calibration_source
        )
        self.model.train(was_training)
        save_world_model(
            self.out_dir / name, self.model, iteration=self.iteration, optimizer=self.optimizer, extra=extra
        )

    # ------------------------------------------------------------------ loop
    def train(self) -> dict:

        cfg, opt = self.cfg, self.cfg.optim
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_run_config(
            self.out_dir,
            {
                "command": self.command,
                "train_model": cfg,
                "data": self.data_path,
                "task": self.task.name if self.task else None,
                "world_model": self.model.config.to_dict(),
            },
            data=self.data_path,
            device=str(self.device),
        )
        self.logger = _Logger(cfg.logger, self.out_dir / "tensorboard", dataclasses.asdict(cfg))
        self.model.train()
        metrics: dict[str, float] = {}
        start_iter = self.iteration
        t0 = time.perf_counter()
        bar = tqdm(
            total=opt.iterations,
            initial=start_iter,
            desc="train-model",
            unit="it",
            disable=not cfg.progress,
            dynamic_ncols=True,
        )
        try:
            while self.iteration < opt.iterations:
                pick = torch.randint(
                    0, len(self.train_starts), (opt.batch_size,), generator=self.generator, device=self.device
                )
                batch = gather_windows(self.data, self.train_starts[pick], self.window)
                loss = world_model_loss(
                    self.model,
                    batch,
                    loss_type=opt.state_loss,
                    bootstrap=opt.bootstrap,
                    bound_weight=opt.bound_loss_weight,
                    generator=self.generator,
                    contact_pos_weight=self.contact_pos_weight,
                    termination_pos_weight=self.termination_pos_weight,
                    member_weights=None if self.member_weights is None else self.member_weights[:, pick],
                )
                self._check_finite(loss.as_floats(), "loss")
                self.optimizer.zero_grad(set_to_none=True)
                loss.total.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), opt.max_grad_norm)
                self._check_finite({"total": float(grad_norm)}, "gradient norm")
                self.optimizer.step()
                self.iteration += 1
                bar.update(1)
                if self.iteration % 10 == 0 or self.iteration == opt.iterations:
                    values = {f"train/loss_{k}": v for k, v in loss.as_floats().items()}
                    values["train/grad_norm"] = float(grad_norm)
                    self.logger.scalars(values, self.iteration)
                    bar.set_postfix(loss=f"{values['train/loss_total']:.3f}", refresh=False)
                if self.iteration % cfg.validation.interval == 0 or self.iteration == opt.iterations:
                    metrics = self.validate()
                    self.logger.scalars(metrics, self.iteration)
                    score = metrics.get("val/rel_error_forecast_mean", math.inf)
                    if score < self.best_val:
                        self.best_val = score
                        self._save("model_best.pt", metrics)
                    bar.set_postfix(loss=f"{float(loss.total.detach()):.3f}", val=f"{score:.3f}", refresh=False)
                if self.iteration % cfg.checkpoint_interval == 0 or self.iteration == opt.iterations:
                    self._save("model_latest.pt", metrics)
                    if self.iteration % cfg.checkpoint_interval == 0:
                        self._save(f"checkpoints/model_{self.iteration}.pt", metrics)
        finally:
            bar.close()
            self.logger.close()
        elapsed = time.perf_counter() - t0
        done = self.iteration - start_iter
        summary = {
            "iterations": self.iteration,
            "windows_per_second": done * opt.batch_size / elapsed if elapsed > 0 else None,
            "seconds": elapsed,
            "best_val_rel_error_forecast_mean": self.best_val,
            "final_validation": metrics,
            "checkpoints": {
                "latest": str(self.out_dir / "model_latest.pt"),
                "best": str(self.out_dir / "model_best.pt"),
            },
        }
        write_json_atomic(self.out_dir / "summary.json", summary)
        return summary
