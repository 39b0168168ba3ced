"""The ``rwmu`` command line (:mod:`rwmu.cli.main`)."""

import os

# Headless machines render MuJoCo offscreen through EGL (`rwmu evaluate --video`); mujoco reads this at import.
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")
