"""Re-export of :mod:`engine.settings` for services (kept out of this package so
allocators and the job runner can use settings without importing every service)."""

from engine.settings import SPECS, Settings, SettingSpec

__all__ = ["SPECS", "SettingSpec", "Settings"]
