"""Where tests leave files for people to look at (screenshots, measured numbers): the folder named
by PLOOMES_TEST_ARTIFACTS, else build/test-artifacts. CI keeps it after the run."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir(*parts: str) -> Path:
    folder = Path(os.environ.get("PLOOMES_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts", *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
