"""Score a policy in the MuJoCo Go2 simulator on the true, unpenalised task reward.

Episodes run under fixed command schedules (:data:`COMMAND_SCHEDULES`; episode ``e`` uses schedule
``e mod len(schedules)``), in waves of up to ``max_envs`` parallel environments. An episode ends at its first
termination (a fall) or after ``task.episode_length`` steps. Reported per episode and aggregated: the return
(sum of the task reward terms of SPEC section 3, each ``weight * value * dt``, no uncertainty penalty), the
per-term returns, the episode length, whether it fell, and the velocity-tracking errors.

Policies (:func:`load_policy`): ``scripted`` (the trotting controller of :mod:`rwmu.behavior`, nominal gains, no
noise), an ONNX file (``.onnx``, input (n, 48) -> output (n, 12)), a TorchScript module, or an rsl_rl checkpoint
(``model_<it>.pt`` from ``rwmu train-policy``: the deterministic actor mean is used).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import GO2_FLAT

# ------------------------------------------------------------------------------------------------------------------
# Command schedules: name -> list of (steps, vx, vy, wz) segments; the last segment holds to the episode end.
COMMAND_SCHEDULES: dict[str, list[tuple[int, float, float, float]]] = {
    "forward_0.5": [(256, 0.5, 0.0, 0.0)],
    "forward_1.0": [(256, 1.0, 0.0, 0.0)],
    "backward_0.5": [(256, -0.5, 0.0, 0.0)],
    "lateral_0.5": [(256, 0.0, 0.5, 0.0)],
    "turn_1.0": [(256, 0.0, 0.0, 1.0)],
    "arc": [(256, 0.6, 0.0, -0.6)],
    "stand": [(256, 0.0, 0.0, 0.0)],
    "mixed": [(64, 0.7, 0.0, 0.0), (64, 0.0, -0.5, 0.0), (64, 0.0, 0.0, -1.0), (64, -0.4, 0.3, 0.5)],
}


def schedule_tensor(segments: list[tuple[int, float, float, float]], length: int) -> torch.Tensor:
    """(length, 3) per-step commands of a schedule."""
    rows = []
    for steps, vx, vy, wz in segments:
        rows.extend([(vx, vy, wz)] * int(steps))
    rows = rows[:length] + [rows[-1]] * max(0, length - len(rows))
    return torch.tensor(rows, dtype=torch.float32)


# ------------------------------------------------------------------------------------------------------------------
# Policies
class _StatelessPolicy:
    """Base for feed-forward policies: ``reset`` does nothing."""

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        return None

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(obs)


class OnnxPolicy(_StatelessPolicy):
    """An exported ONNX actor: first input (n, obs_dim) float32 -> first output (n, >= num_actions)."""

    def __init__(self, path: Path, num_actions: int):
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - any ONNX load failure is a user-file problem
            raise RwmuError(f"{path}: not a loadable ONNX policy ({str(err).splitlines()[0][:200]})") from None
        first_input = self.session.get_inputs()[0]
        self.input_name = first_input.name
        # rsl_rl's export_policy_to_onnx fixes the batch size to 1: such a model is run one row at a time.
        self.single_row = bool(first_input.shape) and first_input.shape[0] == 1
        self.num_actions = num_actions

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.detach().float().numpy()
        if self.single_row and x.shape[0] != 1:
            out = np.concatenate([self.session.run(None, {self.input_name: x[i : i + 1]})[0] for i in range(len(x))])
        else:
            out = self.session.run(None, {self.input_name: x})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32).reshape(len(x), -1)[:, : self.num_actions])


class TorchScriptPolicy(_StatelessPolicy):
    """A TorchScript actor (e.g. rsl_rl's ``export_policy_to_jit``): (n, obs_dim) -> (n, num_actions)."""

    def __init__(self, module: torch.jit.ScriptModule, num_actions: int):
        self.module = module.eval()
        self.num_actions = num_actions

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.module(obs.float())[:, : self.num_actions].float()


_ACTIVATIONS = {"elu": torch.nn.ELU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "selu": torch.nn.SELU,
                "lrelu": torch.nn.LeakyReLU, "leaky_relu": torch.nn.LeakyReLU, "silu": torch.nn.SiLU}  # fmt: skip


def _find_key(tree: Any, key: str) -> Any:
    """First value stored under ``key`` anywhere in nested dicts/lists, or None."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        values = tree.values()
    elif isinstance(tree, (list, tuple)):
        values = tree
    else:
        return None
    for value in values:
        found = _find_key(value, key)
        if found is not None:
            return found
    return None


class ActorModulePolicy(_StatelessPolicy):
    """An rsl_rl actor model rebuilt by ``rwmu.training.export.load_actor``: its deterministic (mean) output."""

    def __init__(self, actor: Any, num_actions: int):
        from tensordict import TensorDict

        self._tensordict = TensorDict
        self.actor = actor.eval()
        self.num_actions = num_actions

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        td = self._tensordict({"policy": obs.float()}, batch_size=[obs.shape[0]])
        return self.actor(td).reshape(obs.shape[0], -1)[:, : self.num_actions].float()


def _check_task(path: Path, trained_task: Any, task: Task) -> None:
    if isinstance(trained_task, str) and trained_task != task.name:
        raise RwmuError(f"{path}: this policy was trained for task {trained_task!r}, not {task.name!r}; "
                        f"evaluate it with --task {trained_task} or pick a {task.name} policy")  # fmt: skip


class RslRlActorPolicy(_StatelessPolicy):
    """The deterministic actor of an rsl_rl checkpoint (``actor_state_dict``: ``mlp.<i>.weight/bias`` linear layers,
    optional ``obs_normalizer._mean/_std``); the activation comes from the checkpoint's ``infos`` (default ELU, the
    SPEC section 6 actor)."""

    def __init__(self, checkpoint: dict, path: Path, num_actions: int, obs_dim: int):
        state = checkpoint["actor_state_dict"]
        layer_ids = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"mlp\.(\d+)\.weight", k))})
        if not layer_ids:
            raise RwmuError(f"{path}: actor_state_dict has no mlp.<i>.weight layers; not an rsl_rl MLP actor")
        activation = str(_find_key(checkpoint.get("infos", {}), "activation") or "elu").lower()
        if activation not in _ACTIVATIONS:
            raise RwmuError(f"{path}: unsupported actor activation {activation!r}; known: {', '.join(_ACTIVATIONS)}")
        layers: list[torch.nn.Module] = []
        for j, i in enumerate(layer_ids):
            weight, bias = state[f"mlp.{i}.weight"], state[f"mlp.{i}.bias"]
            linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
            linear.weight.data.copy_(weight)
            linear.bias.data.copy_(bias)
            layers.append(linear)
            if j < len(layer_ids) - 1:
                layers.append(_ACTIVATIONS[activation]())
        self.mlp = torch.nn.Sequential(*layers).eval()
        if self.mlp[0].in_features != obs_dim:
            raise RwmuError(f"{path}: actor takes {self.mlp[0].in_features} observations, the task gives {obs_dim}")
        self.mean = state.get("obs_normalizer._mean")
        self.std = state.get("obs_normalizer._std")
        self.num_actions = num_actions

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        if self.mean is not None and self.std is not None:
            x = (x - self.mean.reshape(1, -1)) / (self.std.reshape(1, -1) + 1e-2)  # rsl_rl EmpiricalNormalization
        return self.mlp(x)[:, : self.num_actions]


def load_policy(spec: str, num_envs: int, task: Task = GO2_FLAT, seed: int = 0, scripted_config: Any = None) -> Any:
    """A policy object with ``act(obs (n, 48)) -> (n, 12)`` and ``reset(env_ids)``.

    Args:
        spec: ``"scripted"`` or a path to an ``.onnx`` file, a TorchScript module or an rsl_rl checkpoint.
        num_envs: environments the policy will drive (the scripted controller keeps per-env gait state).
        task: gives observation and action sizes.
        seed: seed of the scripted controller's own randomness.
        scripted_config: a :class:`rwmu.behavior.TrotConfig` (default: nominal gains, diversity and noise off).

    This is the one hook to extend with new policy formats; unknown formats raise :class:`RwmuError`.
    """
    num_actions, obs_dim = task.dims.action, task.observation_dim
    if spec == "scripted":
        from rwmu.behavior import TrotConfig, TrotController, TrotDiversity

        config = scripted_config or TrotConfig(diversity=TrotDiversity(enabled=False), seed=seed)
        return TrotController(num_envs, config, dt=task.dt)
    path = Path(spec)
    if not path.is_file():
        raise RwmuError(f"--policy {spec}: no such file; give 'scripted', an .onnx file or a policy checkpoint .pt")
    exported_meta = path.with_name("policy.json")  # written next to policy.pt / policy.onnx by `rwmu export`
    if path.suffix.lower() in (".onnx", ".pt") and exported_meta.is_file():
        import json

        try:
            _check_task(path, json.loads(exported_meta.read_text()).get("task"), task)
        except (ValueError, AttributeError):
            pass  # not an rwmu export description: nothing to check
    if path.suffix.lower() == ".onnx":
        return OnnxPolicy(path, num_actions)
    try:
        with warnings.catch_warnings():  # torch.jit.load is deprecated but still reads rsl_rl's policy.pt exports
            warnings.simplefilter("ignore")
            return TorchScriptPolicy(torch.jit.load(str(path), map_location="cpu"), num_actions)
    except Exception:  # noqa: BLE001 - not TorchScript: try a checkpoint next
        pass
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a user-file problem
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RwmuError(f"{path}: unknown policy format (not ONNX, TorchScript or a torch checkpoint: {first[:160]})")
    if isinstance(checkpoint, dict) and "actor_state_dict" in checkpoint:
        info = (checkpoint.get("infos") or {}).get("rwmu")
        if isinstance(info, dict):
            _check_task(path, info.get("task"), task)
            if "rsl_rl_cfg" in info:  # written by rwmu train-policy: rebuild the exact actor
                from rwmu.training.export import load_actor

                actor, _ = load_actor(path)
                return ActorModulePolicy(actor, num_actions)
        return RslRlActorPolicy(checkpoint, path, num_actions, obs_dim)
    keys = ", ".join(list(checkpoint)[:6]) if isinstance(checkpoint, dict) else type(checkpoint).__name__
    raise RwmuError(f"{path}: unknown policy checkpoint format (keys: {keys}); expected an rsl_rl checkpoint with "
                    f"actor_state_dict, an .onnx export or a TorchScript policy")  # fmt: skip


# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of ``rwmu evaluate``."""

    episodes: int = 16
    seed: int = 0
    max_envs: int = 16  # environments run in parallel per wave
    num_workers: int = 1
    pushes: bool = False  # evaluation without pushes by default (a clean tracking test)
    schedules: tuple[str, ...] = tuple(COMMAND_SCHEDULES)


