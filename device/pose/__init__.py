"""MoveNet pose estimation: runtime, pre-processing, crop tracking, smoothing.

    from device.pose import MoveNet, PoseTracker, estimate_image
    movenet = MoveNet()                      # model via device.model.resolve(), built once
    tracker = PoseTracker(movenet)           # one per view
    pose = tracker.process(rgb, t)           # RGB uint8 (H, W, 3) -> Pose in pixels

Heavy imports (OpenCV, LiteRT) load on first use of these names.
"""

from device.keypoints import KEYPOINT_NAMES, BodyPart, Keypoint, Pose

__all__ = ["KEYPOINT_NAMES", "BodyPart", "Keypoint", "Pose", "MoveNet", "PoseTracker", "estimate_image"]


def __getattr__(name):
    if name == "MoveNet":
        from device.pose.movenet import MoveNet

        return MoveNet
    if name in ("PoseTracker", "estimate_image"):
        from device.pose import tracker

        return getattr(tracker, name)
    raise AttributeError(f"module 'device.pose' has no attribute {name!r}")
