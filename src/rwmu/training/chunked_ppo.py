"""rsl_rl's PPO with each mini-batch's gradient accumulated over cache-sized chunks (docs/performance.md).

The paper's PPO update (Table S11) runs 5 epochs x 4 mini-batches; at 4096 envs x 24 steps a mini-batch holds
24,576 samples. Forward and backward of the 128-128-128 ELU actor and critic over all of them at once write
activations of several MB per layer, which fall out of a CPU's caches before the backward pass reads them again.
:class:`ChunkedPPO` computes the same mini-batch loss in chunks of at most ``grad_chunk_size`` samples and sums their
gradients before the one optimizer step of the mini-batch. Every PPO loss term is a mean over the mini-batch's
samples, so the chunk losses weighted by ``chunk / mini-batch`` sum to rsl_rl's loss, and the gradient is rsl_rl's up
to floating-point rounding. The adaptive learning-rate schedule still reads one KL per mini-batch (the mean over all
its samples), set before the step, as rsl_rl does; per-mini-batch advantage normalisation uses the whole mini-batch.

A mini-batch of at most ``grad_chunk_size`` samples takes rsl_rl's own update, unchanged, as do a GPU (whose
throughput needs the whole mini-batch, not a cache) and the cases this class does not chunk: recurrent actor or critic,
RND, symmetry, multi-GPU and mixed precision.
"""

from __future__ import annotations

from typing import Any

import torch
from rsl_rl.algorithms import PPO
from torch import nn

__all__ = ["ChunkedPPO"]


class ChunkedPPO(PPO):
    """rsl_rl's ``PPO`` whose mini-batch gradient is summed over chunks of at most ``grad_chunk_size`` samples.

    Args (beyond PPO's):
        grad_chunk_size: samples per forward/backward chunk on a CPU; a mini-batch of at most this many samples is one
            chunk, that is rsl_rl's update exactly.
    """

    def __init__(self, *args: Any, grad_chunk_size: int = 3072, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if int(grad_chunk_size) < 1:
            raise ValueError(f"grad_chunk_size must be >= 1, got {grad_chunk_size}")
        self.grad_chunk_size = int(grad_chunk_size)

    def _chunks_apply(self) -> bool:
        batch = self.storage.num_envs * self.storage.num_transitions_per_env // self.num_mini_batches
        special = (torch.device(self.device).type != "cpu" or self.actor.is_recurrent or self.critic.is_recurrent
                   or self.rnd or self.symmetry or self.is_multi_gpu or self.use_mixed_precision)  # fmt: skip
        return batch > self.grad_chunk_size and not special

    def update(self) -> dict[str, float]:
        if not self._chunks_apply():
            return super().update()
        sums = {"value": 0.0, "surrogate": 0.0, "entropy": 0.0}
        for batch in self.storage.mini_batch_generator(self.num_mini_batches, self.num_learning_epochs):
            if self.normalize_advantage_per_mini_batch:
                with torch.no_grad():
                    batch.advantages = (batch.advantages - batch.advantages.mean()) / (batch.advantages.std() + 1e-8)
            losses, kl_mean = self._accumulate_gradient(batch)
            if self.desired_kl is not None and self.schedule == "adaptive":
                self._adapt_learning_rate(kl_mean)
            nn.utils.clip_grad_norm_(self.actor.parameters(), self.max_grad_norm)
            nn.utils.clip_grad_norm_(self.critic.parameters(), self.max_grad_norm)
            self.optimizer.step()
            for key, value in losses.items():
                sums[key] += value
        obs = self.storage.observations.flatten(0, 1)
        self.actor.update_normalization(obs)  # type: ignore[arg-type]
        self.critic.update_normalization(obs)  # type: ignore[arg-type]
        num_updates = self.num_learning_epochs * self.num_mini_batches
        self.storage.clear()
        return {key: value / num_updates for key, value in sums.items()}

    def _accumulate_gradient(self, batch: Any) -> tuple[dict[str, float], float]:
        """Zero the gradients, then add each chunk's share of the mini-batch loss's gradient (rsl_rl's PPO loss:
        clipped surrogate + value_loss_coef * (clipped) value loss - entropy_coef * entropy). Returns the mini-batch's
        mean losses and mean KL(old || new) (0 when the schedule does not read it)."""
        n = batch.actions.shape[0]
        adaptive = self.desired_kl is not None and self.schedule == "adaptive"
        self.optimizer.zero_grad()
        value_sum = surrogate_sum = entropy_sum = 0.0
        kl_sum = torch.zeros((), device=batch.actions.device)
        for start in range(0, n, self.grad_chunk_size):
            rows = slice(start, min(start + self.grad_chunk_size, n))
            weight = (rows.stop - rows.start) / n
            observations = batch.observations[rows]
            self.actor(observations, stochastic_output=True)
            log_prob = self.actor.get_output_log_prob(batch.actions[rows])  # type: ignore[attr-defined]
            values = self.critic(observations)
            entropy = self.actor.output_entropy.mean()
            if adaptive:
                with torch.inference_mode():
                    old = tuple(p[rows] for p in batch.old_distribution_params)
                    kl_sum += self.actor.get_kl_divergence(old, self.actor.output_distribution_params).sum()
            advantages = torch.squeeze(batch.advantages[rows])
            ratio = torch.exp(log_prob - torch.squeeze(batch.old_actions_log_prob[rows]))
            clipped_ratio = torch.clamp(ratio, 1.0 - self.clip_param, 1.0 + self.clip_param)
            surrogate = torch.max(-advantages * ratio, -advantages * clipped_ratio)
            surrogate_loss = surrogate.mean()
            returns, old_values = batch.returns[rows], batch.values[rows]
            if self.use_clipped_value_loss:
                clipped = old_values + (values - old_values).clamp(-self.clip_param, self.clip_param)
                value_loss = torch.max((values - returns).pow(2), (clipped - returns).pow(2)).mean()
            else:
                value_loss = (returns - values).pow(2).mean()
            loss = surrogate_loss + self.value_loss_coef * value_loss - self.entropy_coef * entropy
            (weight * loss).backward()
            value_sum += weight * value_loss.item()
            surrogate_sum += weight * surrogate_loss.item()
            entropy_sum += weight * entropy.item()
        return {"value": value_sum, "surrogate": surrogate_sum, "entropy": entropy_sum}, float(kl_sum) / n

    def _adapt_learning_rate(self, kl_mean: float) -> None:
        """rsl_rl's adaptive schedule (PPO.update): divide by 1.5 above 2x desired_kl, multiply below half of it."""
        if kl_mean > self.desired_kl * 2.0:
            self.learning_rate = max(1e-5, self.learning_rate / 1.5)
        elif 0.0 < kl_mean < self.desired_kl / 2.0:
            self.learning_rate = min(1e-2, self.learning_rate * 1.5)
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = self.learning_rate
