"""The TFLite interpreter: LiteRT (`ai_edge_litert`) first, `tflite_runtime` as the fallback.

LiteRT is the successor of tflite-runtime and about ten times faster on this model here
(docs/performance.md). tflite-runtime 2.14 is kept as a fallback import for systems where LiteRT
cannot be installed; its wheels need numpy<2 (the `[tflite]` extra).
"""

from __future__ import annotations

import importlib
import logging
from importlib import metadata

from device.errors import RuntimeMissing

log = logging.getLogger(__name__)

# (module holding `Interpreter`, distribution name reported to the user), in order of preference
RUNTIMES = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
)


def load_interpreter_class() -> tuple[type, str]:
    """The `Interpreter` class of the first runtime that imports, and e.g. "ai-edge-litert 2.3.0"."""
    problems = []
    for module_name, dist in RUNTIMES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:  # includes a module blocked in sys.modules
            problems.append(f"{dist}: {e}")
            log.debug("runtime %s unavailable: %s", dist, e)
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = getattr(module, "__version__", None) or "unknown version"
        return module.Interpreter, f"{dist} {version}"
    raise RuntimeMissing(
        "no TFLite runtime: install ai-edge-litert (pip install 'ai-edge-litert>=2,<3') "
        "or tflite-runtime (" + "; ".join(problems) + ")"
    )