def evaluate_policy(
    policy_spec: str | Any,
    config: EvaluationConfig = EvaluationConfig(),
    task: Task = GO2_FLAT,
    video_path: str | Path | None = None,
    progress: bool = True,
    video_steps: int | None = None,
) -> dict[str, Any]:
    """Run ``config.episodes`` episodes and return the summary dict (see :func:`summarize_episodes`).

    Args:
        policy_spec: ``"scripted"``, a policy path (see :func:`load_policy`), or a policy object whose ``act`` /
            ``reset`` work for ``min(episodes, max_envs)`` environments.
        video_path: if given, render environment 0 of the first wave offscreen to this ``.mp4`` or ``.gif``.
        video_steps: render only the first ``video_steps`` control steps (default: the whole episode).
    """
    from tqdm import tqdm

    from rwmu.sim.env import Go2EnvConfig, Go2VecEnv

    unknown = [s for s in config.schedules if s not in COMMAND_SCHEDULES]
    if unknown or not config.schedules:
        raise RwmuError(f"unknown command schedule(s) {unknown}; known: {', '.join(COMMAND_SCHEDULES)}")
    if config.episodes < 1:
        raise RwmuError(f"--episodes must be >= 1, got {config.episodes}")
    n = min(config.episodes, config.max_envs)
    T = task.episode_length
    policy = load_policy(policy_spec, n, task, config.seed) if isinstance(policy_spec, str) else policy_spec
    env = Go2VecEnv(Go2EnvConfig(num_envs=n, num_workers=config.num_workers, seed=config.seed,
                                 pushes=config.pushes), task)  # fmt: skip
    schedules = {name: schedule_tensor(COMMAND_SCHEDULES[name], T) for name in config.schedules}
    recorder = _VideoRecorder(video_path, env, video_steps) if video_path else None
    episodes: list[dict[str, Any]] = []
    try:
        bar = tqdm(total=config.episodes, desc="evaluate", unit="episode", disable=not progress, dynamic_ncols=True)
        with bar:
            while len(episodes) < config.episodes:
                first = len(episodes)
                count = min(n, config.episodes - first)
                names = [config.schedules[(first + i) % len(config.schedules)] for i in range(n)]
                env.set_fixed_commands(torch.stack([schedules[name] for name in names]))
                obs = env.reset()[0]["policy"]
                policy.reset(None)
                wave = _run_wave(env, policy, obs, T, recorder if first == 0 else None)
                for i in range(count):
                    episodes.append({"schedule": names[i], **{k: v[i] for k, v in wave.items()}})
                bar.update(count)
    finally:
        env.close()
        if recorder is not None:
            recorder.close()
    return summarize_episodes(episodes, task, config)


