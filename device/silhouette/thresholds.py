"""The silhouette measurement's own geometry constants.

The decision thresholds are not here: they live in the one table, `device/thresholds.py`
(entries `silhouette_*`, with unit, range and reason), and reach `refine` in the same
`Thresholds` object as the rules' (a trainer may override them by name in `[rules.thresholds]`). docs/silhouette.md says how each was chosen (scripts/eval_silhouette.py).
"""

# Below this confidence (0..1) a measurement is not reported: the entry stays as the rules left it.
MIN_CONFIDENCE = 0.5

# Geometry the measurements need before they are trusted.
MIN_SHANK_PX = 22.0  # knee-to-ankle length in the processed image (longer side at most 640 px)
# Hip-to-shoulder length the back contour needs: a 10-degree contour turn is a sagitta of about
# 1 px at 75 px. On the renderer the back's spread on clean squats is about 6 degrees at 85 px
# (640x480, 2.6 m) and 15 at 64 px (480x360), where it raised false alarms.
MIN_TRUNK_PX = 75.0
SIDE_VIEW_MAX_SKEW = 0.25  # |left-right hip/shoulder separation| / trunk length in the side view
FRONT_VIEW_MIN_WIDTH = 0.25  # hip width / trunk length in the front view
# Upright in fitted clothes the back's profile from buttocks to shoulder blades is hollow (the
# lumbar lordosis): about -19 degrees on the renderer's body. Flatter than this when standing,
# something hides the back's shape (a loose top hanging straight from the shoulder blades reads
# 0) and the low back is not assessed.
MIN_STANDING_HOLLOW_DEG = 6.0

# Adult proportions used to turn pixels into cm and degrees (documented in docs/silhouette.md).
SHANK_CM = 43.0  # knee to ankle joint
TOE_REACH = 0.25  # forefoot-centroid shift per unit sin(turn), as a share of the shank
# A foot's own toe-out from its forefoot offset reads a little out on the renderer's feet (+1.4
# degrees bias, more near straight feet, none near 30): the absolute readings (standing toe-out,
# the feet against the mat's footprints) are corrected by true = GAIN x read - OFFSET, fitted on
# 30 rendered front views (seeds 300-329, feet -5..32 degrees); the turn from the standing start
# is a difference and needs no offset. docs/silhouette.md gives the held-out check.
TOE_OUT_GAIN = 1.055
TOE_OUT_OFFSET_DEG = 2.13
# The back contour needs a square side view. Known from the mat calibration, the side camera's
# angle round toward the front decides (the keypoints' left-right spread, SIDE_VIEW_MAX_SKEW,
# lets views up to about 17 degrees through): on the renderer a 30-degree lumbar rounding reads
# 41 square on, 28-33 at 3 degrees round, 8-27 at 7, 2 at 10 and 59 at 15; an arch of 30 reads
# -31, -36, -25..-29, -20, -13 (docs/silhouette.md). A correction for the foreshortening from the
# known angle (offsets shrinking by cos(angle)) did not recover them: the edge comes from another
# part of the back as the camera turns. So beyond this the back is not assessed.
BACK_MAX_ROUND_DEG = 5.0
