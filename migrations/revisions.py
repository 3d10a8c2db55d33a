"""Earlier revision files, loaded by later ones that build on their SQL (the revision files are not an
importable package: their names start with digits)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("versions")


def load(file_name: str) -> ModuleType:
    path = VERSIONS / file_name
    spec = importlib.util.spec_from_file_location(f"revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