def _run_wave(env: Any, policy: Any, obs: torch.Tensor, T: int, recorder: Any) -> dict[str, list]:
    """One episode per environment; per-env results as lists."""
    n = env.num_envs
    active = torch.ones(n, dtype=torch.bool)
    ret = torch.zeros(n, dtype=torch.float64)
    terms: dict[str, torch.Tensor] = {}
    length = torch.zeros(n, dtype=torch.long)
    fell = torch.zeros(n, dtype=torch.bool)
    lin_err = torch.zeros(n, dtype=torch.float64)
    yaw_err = torch.zeros(n, dtype=torch.float64)
    distance = torch.zeros(n, dtype=torch.float64)
    start_xy = env.base_pos[:, :2].clone()
    for _ in range(T):
        if not active.any():
            break
        actions = policy.act(obs)
        obs_td, reward, dones, _ = env.step(actions)
        rec = env.last_step
        a = active.double()
        ret += reward.double() * a
        for name, value in rec.terms.items():
            terms[name] = terms.get(name, torch.zeros(n, dtype=torch.float64)) + value.double() * a
        length += active.long()
        lin_err += torch.linalg.vector_norm(rec.command[:, :2] - rec.state[:, 0:2], dim=-1).double() * a
        yaw_err += (rec.command[:, 2] - rec.state[:, 5]).abs().double() * a
        fell |= rec.terminated & active
        distance = torch.where(active, (rec.base_pos[:, :2] - start_xy).norm(dim=-1).double(), distance)
        if recorder is not None and bool(active[0]):
            recorder.frame()
        active &= ~dones.bool()
        done_ids = torch.nonzero(dones.bool(), as_tuple=False).squeeze(-1)
        if done_ids.numel() > 0:
            policy.reset(done_ids)
        obs = obs_td["policy"]
    steps = length.clamp(min=1).double()
    return {
        "return": ret.tolist(),
        "terms": [{name: float(v[i]) for name, v in terms.items()} for i in range(n)],
        "length": length.tolist(),
        "fell": fell.tolist(),
        "lin_vel_error": (lin_err / steps).tolist(),
        "yaw_rate_error": (yaw_err / steps).tolist(),
        "distance": distance.tolist(),
    }


