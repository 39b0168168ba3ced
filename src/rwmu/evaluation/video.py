"""Offscreen video of one simulated Go2 environment, for ``rwmu evaluate --video``.

Needs an OpenGL backend (``MUJOCO_GL=egl`` on a GPU, ``MUJOCO_GL=osmesa`` in software); writes a ``.gif`` (every
second control step, 25 fps; Pillow) or an ``.mp4`` (every step, 50 fps; opencv-python).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from rwmu.errors import RwmuError
from rwmu.sim.model import load_go2_render_model
from rwmu.utils.io import atomic_path


class VideoRecorder:
    """Offscreen frames of environment 0 of a :class:`rwmu.sim.env.Go2VecEnv`; ``frame()`` after each control step,
    ``close()`` writes the file (atomically)."""

    def __init__(self, path: str | Path, env: Any, max_steps: int | None = None, width: int = 480, height: int = 360):
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".gif"):
            raise RwmuError(f"--video {self.path}: use a .mp4 or .gif file name")
        if self.path.suffix.lower() == ".mp4":
            if importlib.util.find_spec("cv2") is None:
                raise RwmuError("--video .mp4 needs opencv-python (pip install opencv-python); or write a .gif")
        self.env = env
        self.model = load_go2_render_model(env.actuation)
        self.data = mujoco.MjData(self.model)
        try:
            self.renderer = mujoco.Renderer(self.model, height, width)
        except Exception as err:  # noqa: BLE001 - no GL context of any kind
            raise RwmuError(
                f"--video: no offscreen OpenGL renderer ({str(err).splitlines()[0][:120]}); set "
                f"MUJOCO_GL=egl (GPU/EGL) or MUJOCO_GL=osmesa (software) and retry"
            ) from None
        self.camera = mujoco.MjvCamera()
        self.camera.distance, self.camera.elevation, self.camera.azimuth = 1.6, -20.0, 135.0
        self.frames: list[np.ndarray] = []
        self.max_steps = max_steps
        self.stride = 2 if self.path.suffix.lower() == ".gif" else 1  # GIFs at 25 fps, videos at 50 fps
        self.steps = 0

    def frame(self) -> None:
        self.steps += 1
        if (self.max_steps is not None and self.steps > self.max_steps) or (self.steps - 1) % self.stride:
            return
        self.data.qpos[:] = self.env.pool.get_qpos(0)
        mujoco.mj_forward(self.model, self.data)
        self.camera.lookat[:] = self.data.qpos[0:3]
        self.renderer.update_scene(self.data, self.camera)
        self.frames.append(self.renderer.render().copy())

    def close(self) -> None:
        if not self.frames:
            return
        fps = int(round(1.0 / self.env.task.dt))
        with atomic_path(self.path) as tmp:
            if self.path.suffix.lower() == ".gif":
                from PIL import Image

                images = [Image.fromarray(f) for f in self.frames]
                images[0].save(
                    tmp,
                    format="GIF",
                    save_all=True,
                    append_images=images[1:],
                    duration=int(1000 * self.stride / fps),
                    loop=0,
                )
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
