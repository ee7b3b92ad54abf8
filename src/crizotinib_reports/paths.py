"""Where things live. Every default path of the project comes from here."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent
DATA_DIR = PROJECT_ROOT / "data"
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
OUTPUT_DIR = PROJECT_ROOT / "outputs"
SCHEMA_FILE_NAME = "schema.yaml"


def display_path(path: Path) -> str:
    """A path as people should read it in messages: relative to the project when inside it."""
    path = Path(os.path.abspath(path))  # absolute, but symlinks kept: outputs/manifest.json, not its target
    for base in (Path(os.path.abspath(Path.cwd())), PROJECT_ROOT):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)
