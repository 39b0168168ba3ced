"""What a task is: dimensions, column names, normalisation, time step, episode length, rewards and commands.

A task is the single place that knows the meaning of the numbers in a dataset row. The data reader takes its
dimensions from it, the world model trainer its normalisation, the imagination environment and the MuJoCo simulator
its observation, commands and reward terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rwmu.data.layout import DataDims

if TYPE_CHECKING:  # tensors only in signatures: a task is declared without torch (quick `rwmu COMMAND --help`)
    import torch


@dataclass(frozen=True)
class StateLayout:
    """Where each quantity sits in the 45-dim locomotion state (docs/method.md section 3).

    Indices: 0-2 base linear velocity (body frame) [m/s]; 3-5 base angular velocity [rad/s]; 6-8 projected gravity;
    then ``num_joints`` joint positions relative to the default pose [rad], joint velocities [rad/s] and joint
    torques [Nm].
    """

    num_joints: int = 12

    @property
    def lin_vel(self) -> slice:
        return slice(0, 3)

    @property
    def ang_vel(self) -> slice:
        return slice(3, 6)

    @property
    def gravity(self) -> slice:
        return slice(6, 9)

    @property
    def joint_pos(self) -> slice:
        return slice(9, 9 + self.num_joints)

    @property
    def joint_vel(self) -> slice:
        return slice(9 + self.num_joints, 9 + 2 * self.num_joints)

    @property
    def joint_torque(self) -> slice:
        return slice(9 + 2 * self.num_joints, 9 + 3 * self.num_joints)

    @property
    def dim(self) -> int:
        return 9 + 3 * self.num_joints


OBSERVATION_TERMS = (
    "base_lin_vel",
    "base_ang_vel",
    "projected_gravity",
    "velocity_commands",
    "joint_pos_rel",
    "joint_vel_rel",
    "joint_effort",
    "last_action",
)
"""Every observation term a task may list (Isaac Lab's ``mdp`` names; what each holds: :mod:`rwmu.tasks.observations`)."""
REFERENCE_OBSERVATION = tuple(term for term in OBSERVATION_TERMS if term != "joint_effort")
"""The reference task's policy observation (docs/method.md section 3): 48 numbers for 12 joints."""


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the velocity-tracking reward terms (docs/method.md section 3; Isaac Lab's ANYmal-D flat config).

    The reward per step is ``sum_k weight_k * value_k * dt``. The uncertainty penalty is not a task term: it is
    applied by the imagination environment on top (see ``rwmu.envs.imagination``).
    """

    track_lin_vel_xy_exp: float = 1.0
    track_ang_vel_z_exp: float = 0.5
    lin_vel_z_l2: float = -2.0
    ang_vel_xy_l2: float = -0.05
    dof_torques_l2: float = -2.5e-5
    dof_acc_l2: float = -2.5e-7
    action_rate_l2: float = -0.01
    feet_air_time: float = 0.5
    undesired_contacts: float = -1.0
    stand_still: float = -1.0
    flat_orientation_l2: float = -5.0


@dataclass(frozen=True)
class CommandConfig:
    """Velocity command sampling (docs/method.md section 3)."""

    lin_vel_x: tuple[float, float] = (-1.0, 1.0)
    lin_vel_y: tuple[float, float] = (-1.0, 1.0)
    ang_vel_z: tuple[float, float] = (-1.0, 1.0)
    standing_fraction: float = 0.02  # share of envs given a zero command
    resample_steps: tuple[int, int] = (100, 120)  # uniform in [low, high) per env


@dataclass(frozen=True)
class PushConfig:
    """Random pushes: every k steps (k uniform in [low, high)) add a uniform velocity kick to base vx, vy."""

    interval_steps: tuple[int, int] = (48, 96)
    velocity_range: float = 0.5  # [m/s], uniform in [-v, v]
    enabled: bool = True


@dataclass(frozen=True)
class ObservationNoise:
    """Uniform observation noise half-widths (docs/method.md section 3); applied only when ``enabled``."""

    lin_vel: float = 0.1
    ang_vel: float = 0.2
    gravity: float = 0.05
    joint_pos: float = 0.01
    joint_vel: float = 1.5
    enabled: bool = False


@dataclass(frozen=True)
class TerminationRule:
    """A task's fall rule written on the state and the extension columns, so it applies to predicted states too.

    An episode ends when the body is tilted beyond the limit (projected gravity z above ``max_gravity_z``) or when the
    extension column ``clearance_column`` (the height of the lowest base, hip or thigh point above the floor) drops
    below ``min_clearance``. The simulator's own rule is the contact itself; recorded as extension columns, the
    clearance lets imagination apply the same rule to the world model's predictions (docs/method.md section 6).
    """

    max_gravity_z: float  # projected gravity z above this: tilted beyond the limit
    clearance_column: int | None = None  # index into the extension columns; None: tilt only
    min_clearance: float = 0.0  # [m] a clearance below this counts as a body contact with the floor

    @property
    def reads_extension(self) -> bool:
        """Whether the rule needs the extension columns (a tilt-only rule does not)."""
        return self.clearance_column is not None

    def __call__(self, state: torch.Tensor, extension: torch.Tensor | None, layout: StateLayout) -> torch.Tensor:
        """(n,) bool from PHYSICAL ``state`` (n, S) and ``extension`` (n, E) (None: tilt only)."""
        fallen = state[:, layout.gravity.start + 2] > self.max_gravity_z
        if self.clearance_column is not None and extension is not None:
            fallen = fallen | (extension[:, self.clearance_column] < self.min_clearance)
        return fallen


@dataclass(frozen=True)
class ContactRule:
    """Contacts written on extension columns, so they apply to predicted states too.

    Contact ``contact_ids[i]`` is on where the extension column ``clearance_columns[i]`` (the height of the lowest point
    of that body part above the floor) is below ``min_clearance``; the other contacts keep their own value (the learned
    head's in imagination). The Go2 uses it for the rare undesired thigh/calf contacts, which a classifier trained on
    behaviour data predicts as "never" on the very states where a policy kneels.
    """

    contact_ids: tuple[int, ...]
    clearance_columns: tuple[int, ...]
    min_clearance: float = 0.0  # [m]

    def __post_init__(self) -> None:
        if len(self.contact_ids) != len(self.clearance_columns):
            raise ValueError("ContactRule needs one clearance column per contact id")

    @property
    def reads_extension(self) -> bool:
        """Always: every contact it sets comes from an extension column."""
        return True

    def __call__(self, contacts: torch.Tensor, extension: torch.Tensor) -> torch.Tensor:
        """``contacts`` (n, C) 0/1 with the rule's contacts replaced from PHYSICAL ``extension`` (n, E); a new tensor."""
        out = contacts.clone()
        out[:, list(self.contact_ids)] = (extension[:, list(self.clearance_columns)] < self.min_clearance).to(out)
        return out


@dataclass(frozen=True)
class Task:
    """A locomotion task: the facts every stage of the pipeline shares."""

    name: str
    dims: DataDims
    dt: float
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    contact_names: tuple[str, ...]
    extension_names: tuple[str, ...] = ()
    # Normalisation, state = (x - mean) / std. None means "compute from the data".
    state_mean: tuple[float, ...] | None = None
    state_std: tuple[float, ...] | None = None
    action_mean: tuple[float, ...] | None = None
    action_std: tuple[float, ...] | None = None
    extension_mean: tuple[float, ...] | None = None
    extension_std: tuple[float, ...] | None = None
    layout: StateLayout = field(default_factory=StateLayout)
    # Contact columns that are undesired (thigh/shank on the ground) and the feet, as indices into the contacts.
    undesired_contact_ids: tuple[int, ...] = ()
    foot_contact_ids: tuple[int, ...] = ()
    episode_length: int = 256  # steps
    rewards: RewardWeights = field(default_factory=RewardWeights)
    commands: CommandConfig = field(default_factory=CommandConfig)
    pushes: PushConfig = field(default_factory=PushConfig)
    observation_noise: ObservationNoise = field(default_factory=ObservationNoise)
    termination_rule: TerminationRule | None = None  # None: only the recorded / learned termination flag
    contact_rule: ContactRule | None = None  # None: only the recorded / learned contact flags
    # The actor's observation terms (group "policy"), in order; and the critic's own, noise-free terms (group
    # "critic"), or None: the critic reads the actor's observation (rwmu.tasks.observations).
    observation_terms: tuple[str, ...] = REFERENCE_OBSERVATION
    critic_observation_terms: tuple[str, ...] | None = None
    simulated: bool = False  # rwmu's MuJoCo simulator runs it (rwmu collect, evaluate, train-online)

    def __post_init__(self) -> None:
        checks = {
            "state_names": (self.state_names, self.dims.state),
            "action_names": (self.action_names, self.dims.action),
            "contact_names": (self.contact_names, self.dims.contact),
            "extension_names": (self.extension_names, self.dims.extension),
        }
        for key, (names, dim) in checks.items():
            if len(names) != dim:
                raise ValueError(f"task {self.name}: {key} has {len(names)} entries, dims say {dim}")
        for key, values, dim in (
            ("state_mean", self.state_mean, self.dims.state),
            ("state_std", self.state_std, self.dims.state),
            ("action_mean", self.action_mean, self.dims.action),
            ("action_std", self.action_std, self.dims.action),
            ("extension_mean", self.extension_mean, self.dims.extension),
            ("extension_std", self.extension_std, self.dims.extension),
        ):
            if values is not None and len(values) != dim:
                raise ValueError(f"task {self.name}: {key} has {len(values)} entries, dims say {dim}")
        for key, terms in (
            ("observation_terms", self.observation_terms),
            ("critic_observation_terms", self.critic_observation_terms),
        ):
            if terms is not None and (
                not terms or len(set(terms)) != len(terms) or set(terms) - set(OBSERVATION_TERMS)
            ):
                raise ValueError(f"task {self.name}: {key} {terms} must be distinct names among {OBSERVATION_TERMS}")

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of all dataset columns in order."""
        term = ("termination",) if self.dims.termination else ()
        return (
            tuple(f"state/{n}" for n in self.state_names)
            + tuple(f"action/{n}" for n in self.action_names)
            + tuple(f"extension/{n}" for n in self.extension_names)
            + tuple(f"contact/{n}" for n in self.contact_names)
            + term
        )

    @property
    def num_joints(self) -> int:
        return self.layout.num_joints

    def observation_term_size(self, term: str) -> int:
        """Entries of one observation term: 3 for base quantities and the command, J for joints, A for the action."""
        if term == "last_action":
            return self.dims.action
        return self.num_joints if term.startswith("joint_") else 3

    @property
    def observation_dim(self) -> int:
        """Entries of the actor's observation (48 for the reference task's terms and 12 joints)."""
        return sum(self.observation_term_size(t) for t in self.observation_terms)

    @property
    def critic_observation_dim(self) -> int | None:
        """Entries of the critic's own observation, None where the critic reads the actor's."""
        terms = self.critic_observation_terms
        return None if terms is None else sum(self.observation_term_size(t) for t in terms)


def locomotion_state_names(joint_names: tuple[str, ...]) -> tuple[str, ...]:
    """State column names for the standard 9 + 3 * J locomotion layout."""
    base = (
        "base_lin_vel_x",
        "base_lin_vel_y",
        "base_lin_vel_z",
        "base_ang_vel_x",
        "base_ang_vel_y",
        "base_ang_vel_z",
        "projected_gravity_x",
        "projected_gravity_y",
        "projected_gravity_z",
    )
    return (
        base
        + tuple(f"joint_pos/{j}" for j in joint_names)
        + tuple(f"joint_vel/{j}" for j in joint_names)
        + tuple(f"joint_torque/{j}" for j in joint_names)
    )
