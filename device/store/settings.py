"""Storage settings (`[storage]` in the config): how long assessments are kept, disk limits.

Read by the store's clean-up (retention) and by device.health (how full the disk may get).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from device.section import Section, invalid


class StorageSettings(Section):
    retention_days: int = Field(
        365, ge=0, le=3650, description="Delete assessments older than this many days; 0 keeps them forever"
    )
    disk_warn_percent: int = Field(
        80, ge=0, le=100, description="Warn on the health page when the disk is this full (per cent)"
    )
    disk_stop_images_percent: int = Field(
        95, ge=0, le=100,
        description="Stop storing stills (results are still stored) when the disk is this full (per cent)",
    )

    @model_validator(mode="after")
    def _consistent(self):
        if self.disk_stop_images_percent < self.disk_warn_percent:
            raise invalid("disk_stop_images_percent", f"must not be below storage.disk_warn_percent "
                          f"({self.disk_stop_images_percent} < {self.disk_warn_percent})")
        return self
