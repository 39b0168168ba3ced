"""ChunkedPPO: the mini-batch gradient summed over chunks is rsl_rl's PPO update, up to rounding."""

from __future__ import annotations

import pytest
import torch
from rsl_rl.algorithms import PPO
from rsl_rl.models import MLPModel
from rsl_rl.storage import RolloutStorage
from tensordict import TensorDict

from rwmu.training.chunked_ppo import ChunkedPPO
from rwmu.training.policy_config import PolicyTrainingConfig, PPOConfig
from rwmu.training.runner import rsl_rl_train_cfg

NUM_ENVS, STEPS, OBS, ACTIONS = 64, 6, 10, 3


def _filled_algorithm(seed: int, **ppo_kwargs) -> ChunkedPPO:
    """A ChunkedPPO (small MLPs) whose storage holds one rollout of random observations and rewards, returns
    computed: ready for update()."""
    torch.manual_seed(seed)
    obs = TensorDict({"policy": torch.randn(NUM_ENVS, OBS)}, batch_size=[NUM_ENVS])
    groups = {"actor": ["policy"], "critic": ["policy"]}
    dist = {"class_name": "rsl_rl.modules.distribution:GaussianDistribution", "init_std": 0.5, "std_type": "scalar"}
    actor = MLPModel(obs, groups, "actor", ACTIONS, hidden_dims=[32, 32], activation="elu", distribution_cfg=dist)
    critic = MLPModel(obs, groups, "critic", 1, hidden_dims=[32, 32], activation="elu")
    storage = RolloutStorage("rl", NUM_ENVS, STEPS, obs, [ACTIONS], "cpu")
    algorithm = ChunkedPPO(actor, critic, storage, **ppo_kwargs)
    for _ in range(STEPS):
        algorithm.act(obs)
        obs = TensorDict({"policy": torch.randn(NUM_ENVS, OBS)}, batch_size=[NUM_ENVS])
        dones = (torch.rand(NUM_ENVS) < 0.1).float()
        algorithm.process_env_step(obs, torch.randn(NUM_ENVS), dones, {"time_outs": torch.zeros(NUM_ENVS)})
    algorithm.compute_returns(obs)
    return algorithm


def _parameters(algorithm: PPO) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in [*algorithm.actor.parameters(), *algorithm.critic.parameters()]])


@pytest.mark.parametrize("options", [
    {},  # the reference's PPO: clipped value loss, adaptive schedule
    {"use_clipped_value_loss": False, "normalize_advantage_per_mini_batch": True, "entropy_coef": 0.01},
    {"schedule": "fixed"},
])  # fmt: skip
def test_chunked_update_is_rsl_rl_update(options, one_thread):
    # desired_kl small enough that the adaptive schedule changes the learning rate within the update.
    kwargs = {"num_learning_epochs": 2, "num_mini_batches": 3, "desired_kl": 1e-4, **options}
    chunked = _filled_algorithm(0, grad_chunk_size=40, **kwargs)  # mini-batches of 128: chunks 40, 40, 40, 8
    whole = _filled_algorithm(0, grad_chunk_size=10**6, **kwargs)  # the same networks and rollout
    torch.testing.assert_close(_parameters(whole), _parameters(chunked), rtol=0, atol=0)
    assert chunked._chunks_apply() and not whole._chunks_apply()
    before = _parameters(chunked)

    torch.manual_seed(1)  # the mini-batch permutation
    losses = chunked.update()
    torch.manual_seed(1)
    reference = PPO.update(whole)

    after = _parameters(chunked)
    assert not torch.allclose(after, before)
    torch.testing.assert_close(after, _parameters(whole), rtol=1e-5, atol=1e-6)
    assert chunked.learning_rate == pytest.approx(whole.learning_rate)
    if options.get("schedule") != "fixed":
        assert chunked.learning_rate < 1e-3  # the KL did move the schedule, the same way in both
    assert losses.keys() == reference.keys()
    for key in losses:
        assert losses[key] == pytest.approx(reference[key], rel=1e-5, abs=1e-7)
    assert chunked.storage.step == 0  # cleared for the next rollout


def test_small_mini_batches_and_gpus_take_rsl_rl_update(one_thread):
    algorithm = _filled_algorithm(0, num_mini_batches=3, grad_chunk_size=128)  # mini-batches of exactly 128
    assert not algorithm._chunks_apply()
    algorithm.grad_chunk_size = 127
    assert algorithm._chunks_apply()
    algorithm.device = "cuda"
    assert not algorithm._chunks_apply()


def test_chunk_size_is_a_ppo_setting():
    algorithm = rsl_rl_train_cfg(PolicyTrainingConfig())["algorithm"]
    assert algorithm["class_name"] == "rwmu.training.chunked_ppo:ChunkedPPO"
    assert algorithm["grad_chunk_size"] == PPOConfig().grad_chunk_size
    with pytest.raises(ValueError, match="grad_chunk_size"):
        _filled_algorithm(0, grad_chunk_size=0)

