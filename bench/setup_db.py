"""A throwaway data dir with a migrated database, for benchmarks that run in-process."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from bench.common import ROOT


def fresh_data_dir(prefix: str) -> Path:
    """Point the app at a new temp EXPORTS_DATA_DIR, migrated to head."""
    from exports_app import config, db

    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["EXPORTS_DATA_DIR"] = str(data_dir)
    os.environ.pop("EXPORTS_DATABASE_URL", None)
    config.get_settings.cache_clear()
    db.reset_engine()
    migrate_to_head()
    return data_dir


def migrate_to_head() -> None:
    """Migrate the database the app's settings point at (EXPORTS_DATABASE_URL, else SQLite in the data dir)."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