def summarize_episodes(episodes: list[dict[str, Any]], task: Task, config: EvaluationConfig) -> dict[str, Any]:
    """Aggregate per-episode results into the JSON of ``rwmu evaluate``.

    Top-level keys: ``return_mean``, ``return_std`` (population std over episodes), ``episodes`` (count),
    ``terms`` (mean per-term return), ``episode_length_mean``, ``falls``, ``fall_rate``, ``lin_vel_error_mean``
    [m/s], ``yaw_rate_error_mean`` [rad/s], ``max_return`` (perfect tracking, no penalties, full length),
    ``per_schedule`` and ``per_episode``.
    """
    returns = np.array([e["return"] for e in episodes], dtype=np.float64)
    term_names = list(episodes[0]["terms"]) if episodes else []
    per_schedule: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(e["schedule"] for e in episodes):
        group = [e for e in episodes if e["schedule"] == name]
        per_schedule[name] = {
            "episodes": len(group),
            "return_mean": float(np.mean([e["return"] for e in group])),
            "falls": int(sum(e["fell"] for e in group)),
            "lin_vel_error_mean": float(np.mean([e["lin_vel_error"] for e in group])),
            "yaw_rate_error_mean": float(np.mean([e["yaw_rate_error"] for e in group])),
            "episode_length_mean": float(np.mean([e["length"] for e in group])),
        }
    weights = task.rewards
    max_return = (weights.track_lin_vel_xy_exp + weights.track_ang_vel_z_exp) * task.dt * task.episode_length
    falls = int(sum(e["fell"] for e in episodes))
    return {
        "task": task.name,
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "episodes": len(episodes),
        "terms": {name: float(np.mean([e["terms"][name] for e in episodes])) for name in term_names},
        "episode_length_mean": float(np.mean([e["length"] for e in episodes])),
        "falls": falls,
        "fall_rate": falls / max(len(episodes), 1),
        "lin_vel_error_mean": float(np.mean([e["lin_vel_error"] for e in episodes])),
        "yaw_rate_error_mean": float(np.mean([e["yaw_rate_error"] for e in episodes])),
        "max_return": max_return,
        "seed": config.seed,
        "pushes": config.pushes,
        "per_schedule": per_schedule,
        "per_episode": episodes,
    }


