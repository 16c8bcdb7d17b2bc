"""A throwaway data dir with a migrated database, for benchmarks that run in-process."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fresh_data_dir(prefix: str) -> Path:
    """Point the app at a new temp EXPORTS_DATA_DIR, migrated to head."""
    from exports_app import config, db

    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["EXPORTS_DATA_DIR"] = str(data_dir)
    os.environ.pop("EXPORTS_DATABASE_URL", None)
    config.get_settings.cache_clear()
    db.reset_engine()
    db.upgrade_to_head(logs=False)
    return data_dir
