"""What 17 keypoints cannot see: feet turning, heels rising and the low back, from silhouettes.

The station's cameras are fixed, so each one's empty scene can be learnt while nobody stands on
the spot (`BackgroundModel`); a person's silhouette is what differs from it (`person_mask`), and
the keypoints say which part of the silhouette is a foot, a shank or the trunk (`measure`).
`refine(result, frames, track, backgrounds)` puts the measurements into the rules' result where
they can be trusted. See docs/silhouette.md.
"""

from device.silhouette.background import BackgroundModel, median_background
from device.silhouette.mask import person_mask
from device.silhouette.refine import refine, wanted

__all__ = ["BackgroundModel", "median_background", "person_mask", "refine", "wanted"]
