"""SQLite store of assessments: results, compressed keypoint tracks, annotated stills.

    from device.store import Store
    store = Store(data_dir / "assessments.db")
    aid = store.save_assessment(result, track, {"front": jpeg, "side": jpeg}, label="AB")
    store.get(aid)
"""

from device.store.schema import KINDS, VERSION
from device.store.store import NotFound, Store, apply_overrides, iso, utc_now

__all__ = ["KINDS", "VERSION", "NotFound", "Store", "apply_overrides", "iso", "utc_now"]
