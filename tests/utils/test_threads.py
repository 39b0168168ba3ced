import os

import pytest
import torch

from rwmu.utils.threads import configure_threads, usable_cpus


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_cgroup_quota_caps_the_usable_cpus(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs -> 2
    assert usable_cpus(quota) == min(affinity, 2)
    quota.write_text("50000 100000\n")
    assert usable_cpus(quota) == 1
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == affinity
    assert usable_cpus(tmp_path / "missing") == affinity


def test_configure_threads_follows_omp_num_threads_then_the_usable_cpus(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert configure_threads() == 1 and torch.get_num_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert configure_threads() == usable_cpus() == torch.get_num_threads()
    assert configure_threads(reserved=usable_cpus() + 5) == 1  # never below one
    assert configure_threads(3) == 3 == torch.get_num_threads()
