"""Capturing and restoring the changing state of an object graph (rwmu.utils.snapshot)."""

from __future__ import annotations

import io
from collections import deque

import torch

from rwmu.tasks import get_task
from rwmu.tasks.commands import CommandSampler
from rwmu.utils.snapshot import capture_state, restore_state

TASK = get_task("go2_flat")


def sampler(seed: int) -> CommandSampler:
    return CommandSampler(TASK.commands, 6, generator=torch.Generator().manual_seed(seed))


def test_a_restored_object_continues_as_the_original():
    original = sampler(0)
    for _ in range(30):
        original.step()
    saved = capture_state(original)
    buffer = io.BytesIO()
    torch.save(saved, buffer)  # what a checkpoint holds reads back without unpickling code
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    commands = original.commands
    copy = sampler(1)  # built the same way, another history
    restore_state(copy, loaded)
    for _ in range(200):
        original.step()
        copy.step()
        assert torch.equal(original.commands, copy.commands)
    assert original.commands is commands  # the buffers are still the same objects, written in place


def test_settings_are_not_overwritten_and_skipped_paths_not_recorded():
    state = capture_state(sampler(0), skip=("steps_until_resample",))
    assert set(state["tensors"]) == {"commands", "is_standing"} and set(state["generators"]) == {"generator"}
    assert not state["counters"] and "config" not in str(sorted(state["sequences"]))
    other = CommandSampler(TASK.commands, 6, generator=torch.Generator().manual_seed(1))
    other.num_envs = 7  # a public scalar is a setting: never restored
    restore_state(other, state)
    assert other.num_envs == 7


def test_counters_and_sequences_are_restored():
    class_holder = sampler(0)
    class_holder._served = 5  # a private integer: a counter
    class_holder.recent = deque([torch.ones(2)], maxlen=3)
    state = capture_state(class_holder)
    fresh = sampler(0)
    fresh.recent = deque(maxlen=3)
    restore_state(fresh, state)
    assert fresh._served == 5 and len(fresh.recent) == 1 and fresh.recent.maxlen == 3
