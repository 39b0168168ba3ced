"""One PPO mini-batch step on CPU, and two ways to make it cheaper without changing its maths.

The PPO update of a whole iteration at the paper's scale (4096 envs x 24 steps, 5 epochs x 4 mini-batches of 24,576
samples, actor and critic MLPs 128-128-128 ELU; docs/performance.md, "A PPO iteration") is 20 such steps. Each step
here is forward, backward and one Adam step of an actor (observation -> 12 actions) and a critic (observation -> 1
value) of those shapes, on a squared-error loss of the same size as PPO's. It times, interleaved in rounds (medians):

- ``elu``: ``nn.ELU()`` as rsl_rl builds its MLPs;
- ``elu_inplace``: ``nn.ELU(inplace=True)``, which skips one activation-sized tensor per layer (same values);
- ``chunks=<k>``: the mini-batch's gradient accumulated over k equal chunks, so each layer's activations fit in the
  cache (the same gradient up to rounding).

    python benchmarks/bench_ppo_update.py                 # 2 threads, batch 24,576, observation 48
    python benchmarks/bench_ppo_update.py --threads 1 --rounds 5
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn


def mlp(inputs: int, outputs: int, inplace: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = inputs
    for hidden in (128, 128, 128):
        layers += [nn.Linear(width, hidden), nn.ELU(inplace=inplace)]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, outputs))


def time_step(inplace: bool, chunks: int, obs: torch.Tensor, actions: torch.Tensor, values: torch.Tensor,
              repeats: int) -> float:  # fmt: skip
    """Median seconds of one forward + backward + Adam step over ``repeats`` steps."""
    actor, critic = mlp(obs.shape[1], actions.shape[1], inplace), mlp(obs.shape[1], 1, inplace)
    optimizer = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=1e-3)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        optimizer.zero_grad()
        for o, a, v in zip(obs.chunk(chunks), actions.chunk(chunks), values.chunk(chunks)):
            loss = ((actor(o) - a) ** 2).mean() + ((critic(o) - v) ** 2).mean()
            (loss / chunks).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=24_576, help="samples per mini-batch (paper: 98,304 / 4)")
    parser.add_argument("--obs-dim", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=6, help="timed steps per variant and round")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    obs = torch.randn(args.batch, args.obs_dim)
    actions, values = torch.randn(args.batch, 12), torch.randn(args.batch, 1)
    variants = [(False, 1), (True, 1), (False, 4), (True, 4), (True, 8)]
    results: dict[tuple[bool, int], list[float]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for inplace, chunks in variants:
            results[(inplace, chunks)].append(time_step(inplace, chunks, obs, actions, values, args.repeats))
    base = sorted(results[(False, 1)])[args.rounds // 2]
    print(f"one PPO mini-batch step, batch {args.batch}, {args.threads} threads, medians over {args.rounds} rounds")
    for (inplace, chunks), times in results.items():
        median = sorted(times)[args.rounds // 2]
        name = f"{'elu_inplace' if inplace else 'elu'}, chunks={chunks}"
        print(f"  {name:24s} {median * 1e3:7.1f} ms   x{base / median:.2f}   (20 steps: {20 * median:.2f} s)")


if __name__ == "__main__":
    main()
