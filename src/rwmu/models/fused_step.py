"""Recurrent inference of a GRU world model, fused for the CPU (benchmarks/bench_world_model.py).

:meth:`rwmu.models.WorldModelEnsemble.predict` of a GRU model runs :class:`FusedGRUStep`, above all for the step that
imagination repeats: one new (state, action) pair (T = 1) for every environment; also for the warm-up of reset
environments on their histories (T = M - 1, layer 0's input projection done for all steps at once). The maths is that of
``nn.GRU`` and the stacked heads (a test compares every output); what changes is how it is laid out for the CPU:

- Both bases read the same input, so their first-layer input projections are one GEMM, and every later layer of the
  two bases is one batched GEMM over the pair (their hidden states are stored stacked, ``(L, 2, n, H)``).
- The heads that read the same features share one GEMM for their first layers: state mean and log-std on the state
  base; extension, contact and termination on the auxiliary base.
- Biases are folded into the element-wise gate updates instead of being broadcast into every GEMM output.
- Every large intermediate of the one-step call lives in a workspace reused from step to step, and the new hidden
  state is written over the old one: no multi-megabyte allocation per step.
- The aleatoric term (the log-std heads) is computed only when asked for: imagination does not use it.
- In member mode (each environment follows one member) the auxiliary heads run for each row's own member only:
  rows grouped by member, one GEMM per member, instead of all B members and a gather.
- ``tanh(x)`` is computed as ``2 sigmoid(2 x) - 1``, the same function; torch's CPU sigmoid is about 4x faster.
- The epistemic reduction is written out (mean, squared deviations, sum) instead of ``var`` over the member
  dimension, which torch reduces slowly across that dimension (about 8 % of the unfused step at 4096 environments).

Optionally (``WorldModelEnsemble.inference_dtype = torch.bfloat16``, ``--env.model-precision bfloat16``) the matrix
products run in bfloat16: packed weights and GEMM inputs rounded to bfloat16, products accumulated in float32 by
oneDNN; the recurrent state, the gate non-linearities, the residual state update and every output stay float32. Not
the same maths: a test bounds the difference, and docs/performance.md measures it on trained models.

Packed weights are rebuilt when any parameter changes (its storage or its in-place version counter), so training
between calls, ``load_state_dict`` and ``.to(device)`` are all safe.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rwmu.models.disagreement import epistemic_uncertainty
from rwmu.models.stacked import StackedMLP


class _Workspace:
    """Named buffers reused while their shape, dtype and device stay the same."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(
        self, name: str, shape: tuple[int, ...], like: torch.Tensor, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """The buffer ``name`` of ``shape`` on ``like``'s device, in ``dtype`` (default ``like``'s)."""
        dtype = dtype or like.dtype
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype or buf.device != like.device:
            buf = torch.empty(shape, dtype=dtype, device=like.device)
            self._buffers[name] = buf
        return buf


