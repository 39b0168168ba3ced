import pytest
import torch

from rwmu.models import WorldModelConfig, WorldModelEnsemble, epistemic_uncertainty
from rwmu.models.checkpoint import infer_config
from tests.models.reference_impl import ReferenceEnsemble

S, A, C, T, B, M = 6, 3, 4, 1, 3, 5


def small_config(**kw):
    base = dict(
        state_dim=S,
        action_dim=A,
        contact_dim=C,
        termination_dim=T,
        ensemble_size=B,
        history_horizon=M,
        rnn_hidden_size=32,
        rnn_num_layers=2,
        state_mean_shape=(16,),
        state_logstd_shape=(16,),
        contact_shape=(16,),
        termination_shape=(16,),
        extension_shape=(16,),
    )
    base.update(kw)
    return WorldModelConfig(**base)


def reference_pair(mlp=False):
    torch.manual_seed(0)
    ref = ReferenceEnsemble(S, A, 0, C, T, B, hidden=32, width=16, mlp_shape=(24, 20) if mlp else None, M=M)
    sd = ref.state_dict()
    cfg = infer_config(sd, history_horizon=M)
    ours = WorldModelEnsemble(cfg)
    ours.load_state_dict(sd, strict=True)
    return ref.eval(), ours.eval()


def test_state_dict_uses_reference_names_and_shapes():
    model = WorldModelEnsemble(WorldModelConfig())  # paper configuration, S=45, A=12
    sd = model.state_dict()
    assert tuple(sd["state_base.memory.rnn.weight_ih_l0"].shape) == (768, 57)
    assert tuple(sd["state_base.memory.rnn.weight_hh_l1"].shape) == (768, 256)
    assert tuple(sd["state_heads.4.state_min_logstd"].shape) == (1, 45)
    assert tuple(sd["state_heads.0.state_mean_layers.0.weight"].shape) == (128, 256)
    assert tuple(sd["state_heads.2.state_mean_layers.2.weight"].shape) == (45, 128)
    assert tuple(sd["auxiliary_heads.3.contact_layers.2.weight"].shape) == (8, 128)
    assert tuple(sd["auxiliary_heads.0.termination_layers.2.bias"].shape) == (1,)
    assert not any("extension" in k for k in sd)  # E = 0
    assert not any("weight_0" in k or "min_logstd" == k.split(".")[-1] for k in sd)


def test_infer_config_reads_architecture_from_shapes():
    cfg = infer_config(WorldModelEnsemble(WorldModelConfig()).state_dict())
    assert (cfg.state_dim, cfg.action_dim, cfg.contact_dim, cfg.termination_dim) == (45, 12, 8, 1)
    assert (cfg.ensemble_size, cfg.rnn_hidden_size, cfg.rnn_num_layers, cfg.base_type) == (5, 256, 2, "gru")
    lstm = infer_config(WorldModelEnsemble(small_config(base_type="lstm", extension_dim=2)).state_dict())
    assert lstm.base_type == "lstm" and lstm.extension_dim == 2
    mlp = infer_config(
        WorldModelEnsemble(small_config(base_type="mlp", mlp_base_shape=(24, 20))).state_dict(), history_horizon=M
    )
    assert mlp.base_type == "mlp" and mlp.action_dim == A and mlp.mlp_base_shape == (24, 20)


