"""The fused GRU inference (rwmu.models.fused_step) computes what nn.GRU and the stacked heads compute."""

import pytest
import torch

from rwmu.models import WorldModelConfig, WorldModelEnsemble

S, A, M = 6, 3, 5


def config(**kw):
    base = dict(
        state_dim=S,
        action_dim=A,
        contact_dim=4,
        termination_dim=1,
        ensemble_size=3,
        history_horizon=M,
        rnn_hidden_size=16,
        rnn_num_layers=2,
        state_mean_shape=(8,),
        state_logstd_shape=(8,),
        contact_shape=(8,),
        termination_shape=(8,),
        extension_shape=(8,),
    )
    base.update(kw)
    return WorldModelConfig(**base)


def run(model, fused, s, a, s1, a1, ids, env_ids):
    """History, a step, a partial warm-up of ``env_ids``, another step; the outputs and the final hidden state."""
    model.fused_inference = fused
    model.reset(num_envs=s.shape[0])
    outs = [model.predict(s, a, member_ids=ids), model.predict(s1, a1, member_ids=ids)]
    outs.append(model.predict(s[env_ids, :3], a[env_ids, :3], env_ids=env_ids))
    outs.append(model.predict(s1, a1, member_ids=ids))
    model.reset()  # no allocated state: the next history starts from zeros with its own batch size
    outs.append(model.predict(s[:2], a[:2], member_ids=None if ids is None else ids[:2]))
    return outs, model._hidden.clone()


def inputs(mode: str):
    """Histories (9, M, ·), one step (9, 1, ·), members (member mode) and the rows of a partial warm-up."""
    g = torch.Generator().manual_seed(1)
    n = 9
    s, a = torch.randn(n, M, S, generator=g), torch.randn(n, M, A, generator=g)
    s1, a1 = torch.randn(n, 1, S, generator=g), torch.randn(n, 1, A, generator=g)
    ids = torch.randint(0, 3, (n,), generator=g) if mode == "member" else None
    return s, a, s1, a1, ids, torch.tensor([1, 4, 7])


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {
            "rnn_num_layers": 1,
            "extension_dim": 2,
            "contact_shape": (8, 4),
            "state_logstd_shape": (5,),
            "termination_dim": 0,
        },
    ],
)
@pytest.mark.parametrize("mode", ["member", "mean"])
def test_fused_inference_equals_nn_gru_and_stacked_heads(kw, mode):
    torch.manual_seed(0)
    model = WorldModelEnsemble(config(**kw)).eval()
    s, a, s1, a1, ids, env_ids = inputs(mode)
    fused, fused_hidden = run(model, True, s, a, s1, a1, ids, env_ids)
    plain, plain_hidden = run(model, False, s, a, s1, a1, ids, env_ids)
    torch.testing.assert_close(fused_hidden, plain_hidden, atol=1e-6, rtol=0)
    for f, p in zip(fused, plain):
        for name in ("state", "aleatoric", "epistemic", "extension", "contact", "termination"):
            x, y = getattr(f, name), getattr(p, name)
            assert (x is None) == (y is None), name
            if x is not None:
                assert x.shape == y.shape, name
                torch.testing.assert_close(x, y, atol=1e-6, rtol=0, msg=name)


def test_without_aleatoric_the_other_outputs_are_unchanged():
    torch.manual_seed(0)
    model = WorldModelEnsemble(config()).eval()
    s, a = torch.randn(4, M, S), torch.randn(4, M, A)
    ids = torch.tensor([0, 2, 1, 2])
    for fused in (True, False):
        model.fused_inference = fused
        model.reset()
        full = model.predict(s, a, member_ids=ids)
        model.reset()
        lean = model.predict(s, a, member_ids=ids, aleatoric=False)
        assert full.aleatoric is not None and lean.aleatoric is None
        for name in ("state", "epistemic", "contact", "termination"):
            torch.testing.assert_close(getattr(lean, name), getattr(full, name), atol=0, rtol=0)


