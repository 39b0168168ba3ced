"""Scripted behaviour policies that generate offline data (``rwmu collect --policy scripted``)."""

from rwmu.behavior.trot import TrotConfig, TrotController, TrotDiversity, TrotGains

__all__ = ["TrotConfig", "TrotController", "TrotDiversity", "TrotGains"]