@pytest.mark.parametrize("mode", ["mean", "member"])
def test_matches_reference_outputs_and_recurrent_continuation(mode):
    ref, ours = reference_pair()
    g = torch.Generator().manual_seed(1)
    n = 7
    s, a = torch.randn(n, M, S, generator=g), torch.randn(n, M, A, generator=g)
    ids = torch.randint(0, B, (n,), generator=g) if mode == "member" else None
    ref.reset()
    ours.reset()
    for _ in range(3):  # history, then one-step continuation twice
        r = ref(s, a, ids)
        o = ours.predict(s, a, member_ids=ids)
        torch.testing.assert_close(o.state, r[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(o.aleatoric, r[1], atol=1e-5, rtol=0)
        torch.testing.assert_close(o.epistemic, r[2], atol=1e-5, rtol=0)
        torch.testing.assert_close(o.contact, r[3], atol=1e-5, rtol=0)
        torch.testing.assert_close(o.termination, r[4], atol=1e-5, rtol=0)
        s = o.state.unsqueeze(1)
        a = torch.randn(n, 1, A, generator=g)
    assert o.extension is None


def test_mlp_base_matches_reference():
    ref, ours = reference_pair(mlp=True)
    s, a = torch.randn(5, M, S), torch.randn(5, M, A)
    r = ref(s, a)
    o = ours.predict(s, a)
    torch.testing.assert_close(o.state, r[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(o.epistemic, r[2], atol=1e-5, rtol=0)


def test_our_state_dict_loads_into_reference():
    torch.manual_seed(3)
    ours = WorldModelEnsemble(small_config()).eval()
    ref = ReferenceEnsemble(S, A, 0, C, T, B, hidden=32, width=16).eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    s, a = torch.randn(4, M, S), torch.randn(4, M, A)
    torch.testing.assert_close(ours.predict(s, a).state, ref(s, a)[0], atol=1e-5, rtol=0)


def test_reductions_and_single_member():
    means = torch.tensor([[[0.0, 1.0]], [[2.0, 3.0]], [[4.0, 8.0]]])  # (B=3, n=1, S=2)
    # std across members (unbiased): dim0 -> 2.0, dim1 -> sqrt(((1-4)^2+(3-4)^2+(8-4)^2)/2) = sqrt(13)
    torch.testing.assert_close(epistemic_uncertainty(means, "std_sum"), torch.tensor([2.0 + 13**0.5]))
    torch.testing.assert_close(epistemic_uncertainty(means, "var_sum"), torch.tensor([4.0 + 13.0]))
    assert epistemic_uncertainty(means[:1], "std_sum").item() == 0.0
    single = WorldModelEnsemble(small_config(ensemble_size=1))
    out = single.predict(torch.randn(3, M, S), torch.randn(3, M, A))
    assert torch.equal(out.epistemic, torch.zeros(3))
    model = WorldModelEnsemble(small_config())
    s, a = torch.randn(3, M, S), torch.randn(3, M, A)
    std = model.predict(s, a, reduction="std_sum").epistemic
    model.reset()
    var = model.predict(s, a, reduction="var_sum").epistemic
    assert not torch.allclose(std, var)


def test_member_mode_picks_each_rows_member():
    model = WorldModelEnsemble(small_config()).eval()
    s, a = torch.randn(4, M, S), torch.randn(4, M, A)
    per_member = []
    for b in range(B):
        model.reset()
        per_member.append(model.predict(s, a, member_ids=torch.full((4,), b)).state)
    model.reset()
    ids = torch.tensor([2, 0, 1, 2])
    mixed = model.predict(s, a, member_ids=ids).state
    for row, b in enumerate(ids.tolist()):
        torch.testing.assert_close(mixed[row], per_member[b][row])
    model.reset()
    mean = model.predict(s, a).state
    torch.testing.assert_close(mean, torch.stack(per_member).mean(0), atol=1e-6, rtol=0)


def test_partial_reset_and_env_ids_warm_up():
    model = WorldModelEnsemble(small_config()).eval()
    n = 4
    g = torch.Generator().manual_seed(0)
    s, a = torch.randn(n, M, S, generator=g), torch.randn(n, M, A, generator=g)
    model.reset(num_envs=n)
    model.predict(s, a)
    step_s, step_a = torch.randn(n, 1, S, generator=g), torch.randn(n, 1, A, generator=g)
    # env 1 resets: zero its state and warm it up with a new history; others continue.
    new_s, new_a = torch.randn(1, M, S, generator=g), torch.randn(1, M, A, generator=g)
    model.reset(torch.tensor([1]))
    model.predict(new_s, new_a, env_ids=torch.tensor([1]))
    out = model.predict(step_s, step_a).state
    # Oracle: env 1 alone from scratch; env 0 continuing without interruption.
    solo = WorldModelEnsemble(small_config()).eval()
    solo.load_state_dict(model.state_dict())
    solo.predict(new_s, new_a)
    torch.testing.assert_close(out[1], solo.predict(step_s[1:2], step_a[1:2]).state[0], atol=1e-6, rtol=0)
    solo.reset()
    solo.predict(s, a)
    torch.testing.assert_close(out[0], solo.predict(step_s, step_a).state[0], atol=1e-6, rtol=0)


def test_predict_rejects_mismatched_inputs():
    model = WorldModelEnsemble(small_config())
    with pytest.raises(ValueError, match="widths"):
        model.predict(torch.randn(2, M, S + 1), torch.randn(2, M, A))
    model.predict(torch.randn(2, M, S), torch.randn(2, M, A))
    with pytest.raises(ValueError, match="reset"):
        model.predict(torch.randn(3, 1, S), torch.randn(3, 1, A))
