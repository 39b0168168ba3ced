"""Column layout of a dataset row: state | action | extension | contact | termination (docs/method.md section 2).

Row ``t`` of a trajectory holds the state ``s_t``, the action ``a_t`` that was applied at ``s_{t-1}`` and led to
``s_t`` (the "last action", zeros on the first row), the extension values, the contact flags and the termination flag
of step ``t``. The world model therefore pairs ``s_t`` with the action of row ``t + 1`` to predict ``s_{t+1}``,
exactly as the reference loader and trainer do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataDims:
    """Widths of the five column groups of a dataset row."""

    state: int
    action: int
    extension: int = 0
    contact: int = 0
    termination: int = 1

    def __post_init__(self) -> None:
        for name in ("state", "action", "extension", "contact", "termination"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"DataDims.{name} must be a non-negative int, got {value!r}")
        if self.state == 0 or self.action == 0:
            raise ValueError("DataDims.state and DataDims.action must be positive")
        if self.termination not in (0, 1):
            raise ValueError("DataDims.termination must be 0 or 1")

    @property
    def num_columns(self) -> int:
        return self.state + self.action + self.extension + self.contact + self.termination

    @property
    def state_slice(self) -> slice:
        return slice(0, self.state)

    @property
    def action_slice(self) -> slice:
        return slice(self.state, self.state + self.action)

    @property
    def extension_slice(self) -> slice:
        start = self.state + self.action
        return slice(start, start + self.extension)

    @property
    def contact_slice(self) -> slice:
        start = self.state + self.action + self.extension
        return slice(start, start + self.contact)

    @property
    def termination_slice(self) -> slice:
        start = self.state + self.action + self.extension + self.contact
        return slice(start, start + self.termination)

    def describe(self) -> str:
        """The reference loader's one-line summary."""
        return (
            f"State dim: {self.state} | Action dim: {self.action} | Extension dim: {self.extension} | "
            f"Contact dim: {self.contact} | Termination dim: {self.termination}"
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "state": self.state,
            "action": self.action,
            "extension": self.extension,
            "contact": self.contact,
            "termination": self.termination,
        }
