"""World-model throughput at the paper's configuration (GRU 2x256, B=5, M=32, N=8, S=45, A=12, C=8, T=1).

Measures
  1. training steps (forward + backward + Adam) in windows/s for rwmu's objective, at each --batch size;
  2. the same mathematics computed the reference way (base recomputed per head, one head at a time) for scale;
  3. one recurrent imagination step (predict with T=1, member mode) in env-steps/s at each --envs size.

    python benchmarks/bench_world_model.py                      # CPU, batches 256 1024, envs 1024 4096
    python benchmarks/bench_world_model.py --device cuda --envs 1024 4096 8192
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.nn import functional as F

from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.training.world_model_loss import world_model_loss

S, A, C, T, M, N = 45, 12, 8, 1, 32, 8


def random_windows(batch: int, device) -> torch.Tensor:
    w = torch.randn(batch, M + N, S + A + C + T, device=device)
    w[..., S + A :] = (w[..., S + A :] > 0).float()
    return w


def _head(model, b, f, last):
    """Member b's state head alone (as the reference evaluates it)."""
    h = model.state_heads
    mean = F.linear(torch.relu(F.linear(f, h.mean.weight_0[b], h.mean.bias_0[b])), h.mean.weight_1[b], h.mean.bias_1[b])
    raw = F.linear(torch.relu(F.linear(f, h.logstd.weight_0[b], h.logstd.bias_0[b])), h.logstd.weight_1[b],
                   h.logstd.bias_1[b])  # fmt: skip
    lo, hi = h.min_logstd[b], h.max_logstd[b]
    logstd = lo + F.softplus(hi - F.softplus(hi - raw) - lo)
    return mean + last, logstd.exp()


def _aux(model, b, f):
    h = model.auxiliary_heads
    con = F.linear(torch.relu(F.linear(f, h.contact.weight_0[b], h.contact.bias_0[b])), h.contact.weight_1[b],
                   h.contact.bias_1[b])  # fmt: skip
    term = F.linear(torch.relu(F.linear(f, h.termination.weight_0[b], h.termination.bias_0[b])),
                    h.termination.weight_1[b], h.termination.bias_1[b])  # fmt: skip
    return con, term


def reference_style_loss(model: WorldModelEnsemble, w: torch.Tensor) -> torch.Tensor:
    """Same objective, computed per head: history pass and auxiliary passes recomputed for every head and step."""
    s, a = w[..., :S], w[..., S : S + A]
    c, t = w[..., S + A : S + A + C], w[..., -1:]
    total = 0.0
    for b in range(model.ensemble_size):
        ids = torch.randint(0, w.shape[0], (w.shape[0],), device=w.device)
        sb, ab, cb, tb = s[ids], a[ids], c[ids], t[ids]
        xs, hidden = sb[:, :M], None
        for i in range(N):
            xa = ab[:, i + 1 : M + i + 1] if i == 0 else ab[:, M + i : M + i + 1]
            out, hidden = model.state_base(torch.cat([xs, xa], -1), hidden)
            mean, std = _head(model, b, out[:, -1], xs[:, -1])
            sample = mean + std * torch.randn_like(std)
            total = total + (sample - sb[:, M + i]).square().sum(-1).mean() / N
            xs = sample.unsqueeze(1)
        xs, hidden = sb[:, :M], None
        for i in range(N):
            xa = ab[:, i + 1 : M + i + 1] if i == 0 else ab[:, M + i : M + i + 1]
            out, hidden = model.auxiliary_base(torch.cat([xs, xa], -1), hidden)
            con, term = _aux(model, b, out[:, -1])
            total = total + (F.binary_cross_entropy_with_logits(con, cb[:, M + i])
                             + F.binary_cross_entropy_with_logits(term, tb[:, M + i])) / N  # fmt: skip
            xs = sb[:, M + i : M + i + 1]
    return total / model.ensemble_size


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_train(model, loss_fn, batch, device, steps, warmup=1) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5)
    w = random_windows(batch, device)
    for k in range(warmup + steps):
        if k == warmup:
            sync(device)
            t0 = time.perf_counter()
        loss = loss_fn(model, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def time_imagination_step(model, envs, device, steps) -> float:
    model.eval()
    model.reset(num_envs=envs)
    ids = torch.randint(0, model.ensemble_size, (envs,), device=device)
    model.predict(torch.randn(envs, M, S, device=device), torch.randn(envs, M, A, device=device), member_ids=ids)
    s, a = torch.randn(envs, 1, S, device=device), torch.randn(envs, 1, A, device=device)
    model.predict(s, a, member_ids=ids)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        out = model.predict(s, a, member_ids=ids)
        s = out.state.unsqueeze(1)
    sync(device)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--envs", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--steps", type=int, default=3, help="timed training steps per setting")
    p.add_argument("--reference-steps", type=int, default=2, help="timed reference-style steps (0 to skip)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = WorldModelEnsemble(WorldModelConfig(state_dim=S, action_dim=A, contact_dim=C, termination_dim=T)).to(device)
    results: dict = {"device": str(device), "threads": torch.get_num_threads(), "train": {}, "imagination": {}}
    for batch in args.batch:
        model.train()
        ours = time_train(model, lambda m, w: world_model_loss(m, w).total, batch, device, args.steps)
        row = {"seconds_per_step": ours, "windows_per_second": batch / ours}
        if args.reference_steps:
            ref = time_train(model, reference_style_loss, batch, device, args.reference_steps)
            row.update(reference_seconds_per_step=ref, speedup=ref / ours)
        results["train"][batch] = row
        print(f"train  batch {batch:5d}: {ours:.3f} s/step, {batch / ours:,.0f} windows/s"
              + (f"; reference-style {row['reference_seconds_per_step']:.3f} s/step ({row['speedup']:.1f}x slower)"
                 if args.reference_steps else ""), flush=True)  # fmt: skip
    for envs in args.envs:
        with torch.no_grad():
            dt = time_imagination_step(model, envs, device, steps=20)
        results["imagination"][envs] = {"seconds_per_step": dt, "env_steps_per_second": envs / dt}
        print(f"imagine envs {envs:5d}: {dt * 1e3:.1f} ms/step, {envs / dt:,.0f} env-steps/s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