def test_packed_weights_follow_training_and_loading():
    torch.manual_seed(0)
    model = WorldModelEnsemble(config())
    s, a = torch.randn(4, M, S), torch.randn(4, M, A)

    def both():
        model.eval()
        model.fused_inference = True
        model.reset()
        fused = model.predict(s, a).state
        model.fused_inference = False
        model.reset()
        return fused, model.predict(s, a).state

    before = both()[0]
    model.train()
    loss = sum(p.square().sum() for p in model.parameters())
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()  # in-place updates: the packed copies must be rebuilt
    fused, plain = both()
    assert not torch.allclose(fused, before)
    torch.testing.assert_close(fused, plain, atol=1e-6, rtol=0)
    other = WorldModelEnsemble(config())
    model.load_state_dict(other.state_dict())
    fused, plain = both()
    torch.testing.assert_close(fused, plain, atol=1e-6, rtol=0)


@pytest.mark.parametrize("base_type", ["gru", "lstm"])
def test_warm_up_is_the_state_after_reading_the_history(base_type):
    torch.manual_seed(0)
    model = WorldModelEnsemble(config(base_type=base_type)).eval()
    s, a = torch.randn(5, M, S), torch.randn(5, M, A)
    for fused in (True, False):
        model.fused_inference = fused
        model.reset()
        model.predict(s, a)
        after_predict = model._hidden
        warmed = model.warm_up(s, a)
        for x, y in zip(
            warmed if base_type == "lstm" else (warmed,), after_predict if base_type == "lstm" else (after_predict,)
        ):
            torch.testing.assert_close(x, y, atol=1e-6, rtol=0)
    model.reset(num_envs=5)
    rows = torch.tensor([0, 3])
    model.set_hidden(rows, model.warm_up(s[rows], a[rows]))
    expected = model.warm_up(s, a)
    got = model._hidden
    for x, y in zip(got if base_type == "lstm" else (got,), expected if base_type == "lstm" else (expected,)):
        torch.testing.assert_close(x[..., rows, :], y[..., rows, :], atol=1e-6, rtol=0)
        assert x[..., 1, :].abs().sum() == 0  # the other environments keep their (zero) state


def test_default_inference_is_fused_on_a_cpu_only():
    model = WorldModelEnsemble(config())
    assert model.fused_inference is None
    assert model._fused_for(torch.zeros(1, 1, S))
    assert not model._fused_for(torch.zeros(1, 1, S, device="meta"))  # any other device: nn.GRU (cuDNN on a GPU)
    model.fused_inference = False
    assert not model._fused_for(torch.zeros(1, 1, S))
    assert not WorldModelEnsemble(config(base_type="lstm"))._fused_for(torch.zeros(1, 1, S))


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="needs a CPU with bfloat16 matrix units")
@pytest.mark.parametrize("mode", ["member", "mean"])
def test_bfloat16_products_stay_close_to_float32_and_keep_the_state_in_float32(mode):
    torch.manual_seed(0)
    model = WorldModelEnsemble(config(extension_dim=2)).eval()
    s, a, s1, a1, ids, env_ids = inputs(mode)
    exact, exact_hidden = run(model, True, s, a, s1, a1, ids, env_ids)
    model.inference_dtype = torch.bfloat16
    low, low_hidden = run(model, True, s, a, s1, a1, ids, env_ids)
    assert low_hidden.dtype == torch.float32
    torch.testing.assert_close(low_hidden, exact_hidden, atol=2e-2, rtol=0)
    assert not torch.equal(low_hidden, exact_hidden)  # the products did run in bfloat16
    for f, p in zip(low, exact):
        for name in ("state", "aleatoric", "epistemic", "extension", "contact", "termination"):
            x, y = getattr(f, name), getattr(p, name)
            assert x.dtype == torch.float32, name
            torch.testing.assert_close(x, y, atol=3e-2 * float(y.abs().max()), rtol=0, msg=name)
    model.inference_dtype = torch.float32  # back: the packed weights follow the dtype
    again, again_hidden = run(model, True, s, a, s1, a1, ids, env_ids)
    torch.testing.assert_close(again_hidden, exact_hidden, atol=0, rtol=0)


def test_bfloat16_inference_is_refused_outside_the_fused_step():
    model = WorldModelEnsemble(config())
    model.inference_dtype = torch.bfloat16
    model.fused_inference = False
    with pytest.raises(ValueError, match="fused GRU step"):
        model.predict(torch.zeros(1, M, S), torch.zeros(1, M, A))
