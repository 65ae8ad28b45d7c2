"""Camera geometry: pinhole models, the two cameras' poses in one metric frame, 3-D keypoints.

Foundations only (numpy, OpenCV's calibration functions); nothing here knows about stations,
rules or pages. `camera` holds the pinhole model every other module here uses.
"""
