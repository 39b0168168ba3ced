"""World-model throughput at the paper's configuration (GRU 2x256, B=5, M=32, N=8, S=45, A=12, C=8, T=1), or another
GRU size (--rnn-hidden-size, --rnn-num-layers).

Measures
  1. the machine: large fp32 GEMM (4096^3) in GFLOP/s, the ceiling of everything below;
  2. training steps (forward + backward + Adam) in windows/s for rwmu's objective, at each --batch size;
  3. the same mathematics computed the reference way (base recomputed per head, one head at a time) for scale;
  4. one recurrent imagination step (T = 1, member mode) in env-steps/s at each --envs size, with its FLOPs and its
     share of the GEMM ceiling, in up to four versions side by side in one process on the same weights, in
     interleaved rounds (medians):
       reference  the RWM-U reference's SystemDynamicsEnsemble.forward (with --reference-src, a checkout of
                  leggedrobotics/rsl_rl_rwm; never downloaded here),
       unfused    rwmu's stacked heads with nn.GRU bases (the path predict takes for histories),
       fused      rwmu's fused one-step inference (rwmu.models.fused_step), every output of the reference,
       imagine    the same without the aleatoric term, which imagination does not use (what ImaginationEnv runs).
     Every version's outputs are checked against the first one's before timing.

    python benchmarks/bench_world_model.py                      # CPU, batches 256 1024, envs 1024 4096
    python benchmarks/bench_world_model.py --batch --envs 4096 --reference-src ~/src/rsl_rl_rwm
    python benchmarks/bench_world_model.py --device cuda --envs 1024 4096 8192
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.training.world_model_loss import world_model_loss
from rwmu.utils.io import write_json_atomic

S, A, C, T, M, N = 45, 12, 8, 1, 32, 8


def random_windows(batch: int, device) -> torch.Tensor:
    w = torch.randn(batch, M + N, S + A + C + T, device=device)
    w[..., S + A :] = (w[..., S + A :] > 0).float()
    return w


def _head(model, b, f, last):
    """Member b's state head alone (as the reference evaluates it)."""
    h = model.state_heads
    mean = F.linear(torch.relu(F.linear(f, h.mean.weight_0[b], h.mean.bias_0[b])), h.mean.weight_1[b], h.mean.bias_1[b])
    raw = F.linear(
        torch.relu(F.linear(f, h.logstd.weight_0[b], h.logstd.bias_0[b])), h.logstd.weight_1[b], h.logstd.bias_1[b]
    )
    lo, hi = h.min_logstd[b], h.max_logstd[b]
    logstd = lo + F.softplus(hi - F.softplus(hi - raw) - lo)
    return mean + last, logstd.exp()


def _aux(model, b, f):
    h = model.auxiliary_heads
    con = F.linear(
        torch.relu(F.linear(f, h.contact.weight_0[b], h.contact.bias_0[b])), h.contact.weight_1[b], h.contact.bias_1[b]
    )
    term = F.linear(
        torch.relu(F.linear(f, h.termination.weight_0[b], h.termination.bias_0[b])),
        h.termination.weight_1[b],
        h.termination.bias_1[b],
    )
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
            total = (
                total
                + (
                    F.binary_cross_entropy_with_logits(con, cb[:, M + i])
                    + F.binary_cross_entropy_with_logits(term, tb[:, M + i])
                )
                / N
            )
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


def gemm_gflops(device, dtype: torch.dtype = torch.float32, size: int = 4096, repeats: int = 3) -> float:
    """Achievable matrix-multiply rate in ``dtype``: the median of ``repeats`` ``size^3`` GEMMs."""
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    c = torch.empty(size, size, device=device, dtype=dtype)
    torch.mm(a, b, out=c)
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(times) / 1e9


def step_flops(config: WorldModelConfig, aleatoric: bool = True, auxiliary_members: int | None = None) -> int:
    """Multiply-add FLOPs (2 per MAC) of one recurrent step for one environment: both GRU bases (3 gates, input and
    hidden projections per layer), every member's state heads (the log-std ones only with ``aleatoric``) and the
    auxiliary heads of ``auxiliary_members`` members (default all)."""
    H, L, x = config.rnn_hidden_size, config.rnn_num_layers, config.state_dim + config.action_dim
    gru = 2 * 3 * H * (x + H + (L - 1) * 2 * H)

    def mlp(shape, out):
        dims = [H, *shape, out]
        return 2 * sum(i * o for i, o in zip(dims[:-1], dims[1:]))

    state = mlp(config.state_mean_shape, config.state_dim)
    if aleatoric:
        state += mlp(config.state_logstd_shape, config.state_dim)
    aux = sum(
        mlp(shape, out)
        for shape, out in (
            (config.extension_shape, config.extension_dim),
            (config.contact_shape, config.contact_dim),
            (config.termination_shape, config.termination_dim),
        )
        if out
    )
    members = config.ensemble_size if auxiliary_members is None else auxiliary_members
    return 2 * gru + config.ensemble_size * state + members * aux


