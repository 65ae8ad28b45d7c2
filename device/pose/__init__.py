"""MoveNet pose estimation: runtime, pre-processing, crop tracking, smoothing."""