def _first_layers(mlps: list[StackedMLP], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Concatenate the first layers of ``mlps`` (all reading the same features) into one GEMM, in ``dtype``.

    Returns ``weight`` ``(in, sum_k B * out_k)``, ``bias`` ``(sum_k B * out_k,)`` and each MLP's ``out_k``.
    """
    weights = [m.weight_0.detach().reshape(-1, m.weight_0.shape[-1]) for m in mlps]  # (B * out, in)
    biases = [m.bias_0.detach().reshape(-1) for m in mlps]
    return (
        torch.cat(weights).t().contiguous().to(dtype),
        torch.cat(biases).to(dtype),
        [m.weight_0.shape[1] for m in mlps],
    )


def _pack_later_layers(mlp: StackedMLP, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Layers ``1 ..`` of ``mlp`` for :func:`_later_layers`: ``(bias (B, 1, out), weight^T (B, in, out))`` each, in
    ``dtype`` (views of the parameters in float32)."""
    return [
        (
            getattr(mlp, f"bias_{i}").detach().unsqueeze(1).to(dtype),
            getattr(mlp, f"weight_{i}").detach().transpose(1, 2).to(dtype),
        )
        for i in range(1, mlp.num_layers)
    ]


def _split_members(first: torch.Tensor, widths: list[int], members: int) -> list[torch.Tensor]:
    """Views of a fused first-layer output ``(n, sum_k B * out_k)``: one ``(B, n, out_k)`` per MLP."""
    n, parts, start = first.shape[0], [], 0
    for width in widths:
        parts.append(first[:, start : start + members * width].view(n, members, width).transpose(0, 1))
        start += members * width
    return parts


def _later_layers(layers: list[tuple[torch.Tensor, torch.Tensor]], h: torch.Tensor) -> torch.Tensor:
    """Layers ``1 ..`` of an MLP (:func:`_pack_later_layers`) on its ReLU'd first-layer output ``h`` ``(B, n, out_0)``.
    Returns ``(B, n, out)`` in float32."""
    for i, (b, w) in enumerate(layers):
        if i:
            h = torch.relu(h)
        h = torch.baddbmm(b, h, w)
    return h.float()


class FusedGRUStep:
    """The fused one-step inference of a GRU :class:`~rwmu.models.WorldModelEnsemble` (module docstring).

    Args:
        model: the world model; held by reference, its parameters are read (and packed) at every call.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.workspace = _Workspace()
        self._key: tuple | None = None

    # ------------------------------------------------------------------ packing
    def _pack(self) -> None:
        m = self.model
        dtype = m.inference_dtype  # of the matrix products: float32, or bfloat16 (module docstring)
        key = (dtype, *((p.data_ptr(), p._version) for p in m.parameters()))
        if key == self._key:
            return
        self.dtype = dtype
        gs, ga = m.state_base.memory.rnn, m.auxiliary_base.memory.rnn
        self.num_layers, self.hidden_size = gs.num_layers, gs.hidden_size
        H = self.hidden_size
        with torch.no_grad():
            p = lambda rnn, name: getattr(rnn, name).detach()  # noqa: E731
            # Layer 0: one GEMM for both bases, x (n, in) @ (in, 2 * 3H).
            self.w_ih0 = torch.cat((p(gs, "weight_ih_l0"), p(ga, "weight_ih_l0"))).t().contiguous().to(dtype)
            self.w_ih, self.w_hh, self.b_rz, self.b_in, self.b_hn = [], [], [], [], []
            for layer in range(self.num_layers):
                stack = lambda name: torch.stack((p(gs, f"{name}_l{layer}"), p(ga, f"{name}_l{layer}")))  # noqa: E731
                self.w_hh.append(stack("weight_hh").transpose(1, 2).contiguous().to(dtype))  # (2, H, 3H)
                self.w_ih.append(stack("weight_ih").transpose(1, 2).contiguous().to(dtype) if layer else None)
                b_ih, b_hh = stack("bias_ih"), stack("bias_hh")  # (2, 3H)
                self.b_rz.append((b_ih[:, : 2 * H] + b_hh[:, : 2 * H]).unsqueeze(1))  # (2, 1, 2H)
                self.b_in.append(b_ih[:, 2 * H :].unsqueeze(1))  # (2, 1, H)
                self.b_hn.append(b_hh[:, 2 * H :].unsqueeze(1))
            heads = m.state_heads
            self.state_full = _first_layers([heads.mean, heads.logstd], dtype)
            self.state_mean_only = _first_layers([heads.mean], dtype)
            self.aux_mlps = [
                (name, getattr(m.auxiliary_heads, name))
                for name in ("extension", "contact", "termination")
                if getattr(m.auxiliary_heads, name) is not None
            ]
            self.aux_first = _first_layers([mlp for _, mlp in self.aux_mlps], dtype) if self.aux_mlps else None
            self.later = {
                name: _pack_later_layers(mlp, dtype)
                for name, mlp in [("mean", heads.mean), ("logstd", heads.logstd), *self.aux_mlps]
            }
        self._key = key

    # ------------------------------------------------------------------ the step
    def gru(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Advance both bases over a sequence, in place.

        Args:
            x: ``(n, T, S + A)`` the new (state, action) pairs; T = 1 is imagination's step, T = M - 1 a warm-up.
            hidden: ``(L, 2, n, H)`` both bases' hidden states (index 0 the state base, 1 the auxiliary base),
                overwritten with the new ones.

        Returns:
            ``(2, n, H)`` the top layer's new hidden state of each base (a view of ``hidden``).
        """
        self._pack()
        n, steps, H, low = x.shape[0], x.shape[1], self.hidden_size, self.dtype
        # The repeated one-step call reuses its buffers; a sequence (a reset's warm-up, of any size) gets its own.
        ws = self.workspace if steps == 1 else _Workspace()
        # Layer 0's input projection of both bases for every step at once: (n T, in) @ (in, 2 * 3H).
        same = low == x.dtype

        def gemm_input(h: torch.Tensor, name: str) -> torch.Tensor:
            """A float32 hidden state as a GEMM input: itself, or its copy in the GEMMs' dtype."""
            return h if same else ws.get(name, h.shape, x, low).copy_(h)

        projected = torch.mm(
            x.reshape(n * steps, -1).to(low), self.w_ih0, out=ws.get("gi0", (n * steps, 6 * H), x, low)
        )
        projected = projected.view(n, steps, 2, 3 * H)
        gh = ws.get("gh", (2, n, 3 * H), x, low)
        rz = ws.get("rz", (2, n, 2 * H), x)
        cand = ws.get("cand", (2, n, H), x)
        hn_out = gh[..., 2 * H :] if same else ws.get("hn", (2, n, H), x)  # W_hn h + b_hn, in float32
        for t in range(steps):
            gi = projected[:, t].transpose(0, 1)  # (2, n, 3H)
            for layer in range(self.num_layers):
                h = hidden[layer]
                if layer:
                    gi = torch.bmm(
                        gemm_input(hidden[layer - 1], "h_below"),
                        self.w_ih[layer],
                        out=ws.get("gi", (2, n, 3 * H), x, low),
                    )
                torch.bmm(gemm_input(h, "h_low"), self.w_hh[layer], out=gh)
                # r, z = sigmoid(W_i{r,z} x + W_h{r,z} h + b); n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), in
                # float32 whatever the GEMMs' dtype
                torch.add(gi[..., : 2 * H], gh[..., : 2 * H], out=rz).add_(self.b_rz[layer]).sigmoid_()
                r, z = rz[..., :H], rz[..., H:]
                hn = torch.add(gh[..., 2 * H :], self.b_hn[layer], out=hn_out).mul_(r)
                # tanh(x) = 2 sigmoid(2 x) - 1, the same function; torch's CPU sigmoid is 4x faster than its tanh
                torch.add(gi[..., 2 * H :], hn, out=cand).add_(self.b_in[layer]).mul_(2.0).sigmoid_().mul_(2.0).sub_(
                    1.0
                )
                torch.lerp(cand, h, z, out=h)  # h' = (1 - z) * n + z * h
        return hidden[-1]

    def __call__(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        hidden: torch.Tensor,
        member_ids: torch.Tensor | None,
        reduction: str,
        aleatoric: bool = True,
    ):
        """One prediction step.

        Args:
            state: ``(n, T, S)``; action: ``(n, T, A)`` (normalised); the heads read the last step.
            hidden: ``(L, 2, n, H)``, advanced in place.
            member_ids: ``(n,)`` or None (ensemble mean).
            reduction: a :func:`~rwmu.models.disagreement.epistemic_uncertainty` reduction.
            aleatoric: also evaluate the log-std heads (else the output's ``aleatoric`` is None).

        Returns:
            ``(state, aleatoric, epistemic, extension, contact, termination)`` as in
            :class:`~rwmu.models.WorldModelOutput`, each ``(n, ·)``.
        """
        m, ws = self.model, self.workspace
        n, B = state.shape[0], m.ensemble_size
        top = self.gru(torch.cat((state, action), dim=-1), hidden)
        state = state[:, -1]
        heads = m.state_heads

        # State heads: one GEMM for the first layers of every member's mean (and log-std) MLP.
        weight, bias, widths = self.state_full if aleatoric else self.state_mean_only
        first = torch.addmm(
            bias, top[0].to(self.dtype), weight, out=ws.get("state_first", (n, weight.shape[1]), state, self.dtype)
        ).relu_()
        parts = _split_members(first, widths, B)
        means = _later_layers(self.later["mean"], parts[0]).add_(state)  # (B, n, S), residual on the last state
        std = None
        if aleatoric:
            raw = _later_layers(self.later["logstd"], parts[1])
            lo, hi = heads.min_logstd, heads.max_logstd
            logstd = hi - F.softplus(hi - raw)
            std = (lo + F.softplus(logstd - lo)).exp_().mean(dim=0).sum(dim=-1)

        # Epistemic: the members' disagreement (rwmu.models.disagreement.epistemic_uncertainty), written out for the
        # reference's two reductions.
        mean_of_means = means.mean(dim=0)
        if B > 1 and reduction in ("std_sum", "var_sum"):
            var = (means - mean_of_means).square_().sum(dim=0).div_(B - 1)
            epistemic = (var.sqrt_() if reduction == "std_sum" else var).sum(dim=-1)
        elif B > 1:
            epistemic = epistemic_uncertainty(means.float(), reduction).to(state.dtype)
        else:
            epistemic = torch.zeros(n, device=state.device, dtype=state.dtype)
        rows = torch.arange(n, device=state.device)

        # Auxiliary heads. Ensemble mean: one GEMM for the first layers of every member's extension, contact and
        # termination MLPs. Member mode needs each row's own member only: rows grouped by member, one GEMM per member.
        aux = {"extension": None, "contact": None, "termination": None}
        if self.aux_first is not None:
            if member_ids is None:
                weight, bias, widths = self.aux_first
                first = torch.addmm(
                    bias,
                    top[1].to(self.dtype),
                    weight,
                    out=ws.get("aux_first", (n, weight.shape[1]), state, self.dtype),
                )
                for (name, _), h in zip(self.aux_mlps, _split_members(first.relu_(), widths, B)):
                    aux[name] = _later_layers(self.later[name], h).mean(dim=0)
            else:
                aux.update(self._member_auxiliary(top[1], member_ids))
        next_state = mean_of_means if member_ids is None else means[member_ids, rows]
        return next_state, std, epistemic, aux["extension"], aux["contact"], aux["termination"]

    def _member_auxiliary(self, features: torch.Tensor, member_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each row's own member's auxiliary heads.

        Args: features ``(n, H)`` of the auxiliary base; member_ids ``(n,)``.
        Returns: ``{name: (n, out)}`` for the heads the model has.
        """
        n, B = features.shape[0], self.model.ensemble_size
        order = torch.argsort(member_ids, stable=True)
        counts = torch.bincount(member_ids, minlength=B).tolist()
        grouped = features.index_select(0, order).to(self.dtype)
        weight, bias, widths = self.aux_first
        outputs = {
            name: features.new_empty(n, getattr(mlp, f"bias_{mlp.num_layers - 1}").shape[-1])
            for name, mlp in self.aux_mlps
        }
        start = 0
        for b, count in enumerate(counts):
            if count == 0:
                continue
            rows = slice(start, start + count)
            start += count
            col = 0
            for (name, _mlp), width in zip(self.aux_mlps, widths):
                cols = slice(col + b * width, col + (b + 1) * width)  # member b's block of this head's columns
                col += B * width
                h = torch.addmm(bias[cols], grouped[rows], weight[:, cols]).relu_()
                for i, (later_bias, later_weight) in enumerate(self.later[name]):
                    if i:
                        h.relu_()
                    h = torch.addmm(later_bias[b], h, later_weight[b])
                outputs[name][rows] = h  # float32
        unsorted = {}
        for name, value in outputs.items():
            unsorted[name] = torch.empty_like(value).index_copy_(0, order, value)
        return unsorted