def load_reference(src: Path, config: WorldModelConfig, device):
    """The reference's SystemDynamicsEnsemble from a checkout of leggedrobotics/rsl_rl_rwm, imported beside
    rsl-rl-lib (its architectures package is registered under the name it imports, for the time of the import)."""
    arch = src / "rsl_rl" / "modules" / "architectures"
    dyn = src / "rsl_rl" / "modules" / "system_dynamics.py"
    if not dyn.is_file():
        sys.exit(
            f"--reference-src {src}: no rsl_rl/modules/system_dynamics.py there; give a checkout of "
            f"leggedrobotics/rsl_rl_rwm"
        )
    name = "rsl_rl.modules.architectures"
    spec = importlib.util.spec_from_file_location(name, arch / "__init__.py", submodule_search_locations=[str(arch)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        spec = importlib.util.spec_from_file_location("rwmu_bench_reference_dynamics", dyn)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
    c = config
    arch_cfg = {
        "type": "rnn",
        "rnn_type": "gru",
        "rnn_num_layers": c.rnn_num_layers,
        "rnn_hidden_size": c.rnn_hidden_size,
        "state_mean_shape": list(c.state_mean_shape),
        "state_logstd_shape": list(c.state_logstd_shape),
        "extension_shape": list(c.extension_shape),
        "contact_shape": list(c.contact_shape),
        "termination_shape": list(c.termination_shape),
    }
    return module.SystemDynamicsEnsemble(
        c.state_dim,
        c.action_dim,
        c.extension_dim,
        c.contact_dim,
        c.termination_dim,
        str(device),
        c.ensemble_size,
        c.history_horizon,
        arch_cfg,
    ).to(device)


def imagination_versions(model: WorldModelEnsemble, reference, envs: int, device):
    """One-step callables on a shared warmed-up hidden state, each returning (state, epistemic, contact).

    Returns ``prepare(name) -> step`` and the version names."""
    g = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(0, model.ensemble_size, (envs,), device=device, generator=g)
    s, a = torch.randn(envs, 1, S, device=device, generator=g), torch.randn(envs, 1, A, device=device, generator=g)
    model.eval()
    model.reset()
    model.predict(
        torch.randn(envs, M, S, device=device, generator=g), torch.randn(envs, M, A, device=device, generator=g)
    )
    start = model._hidden.clone()  # (L, 2, n, H): both bases

    def ours(use_fused: bool, aleatoric: bool, dtype: torch.dtype = torch.float32):
        def step():
            model.fused_inference, model.inference_dtype = use_fused, dtype
            out = model.predict(s, a, member_ids=ids, aleatoric=aleatoric)
            model.fused_inference, model.inference_dtype = None, torch.float32  # the defaults again
            return out.state, out.epistemic, out.contact

        return step

    versions = {}
    if reference is not None:
        reference.load_state_dict(model.state_dict(), strict=True)
        reference.eval()
        reference.state_base.memory.hidden_states = start[:, 0].contiguous()
        reference.auxiliary_base.memory.hidden_states = start[:, 1].contiguous()
        model_ids = ids.view(1, -1, 1)

        def ref_step():
            out = reference(s, a, model_ids)
            return out[0], out[2], out[4]

        versions["reference"] = ref_step
    versions.update(unfused=ours(False, True), fused=ours(True, True), imagine=ours(True, False))
    if device.type == "cpu":
        versions["imagine_bf16"] = ours(True, False, torch.bfloat16)

    def prepare(name: str):
        """``versions[name]``, after restoring the starting hidden state (every version advances its own copy)."""
        model._hidden = start.clone()
        if reference is not None:
            reference.state_base.memory.hidden_states = start[:, 0].contiguous()
            reference.auxiliary_base.memory.hidden_states = start[:, 1].contiguous()
        return versions[name]

    return prepare, list(versions)


def time_imagination_step(model, reference, envs, device, rounds: int, steps: int) -> tuple[dict, dict]:
    """Seconds per step of every version (interleaved rounds of ``steps`` steps; medians over rounds), and the
    bfloat16 version's largest deviation from the first version relative to each output's scale."""
    prepare, versions = imagination_versions(model, reference, envs, device)
    deviation = {}
    with torch.no_grad():
        first = None
        for name in versions:  # same outputs from the same starting state
            out = prepare(name)()
            if first is None:
                first = (name, out)
            elif name.endswith("bf16"):  # not the same maths: measured, not asserted
                for ours, theirs, what in zip(out, first[1], ("state", "epistemic", "contact")):
                    deviation[what] = float((ours - theirs).abs().max() / theirs.abs().max())
            else:
                for ours, theirs, what in zip(out, first[1], ("state", "epistemic", "contact")):
                    torch.testing.assert_close(
                        ours, theirs, atol=1e-4, rtol=1e-4, msg=lambda m: f"{name} {what} differs from {first[0]}: {m}"
                    )  # noqa: B023
        times: dict[str, list[float]] = {name: [] for name in versions}
        for _ in range(rounds):
            for name in versions:
                step = prepare(name)
                step()  # warm-up of this round
                sync(device)
                t0 = time.perf_counter()
                for _ in range(steps):
                    step()
                sync(device)
                times[name].append((time.perf_counter() - t0) / steps)
    return {name: statistics.median(t) for name, t in times.items()}, deviation


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--batch", type=int, nargs="*", default=[256, 1024], help="training batch sizes (none to skip)")
    p.add_argument("--envs", type=int, nargs="*", default=[1024, 4096], help="imagination batch sizes")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per setting")
    p.add_argument("--reference-steps", type=int, default=2, help="timed reference-style steps (0 to skip)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of imagination steps")
    p.add_argument("--round-steps", type=int, default=5, help="imagination steps per version and round")
    p.add_argument(
        "--reference-src",
        type=Path,
        default=None,
        help="a checkout of leggedrobotics/rsl_rl_rwm to time its SystemDynamicsEnsemble beside rwmu",
    )
    p.add_argument("--rnn-hidden-size", type=int, default=256, help="GRU width (paper: 256)")
    p.add_argument("--rnn-num-layers", type=int, default=2, help="GRU layers (paper: 2)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    config = WorldModelConfig(
        state_dim=S,
        action_dim=A,
        contact_dim=C,
        termination_dim=T,
        rnn_hidden_size=args.rnn_hidden_size,
        rnn_num_layers=args.rnn_num_layers,
    )
    model = WorldModelEnsemble(config).to(device)
    reference = load_reference(args.reference_src.expanduser(), config, device) if args.reference_src else None
    gflops = gemm_gflops(device)
    print(f"GEMM 4096^3: {gflops:.0f} GFLOP/s ({torch.get_num_threads()} threads)", flush=True)
    # FLOPs each version performs per env step (member mode: the fused step runs each row's own auxiliary member).
    flops = {
        "reference": step_flops(config),
        "unfused": step_flops(config),
        "fused": step_flops(config, auxiliary_members=1),
        "imagine": step_flops(config, aleatoric=False, auxiliary_members=1),
    }
    flops["imagine_bf16"] = flops["imagine"]
    gflops_bf16 = gemm_gflops(device, torch.bfloat16) if device.type == "cpu" else None
    if gflops_bf16:
        print(f"GEMM 4096^3 bfloat16: {gflops_bf16:.0f} GFLOP/s", flush=True)
    results: dict = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "gemm_gflops": gflops,
        "gemm_gflops_bfloat16": gflops_bf16,
        "train": {},
        "imagination": {},
        "flops_per_env_step": flops,
    }
    for batch in args.batch:
        model.train()
        ours = time_train(model, lambda m, w: world_model_loss(m, w).total, batch, device, args.steps)
        row = {"seconds_per_step": ours, "windows_per_second": batch / ours}
        if args.reference_steps:
            ref = time_train(model, reference_style_loss, batch, device, args.reference_steps)
            row.update(reference_seconds_per_step=ref, speedup=ref / ours)
        results["train"][batch] = row
        print(
            f"train  batch {batch:5d}: {ours:.3f} s/step, {batch / ours:,.0f} windows/s"
            + (
                f"; reference-style {row['reference_seconds_per_step']:.3f} s/step ({row['speedup']:.1f}x slower)"
                if args.reference_steps
                else ""
            ),
            flush=True,
        )
    for envs in args.envs:
        seconds, deviation = time_imagination_step(model, reference, envs, device, args.rounds, args.round_steps)
        base = seconds.get("reference", seconds["unfused"])
        rows = {}
        for name, dt in seconds.items():
            rate = flops[name] * envs / dt / 1e9
            ceiling = gflops_bf16 if name.endswith("bf16") else gflops  # the GEMM rate of the version's dtype
            rows[name] = {
                "seconds_per_step": dt,
                "env_steps_per_second": envs / dt,
                "mflop_per_env_step": flops[name] / 1e6,
                "gflops": rate,
                "gemm_utilisation": rate / ceiling,
                "speedup": base / dt,
            }
            print(
                f"imagine envs {envs:5d} {name:12s}: {dt * 1e3:6.1f} ms/step, {envs / dt:8,.0f} env-steps/s, "
                f"{flops[name] / 1e6:.2f} MFLOP/env-step, {rate:5.0f} GFLOP/s ({rate / ceiling:.0%} of its GEMM), "
                f"x{base / dt:.2f}",
                flush=True,
            )
        if deviation:
            rows["imagine_bf16"]["max_relative_deviation"] = deviation
            print(
                f"imagine envs {envs:5d} imagine_bf16 against {next(iter(seconds))}, largest deviation / largest "
                f"value: " + ", ".join(f"{k} {v:.1e}" for k, v in deviation.items()),
                flush=True,
            )
        results["imagination"][envs] = rows
    if args.json:
        write_json_atomic(Path(args.json), results)


if __name__ == "__main__":
    main()
