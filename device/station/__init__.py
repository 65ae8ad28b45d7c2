"""The station: the walk-up state machine (`machine`) and the supervised process (`runtime`).

`Station` is plain logic with an injected clock; `runtime.StationRuntime` owns the cameras, the
GPIO panel, the inference and analysis workers and implements the web layer's StationControl.
"""

from device.station.machine import STATES, Job, Station

__all__ = ["STATES", "Job", "Station"]
