"""The one analysis pipeline: a recorded set (keypoints, kept frames, backgrounds) -> a result.

    from device.analysis import analyse
    result = analyse(track, kept, thresholds=th, backgrounds=bgs)          # the station
    result, track = assess_recordings("front.mov", "side.mov")             # ohsa assess

Stages, each in its own module and each re-runnable on stored inputs:
clocks aligned once (`device.rules.align`) -> rules on keypoints (`device.rules`) -> silhouette
refinement of feet, heels and low back (`device.silhouette`) -> re-test comparison (`retest`)
-> the worst rep's stills (`stills`). `keeper` holds the frames a set keeps (bounded memory);
`assess` replays recordings through pose into the same pipeline.
"""

from device.analysis.pipeline import analyse

__all__ = ["analyse", "assess_recordings"]


def __getattr__(name):
    if name == "assess_recordings":
        from device.analysis.assess import assess_recordings

        return assess_recordings
    raise AttributeError(f"module 'device.analysis' has no attribute {name!r}")
