"""ImaginationEnv: resets, terminations, time-outs, histories and recurrent state, dynamics modes, penalty."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from rsl_rl.env import VecEnv

from rwmu.data.dataset import COMMAND_CONTEXT_NAMES, TrajectoryDataset
from rwmu.data.normalization import Normalization
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.envs.imagination import ImaginationConfig, ImaginationEnv, StartPool
from rwmu.errors import RwmuError
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.models.calibration import uncertainty_quantile, uncertainty_reference
from rwmu.models.config import ArchitectureConfig
from rwmu.tasks import get_task
from rwmu.tasks.observations import build_policy_observation
from rwmu.tasks.rewards import TERM_NAMES

TASK = get_task("anymal_d_flat")
M = 4


def small_model(base_type: str = "gru", seed: int = 0) -> WorldModelEnsemble:
    torch.manual_seed(seed)
    config = WorldModelConfig(
        ensemble_size=3,
        history_horizon=M,
        base_type=base_type,
        rnn_hidden_size=16,
        rnn_num_layers=2,
        mlp_base_shape=(16,),
        state_mean_shape=(16,),
        state_logstd_shape=(16,),
        contact_shape=(16,),
        termination_shape=(16,),
    )
    model = WorldModelEnsemble(config)
    model.normalization = Normalization.from_task(TASK)
    return model.eval()


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic_dataset(3, 60, task=TASK, seed=0)


def make_env(dataset, model=None, **overrides) -> ImaginationEnv:
    settings = dict(num_envs=4, uncertainty_penalty=1.0, pushes=False, episode_length=50)
    settings.update(overrides)
    return ImaginationEnv(model or small_model(), dataset, TASK, ImaginationConfig(**settings), seed=0)


class Recorder:
    """Records every history an env draws (per env id) and every model output of env steps."""

    def __init__(self, env: ImaginationEnv):
        self.histories: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.outputs = []
        original_reset, original_take = env._reset_envs, env.start_pool.take
        original_predict = env._predict
        pending = {}

        def take(k):
            starts = original_take(k)
            pending["batch"] = starts.history
            return starts

        def reset_envs(env_ids):
            original_reset(env_ids)
            if env_ids.numel():
                batch = pending.pop("batch")
                for row, env_id in enumerate(env_ids.tolist()):
                    self.histories[env_id] = (batch.states[row].clone(), batch.applied_actions[row].clone())

        def predict(action_normalized):
            out = original_predict(action_normalized)
            self.outputs.append(out)
            return out

        env.start_pool.take = take
        env._reset_envs = reset_envs
        env._predict = predict


def force_termination(env: ImaginationEnv, schedule: dict[int, list[int]]) -> None:
    """Make the predicted termination positive for env ids ``schedule[step]`` at that step (1-based), else negative."""
    original = env._predict
    counter = {"step": 0}

    def predict(action_normalized):
        out = original(action_normalized)
        counter["step"] += 1
        logits = torch.full_like(out.termination, -10.0)
        for env_id in schedule.get(counter["step"], []):
            logits[env_id] = 10.0
        out.termination = logits
        return out

    env._predict = predict


def test_is_an_rsl_rl_vec_env(dataset):
    env = make_env(dataset)
    assert isinstance(env, VecEnv)
    obs = env.get_observations()
    assert obs["policy"].shape == (4, TASK.observation_dim)
    assert env.num_actions == 12 and env.max_episode_length == 50


def test_time_out_and_termination(dataset):
    env = make_env(dataset, episode_length=5)
    force_termination(env, {2: [1]})
    actions = torch.zeros(4, 12)
    for step in range(1, 6):
        _, reward, dones, extras = env.step(actions)
        assert reward.shape == (4,) and dones.dtype == torch.long
        if step == 2:
            assert dones.tolist() == [0, 1, 0, 0]
            assert not extras["time_outs"].any()  # a termination is not a time-out
            assert env.episode_length_buf.tolist() == [2, 0, 2, 2]
            assert extras["log"]["Episode_Termination/terminated"] == 1
        elif step < 5:
            assert dones.sum() == 0
    # step 5: envs 0, 2, 3 reach the episode length; env 1 restarted at step 2 and is at 3.
    assert dones.tolist() == [1, 0, 1, 1]
    assert extras["time_outs"].tolist() == [True, False, True, True]
    assert env.episode_length_buf.tolist() == [0, 3, 0, 0]
    for name in (*TERM_NAMES, "uncertainty_penalty", "task", "total"):
        assert f"Episode_Reward/{name}" in extras["log"]


def rollout_reference(model, states, actions, member):
    """Next-state prediction of a fresh model copy fed the whole sequence at once (zero initial hidden state)."""
    ref = copy.deepcopy(model)
    ref.reset()
    ids = None if member is None else torch.tensor([member])
    return ref.predict(states[None], actions[None], member_ids=ids).state[0]


@pytest.mark.parametrize("base_type", ["gru", "mlp"])
@pytest.mark.parametrize("dynamics", ["member", "mean"])
def test_histories_and_recurrent_state_survive_partial_resets(dataset, base_type, dynamics):
    model = small_model(base_type)
    env = make_env(dataset, model=model, dynamics=dynamics, init_data_ratio=0.5)
    rec = Recorder(env)  # records from now on: the initial reset is redone below
    env.reset()
    force_termination(env, {3: [1, 2]})
    gen = torch.Generator().manual_seed(1)
    norm = env.normalization
    trajectory = {i: ([], []) for i in range(4)}  # env -> (states after each step, normalised actions)
    history_at_start = dict(rec.histories)
    for step in range(1, 7):
        actions = 0.3 * torch.randn(4, 12, generator=gen)
        if step == 4:  # envs 1 and 2 were reset at the end of step 3: their new histories
            history_after_reset = {i: rec.histories[i] for i in (1, 2)}
            members_after_reset = env.member_ids.clone()
        for i in range(4):
            trajectory[i][1].append(norm.normalize_action(actions[i]))
        env.step(actions)
        for i in range(4):
            trajectory[i][0].append(env.state[i].clone())
        if step == 3:
            for i in (1, 2):
                trajectory[i] = ([], [])

    def check(env_id, history, steps_states, steps_actions):
        states_h, applied = history
        member = None if dynamics == "mean" else int(env.member_ids[env_id])
        states = torch.cat([states_h, torch.stack(steps_states[:-1])]) if len(steps_states) > 1 else states_h
        actions = torch.cat([applied, torch.stack(steps_actions)])
        if base_type == "mlp":  # MLP models see the last M steps only
            states, actions = states[-M:], actions[-M:]
        expected = rollout_reference(model, states, actions, member)
        torch.testing.assert_close(env.state[env_id], expected, atol=1e-5, rtol=1e-4)

    # Envs 0 and 3 ran 6 steps from their first history; envs 1 and 2 ran 3 steps from their new one.
    for i in (0, 3):
        check(i, history_at_start[i], *trajectory[i])
    for i in (1, 2):
        assert int(members_after_reset[i]) == int(env.member_ids[i])
        check(i, history_after_reset[i], *trajectory[i])


def test_member_mode_differs_from_mean_and_members_are_drawn_per_env(dataset):
    model = small_model()
    member_env = make_env(dataset, model=copy.deepcopy(model), num_envs=64, dynamics="member")
    assert set(member_env.member_ids.tolist()) == {0, 1, 2}
    mean_env = make_env(dataset, model=copy.deepcopy(model), num_envs=64, dynamics="mean")
    # Same seed, same histories: the first step differs only through the dynamics mode.
    torch.testing.assert_close(member_env.state, mean_env.state)
    member_env.step(torch.zeros(64, 12))
    mean_env.step(torch.zeros(64, 12))
    assert not torch.allclose(member_env.state, mean_env.state)


def test_penalty_sign_and_dt_scaling(dataset):
    for lam in (0.0, 2.5):
        env = make_env(dataset, uncertainty_penalty=lam)
        rec = Recorder(env)
        _, reward, _, extras = env.step(torch.zeros(4, 12))
        u = rec.outputs[-1].epistemic
        assert bool((u > 0).all())
        task_reward = env.last_step_terms["task"]
        torch.testing.assert_close(reward, task_reward - lam * u * TASK.dt)
        torch.testing.assert_close(env.last_step_terms["uncertainty_penalty"], -lam * u * TASK.dt)
        assert float(extras["log"]["Imagination/task_reward"]) == pytest.approx(float(task_reward.mean()), rel=1e-5)
    with pytest.raises(RwmuError, match="lambda"):
        make_env(dataset, uncertainty_penalty=-1.0)


def test_reduction_option_changes_uncertainty(dataset):
    rewards = {}
    for reduction in ("std_sum", "var_sum"):
        env = make_env(dataset, reduction=reduction, dynamics="mean")
        rec = Recorder(env)
        env.step(torch.zeros(4, 12))
        rewards[reduction] = rec.outputs[-1].epistemic
    assert not torch.allclose(rewards["std_sum"], rewards["var_sum"])


def test_observation_and_last_action_after_reset(dataset):
    env = make_env(dataset)
    obs = env.get_observations()["policy"]
    expected = build_policy_observation(env.state_physical, env.commands, env.last_actions, TASK)
    torch.testing.assert_close(obs, expected)
    # The last action after a reset is the history's last action column (the action that led to the state).
    assert env.last_actions.abs().sum() > 0
    torch.testing.assert_close(env.state, env.normalization.normalize_state(env.state_physical))
    force_termination(env, {})  # no env restarts: the observation shows the action just applied
    actions = torch.full((4, 12), 0.25)
    obs = env.step(actions)[0]["policy"]
    torch.testing.assert_close(obs[:, -12:], actions)


def test_pushes_kick_the_imagined_base_velocity(dataset):
    model = small_model()
    task_env = make_env(dataset, model=model, pushes=True)
    pushes = task_env.core.push_scheduler
    pushes.config = dataclasses.replace(pushes.config, interval_steps=(1, 2))
    rec = Recorder(task_env)
    force_termination(task_env, {})
    pushes.reset()
    task_env.step(torch.zeros(4, 12))
    predicted = task_env.normalization.denormalize_state(rec.outputs[-1].state)
    kick = task_env.state_physical[:, :2] - predicted[:, :2]
    assert bool(pushes.pushed.all())
    assert float(kick.abs().max()) <= 0.5 and float(kick.abs().min()) > 0
    torch.testing.assert_close(task_env.state_physical[:, 2:], predicted[:, 2:])
    torch.testing.assert_close(task_env.state, task_env.normalization.normalize_state(task_env.state_physical))


def test_step_statistics_and_reproducibility(dataset):
    def run():
        env = make_env(dataset, model=small_model(), pushes=True)
        gen = torch.Generator().manual_seed(0)
        for _ in range(5):
            env.step(torch.randn(4, 12, generator=gen))
        return env.step_statistics(), env.state.clone()

    (stats_a, state_a), (stats_b, state_b) = run(), run()
    assert stats_a == stats_b
    torch.testing.assert_close(state_a, state_b)
    assert set(stats_a) == {"reward", "task_reward", "epistemic_uncertainty"}


def test_step_statistics_are_the_means_of_the_recorded_steps(dataset):
    env = make_env(dataset, uncertainty_penalty=0.5, log_window=3)
    assert all(math.isnan(v) for v in env.step_statistics().values())  # nothing recorded yet
    rec = Recorder(env)
    rewards, tasks, epistemic = [], [], []
    for _ in range(4):
        _, reward, _, _ = env.step(torch.zeros(4, 12))
        rewards.append(float(reward.mean()))
        tasks.append(float(env.last_step_terms["task"].mean()))
        epistemic.append(float(rec.outputs[-1].epistemic.mean()))
    last2 = env.step_statistics(2)  # mean over steps of the per-step means over envs
    assert last2["reward"] == pytest.approx((rewards[2] + rewards[3]) / 2, rel=1e-5)
    assert last2["task_reward"] == pytest.approx((tasks[2] + tasks[3]) / 2, rel=1e-5)
    assert last2["epistemic_uncertainty"] == pytest.approx((epistemic[2] + epistemic[3]) / 2, rel=1e-5)
    kept = env.step_statistics()  # log_window = 3: the first step has dropped out
    assert kept["reward"] == pytest.approx(sum(rewards[1:]) / 3, rel=1e-5)


def test_errors_for_unusable_inputs(dataset):
    short = make_synthetic_dataset(1, M, task=TASK, seed=0)  # no (M+1)-row window
    with pytest.raises(RwmuError, match="history"):
        make_env(short)
    wrong = WorldModelEnsemble(
        WorldModelConfig(
            state_dim=6, action_dim=2, contact_dim=2, rnn_hidden_size=8, rnn_num_layers=1, history_horizon=M
        )
    )
    wrong.normalization = None
    with pytest.raises(RwmuError, match="do not match"):
        make_env(dataset, model=wrong)


GO2 = get_task("go2_flat")


def go2_model(
    clearance: float, termination_logit: float, leg_clearance: float = 0.1, contact_logit: float = -10.0
) -> WorldModelEnsemble:
    """A tiny Go2 world model that keeps the state (zero state deltas) and predicts a fixed body clearance [m], leg
    clearances, termination logit and contact logits, so the terminations and contacts each mode reports are known."""
    torch.manual_seed(0)
    arch = ArchitectureConfig(
        ensemble_size=2, history_horizon=M, rnn_hidden_size=16, rnn_num_layers=1, head_shape=(16,)
    )
    model = WorldModelEnsemble(arch.to_model_config(GO2.dims))
    model.normalization = Normalization.from_task(GO2)
    with torch.no_grad():
        extension = (0.3, clearance) + (leg_clearance,) * 4
        for head, values in (
            (model.state_heads.mean, None),
            (model.auxiliary_heads.extension, extension),
            (model.auxiliary_heads.termination, (termination_logit,)),
            (model.auxiliary_heads.contact, (contact_logit,) * 8),
        ):
            last = head.num_layers - 1
            getattr(head, f"weight_{last}").zero_()
            bias = getattr(head, f"bias_{last}")
            if values is None:
                bias.zero_()
            else:
                normalized = (
                    model.normalization.normalize_extension(torch.tensor(values))
                    if len(values) == 6
                    else (torch.tensor(values))
                )
                bias.copy_(normalized.expand_as(bias))
    return model.eval()


@pytest.fixture(scope="module")
def go2_dataset():
    ds = make_synthetic_dataset(3, 60, task=GO2, seed=0)
    ds.data[:, GO2.dims.state_slice][:, 6:9] = (0.0, 0.0, -1.0)  # upright: only the clearance can end an episode
    return ds


@pytest.mark.parametrize(
    ("mode", "clearance", "logit", "falls"),
    [
        ("rule", -0.02, -10.0, True),
        ("rule", 0.1, 10.0, False),
        ("auto", -0.02, -10.0, True),
        ("head", -0.02, -10.0, False),
        ("head", 0.1, 10.0, True),
    ],
)
def test_termination_rule_on_predicted_clearance_or_learned_head(go2_dataset, mode, clearance, logit, falls):
    env = ImaginationEnv(
        go2_model(clearance, logit),
        go2_dataset,
        GO2,
        ImaginationConfig(num_envs=4, pushes=False, termination=mode),
        seed=0,
    )
    _, _, dones, extras = env.step(torch.zeros(4, 12))
    assert bool(dones.bool().all()) == falls and not bool(extras["time_outs"].any())
    assert bool(dones.bool().any()) == falls


def test_rule_mode_needs_the_extension_columns_in_the_model(dataset):
    with pytest.raises(RwmuError, match="defines no termination rule"):
        make_env(dataset, termination="rule")  # the ANYmal task has no rule
    assert make_env(dataset, termination="auto").termination_rule is None  # auto falls back to the head


def test_excess_penalty_charges_only_uncertainty_above_the_data_quantile(dataset):
    model = small_model()
    env = make_env(dataset, model=model, uncertainty_penalty=2.0, penalty="excess", penalty_quantile=0.5)
    reference = env.uncertainty_reference
    assert reference["windows"] > 0 and "imagination dataset" in reference["source"]  # the model stores none
    u0 = uncertainty_quantile(reference, 0.5, model.config.reduction)
    assert env.uncertainty.floor == pytest.approx(u0) and u0 > 0
    rec = Recorder(env)
    env.step(torch.zeros(4, 12))
    u = rec.outputs[-1].epistemic
    torch.testing.assert_close(env.last_step_terms["uncertainty_penalty"], -2.0 * (u - u0).clamp(min=0) * TASK.dt)
    # A model that stores a reference uses it as is.
    model.uncertainty_reference = {**reference, "std_sum": [2 * v for v in reference["std_sum"]], "source": "x"}
    again = make_env(dataset, model=model, penalty="excess", penalty_quantile=0.5)
    assert again.uncertainty.floor == pytest.approx(2 * u0)


def test_halting_ends_episodes_where_the_model_is_unsure(dataset):
    never = make_env(dataset, halt_quantile=None)
    assert never.uncertainty.halt_level == math.inf
    model = small_model()
    env = make_env(dataset, model=model, halt_quantile=0.5)
    rec = Recorder(env)
    _, _, dones, extras = env.step(torch.full((4, 12), 3.0))  # far from the data's actions
    u = rec.outputs[-1].epistemic
    halted = u > env.uncertainty.halt_level
    assert bool(halted.any())
    assert bool(dones.bool()[halted].all())
    assert float(extras["log"]["Imagination/halted"]) == pytest.approx(float(halted.float().mean()))


def test_uncertainty_reference_quantiles(dataset):
    model = small_model()
    data = torch.as_tensor(dataset.data).clone()
    norm = model.normalization
    data[:, dataset.dims.state_slice] = norm.normalize_state(data[:, dataset.dims.state_slice])
    data[:, dataset.dims.action_slice] = norm.normalize_action(data[:, dataset.dims.action_slice])
    starts = torch.tensor([0, 10, 20, 70, 130])
    ref = uncertainty_reference(model, data, starts, source="test")
    assert ref["windows"] == 5 and ref["source"] == "test"
    for reduction in ("std_sum", "var_sum"):
        values = ref[reduction]
        assert len(values) == len(ref["levels"]) and values == sorted(values)
        # The extremes are the smallest and largest u of the five windows, as imagination would compute them.
        model.reset()
        s, a = [], []
        for t in starts.tolist():
            s.append(data[t : t + M, dataset.dims.state_slice])
            a.append(data[t + 1 : t + M + 1, dataset.dims.action_slice])
        u = model.predict(torch.stack(s), torch.stack(a), reduction=reduction).epistemic
        assert values[0] == pytest.approx(float(u.min()), rel=1e-5)
        assert values[-1] == pytest.approx(float(u.max()), rel=1e-5)
        assert uncertainty_quantile(ref, 0.997, reduction) == pytest.approx((values[-3] + values[-2]) / 2)


def test_standing_share_of_the_commands_is_configurable(dataset):
    shares = {}
    for fraction in (0.0, 0.5, None):
        env = make_env(dataset, num_envs=400, standing_fraction=fraction)
        shares[fraction] = float((env.commands.abs().sum(-1) == 0).float().mean())
    assert shares[0.0] == 0.0 and 0.4 < shares[0.5] < 0.6 and shares[None] < 0.1  # None: the task's 2 %
    assert ImaginationConfig().standing_fraction == 0.125  # the evaluation's share: 1 of 8 schedules stands
    with pytest.raises(RwmuError, match="standing fraction"):
        make_env(dataset, standing_fraction=1.5)


@pytest.mark.parametrize(
    ("mode", "leg", "logit", "undesired"),
    [("auto", -0.01, -10.0, 1.0), ("auto", 0.1, 10.0, 0.0), ("head", -0.01, 10.0, 1.0), ("head", -0.01, -10.0, 0.0)],
)
def test_undesired_contacts_from_predicted_leg_clearance_or_the_head(go2_dataset, mode, leg, logit, undesired):
    env = ImaginationEnv(
        go2_model(0.1, -10.0, leg_clearance=leg, contact_logit=logit),
        go2_dataset,
        GO2,
        ImaginationConfig(num_envs=4, pushes=False, contacts=mode),
        seed=0,
    )
    env.step(torch.zeros(4, 12))
    term = env.last_step_terms["undesired_contacts"]  # weight -1 x number of undesired contacts x dt
    torch.testing.assert_close(term, torch.full((4,), -4.0 * undesired * GO2.dt))


def test_a_start_pool_hands_out_the_starts_of_one_draw_in_order(dataset):
    """Drawing starts ahead in a batch changes when they are drawn, not what they are."""
    model = small_model("gru")

    def pool(batch_size):
        env = make_env(dataset, model=model, init_data_ratio=0.5)
        generator = torch.Generator().manual_seed(7)
        return StartPool(env.history_sampler, model, generator, 0.5, 0.1, batch_size)

    ahead, one_by_one = pool(6), pool(0)
    taken = [ahead.take(2), ahead.take(2), ahead.take(2)]  # one draw of 6, handed out 2 at a time
    whole = one_by_one.take(6)  # the same generator state: the same draw of 6
    states = torch.cat([t.history.states for t in taken])
    torch.testing.assert_close(states, whole.history.states, atol=0, rtol=0)
    torch.testing.assert_close(torch.cat([t.hidden for t in taken], dim=-2), whole.hidden, atol=0, rtol=0)
    torch.testing.assert_close(whole.hidden, model.warm_up(whole.history.states[:, :-1], whole.history.applied_actions))
    assert ahead._available == 0
    ahead.take(1)  # empty: draws a new batch of 6
    assert ahead._available == 5


def test_starts_can_keep_the_command_recorded_at_their_dataset_row(dataset):
    """data_command_ratio: the share of resets whose command is the data's at the start row, not a fresh draw."""
    # Each row's recorded command is a function of its state, so the env's command can be checked against its state.
    states = dataset.data[:, dataset.dims.state_slice]
    commands = np.tanh(states[:, :3]).astype(np.float32)
    meta = {**dataset.meta, "context_names": list(COMMAND_CONTEXT_NAMES)}
    recorded = TrajectoryDataset(dataset.data.copy(), dataset.dims, dataset.trajectory_offsets, meta, commands)

    def expected(env: ImaginationEnv) -> torch.Tensor:  # (n, 3): the command recorded with each env's current state
        return torch.tanh(env.state_physical[:, :3])

    kept = make_env(recorded, num_envs=64, init_data_ratio=1.0, data_command_ratio=1.0, standing_fraction=0.0)
    torch.testing.assert_close(kept.commands, expected(kept), atol=1e-5, rtol=1e-5)
    drawn = make_env(recorded, num_envs=64, init_data_ratio=1.0, standing_fraction=0.0)  # default 0: fresh draws
    assert not torch.allclose(drawn.commands, expected(drawn), atol=1e-3)
    half = make_env(recorded, num_envs=400, init_data_ratio=1.0, data_command_ratio=0.5, standing_fraction=0.0)
    share = float(torch.isclose(half.commands, expected(half), atol=1e-5).all(-1).float().mean())
    assert 0.4 < share < 0.6
    # After an episode ends, the new start gets its own row's command again.
    kept.reset_envs(torch.arange(0, 64, 2))
    torch.testing.assert_close(kept.commands, expected(kept), atol=1e-5, rtol=1e-5)
    with pytest.raises(RwmuError, match="command columns"):
        make_env(dataset, data_command_ratio=0.5)
    with pytest.raises(RwmuError, match="data_command_ratio"):
        make_env(recorded, data_command_ratio=1.5)


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="needs a CPU with bfloat16 matrix units")
def test_bfloat16_model_precision_follows_the_float32_rollout(dataset):
    def rollout(precision):
        env = make_env(dataset, model=small_model(), model_precision=precision)
        gen = torch.Generator().manual_seed(0)
        rewards = []
        for _ in range(5):
            _, reward, _, _ = env.step(0.3 * torch.randn(4, 12, generator=gen))
            rewards.append(reward)
        return env.model.inference_dtype, env.state.clone(), torch.stack(rewards)

    dtype, state, rewards = rollout("bfloat16")
    dtype32, state32, rewards32 = rollout("float32")
    assert (dtype, dtype32) == (torch.bfloat16, torch.float32)
    assert state.dtype == torch.float32
    assert not torch.equal(state, state32)
    torch.testing.assert_close(state, state32, atol=5e-2 * float(state32.abs().max()), rtol=0)
    torch.testing.assert_close(rewards, rewards32, atol=5e-2 * float(rewards32.abs().max()), rtol=0)


def test_bfloat16_model_precision_needs_a_gru_model(dataset):
    with pytest.raises(RwmuError, match="needs a GRU world model on a CPU"):
        make_env(dataset, model=small_model("mlp"), model_precision="bfloat16")


def test_the_deployable_go2_gets_its_critic_group_in_imagination():
    deploy = get_task("go2_flat_deploy")
    data = make_synthetic_dataset(3, 60, task=deploy, seed=0)
    env = ImaginationEnv(go2_model(0.1, -10.0), data, deploy, ImaginationConfig(num_envs=4, pushes=False), seed=0)
    obs, _, _, _ = env.step(torch.zeros(4, 12))
    assert obs["policy"].shape == (4, 45) and obs["critic"].shape == (4, 60)
    torch.testing.assert_close(obs["critic"][:, :3], env.state_physical[:, 0:3])  # base velocity: privileged, exact
