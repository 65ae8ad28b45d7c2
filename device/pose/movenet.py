"""MoveNet SinglePose Lightning (int8) on the TFLite interpreter, built once.

Input: one RGB uint8 square `(192, 192, 3)` (see `device.pose.crop` for how a frame becomes one).
Output of `infer`: `(17, 3)` float array of `x, y, score` with x, y normalised to the input square
(0..1 from its left/top edge to its right/bottom edge), COCO-17 order. The model itself gives
`(y, x, score)`; the swap happens here, once.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from device import model as model_file
from device.errors import ModelError
from device.pose.runtime import load_interpreter_class

log = logging.getLogger(__name__)

INPUT_SIZE = 192


@contextmanager
def _quiet_native_stderr():
    """The runtime prints 'INFO: Created TensorFlow Lite XNNPACK delegate' straight to fd 2; keep
    that out of the one-line CLI output and pass it on to the log instead."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.debug("runtime: %s", line.strip())


class MoveNet:
    """The interpreter for one model file; `infer` is thread-safe (one call at a time)."""

    def __init__(self, model_path: str | os.PathLike | None = None, threads: int = 1):
        self.model_path = Path(model_file.resolve(model_path))
        self.threads = int(threads)
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        interpreter_class, self.runtime = load_interpreter_class()
        try:
            with _quiet_native_stderr():
                self._interpreter = interpreter_class(
                    model_path=str(self.model_path), num_threads=self.threads
                )
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"MoveNet model {self.model_path}: the runtime cannot load it ({e})") from None
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3) or inp["dtype"] != np.uint8:
            raise ModelError(f"MoveNet model {self.model_path}: unexpected input {inp['shape']} {inp['dtype']}")
        self._input = inp["index"]
        self._output = out["index"]
        self._lock = threading.Lock()
        log.info("MoveNet on %s, %d thread(s), model %s", self.runtime, self.threads, self.model_path)

    def infer(self, square: np.ndarray) -> np.ndarray:
        """`(17, 3)` x, y (normalised to the input square), score for one 192x192 RGB uint8 input."""
        if square.shape != (INPUT_SIZE, INPUT_SIZE, 3) or square.dtype != np.uint8:
            raise ValueError(f"MoveNet input must be uint8 (192, 192, 3), got {square.dtype} {square.shape}")
        with self._lock:
            self._interpreter.set_tensor(self._input, square[np.newaxis])
            self._interpreter.invoke()
            yxs = self._interpreter.get_tensor(self._output)[0, 0]
        return yxs[:, [1, 0, 2]].astype(np.float64)

    def __repr__(self) -> str:
        return f"<MoveNet {self.runtime} threads={self.threads} {self.model_path.name}>"