def format_table(result: dict[str, Any]) -> str:
    """Human-readable summary of :func:`evaluate_policy`'s result."""
    lines = [
        f"episodes {result['episodes']}  return {result['return_mean']:.3f} +- {result['return_std']:.3f} "
        f"(max {result['max_return']:.2f})  falls {result['falls']}  length {result['episode_length_mean']:.1f}  "
        f"lin vel err {result['lin_vel_error_mean']:.3f} m/s  yaw rate err {result['yaw_rate_error_mean']:.3f} rad/s",
        "",
        f"{'term':<24}{'return':>12}",
    ]
    lines += [f"{name:<24}{value:>12.4f}" for name, value in result["terms"].items()]
    lines += ["", f"{'schedule':<16}{'episodes':>9}{'return':>10}{'falls':>7}{'lin err':>9}{'yaw err':>9}{'length':>8}"]
    for name, s in result["per_schedule"].items():
        lines.append(
            f"{name:<16}{s['episodes']:>9}{s['return_mean']:>10.3f}{s['falls']:>7}{s['lin_vel_error_mean']:>9.3f}"
            f"{s['yaw_rate_error_mean']:>9.3f}{s['episode_length_mean']:>8.1f}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
class _VideoRecorder:
    """Offscreen frames of environment 0 (needs an OpenGL backend: MUJOCO_GL=egl or osmesa)."""

    def __init__(self, path: str | Path, env: Any, max_steps: int | None = None, width: int = 480, height: int = 360):
        import mujoco

        from rwmu.sim.model import load_go2_render_model

        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".gif"):
            raise RwmuError(f"--video {self.path}: use a .mp4 or .gif file name")
        if self.path.suffix.lower() == ".mp4":
            try:
                import cv2  # noqa: F401
            except ImportError:
                raise RwmuError("--video .mp4 needs opencv-python (pip install opencv-python); or write a .gif")
        self.env = env
        self.model = load_go2_render_model(env.actuation)
        self.data = mujoco.MjData(self.model)
        try:
            self.renderer = mujoco.Renderer(self.model, height, width)
        except Exception as err:  # noqa: BLE001 - no GL context of any kind
            raise RwmuError(f"--video: no offscreen OpenGL renderer ({str(err).splitlines()[0][:120]}); set "
                            f"MUJOCO_GL=egl (GPU/EGL) or MUJOCO_GL=osmesa (software) and retry") from None  # fmt: skip
        self.camera = mujoco.MjvCamera()
        self.camera.distance, self.camera.elevation, self.camera.azimuth = 1.6, -20.0, 135.0
        self.frames: list[np.ndarray] = []
        self.max_steps = max_steps
        self.stride = 2 if self.path.suffix.lower() == ".gif" else 1  # GIFs at 25 fps, videos at 50 fps
        self.steps = 0

    def frame(self) -> None:
        import mujoco

        self.steps += 1
        if (self.max_steps is not None and self.steps > self.max_steps) or (self.steps - 1) % self.stride:
            return

        self.data.qpos[:] = self.env.pool.get_qpos(0)
        mujoco.mj_forward(self.model, self.data)
        self.camera.lookat[:] = self.data.qpos[0:3]
        self.renderer.update_scene(self.data, self.camera)
        self.frames.append(self.renderer.render().copy())

    def close(self) -> None:
        from rwmu.utils.io import atomic_path

        if not self.frames:
            return
        fps = int(round(1.0 / self.env.task.dt))
        with atomic_path(self.path) as tmp:
            if self.path.suffix.lower() == ".gif":
                from PIL import Image

                images = [Image.fromarray(f) for f in self.frames]
                images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                               duration=int(1000 * self.stride / fps), loop=0)  # fmt: skip
            else:
                import cv2

                h, w = self.frames[0].shape[:2]
                tmp_mp4 = tmp.with_suffix(".mp4")
                writer = cv2.VideoWriter(str(tmp_mp4), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                for f in self.frames:
                    writer.write(f[:, :, ::-1])
                writer.release()
                tmp_mp4.replace(tmp)
        self.renderer.close()

