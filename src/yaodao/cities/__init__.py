"""City data shipped with yaodao, and the loaders that turn a city folder into a :class:`City`.

A city is a folder holding ``city.json`` (service area, timezone, windows, speeds, district
weights) and, optionally, ``districts.geojson``. Cities shipped with the package live beside this
file; a deployment adds one by dropping such a folder anywhere and loading it with
:func:`load_city_from_dir`. No code changes either way.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from yaodao.kernel.city import City, city_from_data
from yaodao.kernel.errors import NotFound, ValidationFailed

CITY_FILE = "city.json"
DISTRICTS_FILE = "districts.geojson"


def available_cities() -> list[str]:
    """Ids of the cities shipped inside the package, sorted."""
    root = resources.files(__name__)
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and entry.joinpath(CITY_FILE).is_file())


@functools.lru_cache(maxsize=32)
def load_city(city_id: str) -> City:
    """The shipped city ``city_id``; parsed once per process (a City is immutable)."""
    if city_id not in available_cities():
        raise NotFound(f"unknown city {city_id!r}; shipped cities: {', '.join(available_cities())}", field="city_id")
    return _load(resources.files(__name__).joinpath(city_id))


def load_city_from_dir(path: Path) -> City:
    """A city kept outside the package: a folder with ``city.json`` and optional ``districts.geojson``."""
    if not (path / CITY_FILE).is_file():
        raise NotFound(f"no {CITY_FILE} in {path}", field="path")
    return _load(path)


def _load(folder: Traversable | Path) -> City:
    data = _read_json(folder.joinpath(CITY_FILE))
    districts_file = folder.joinpath(DISTRICTS_FILE)
    districts = _read_json(districts_file) if districts_file.is_file() else None
    return city_from_data(data, districts)


def _read_json(file: Traversable | Path) -> dict[str, Any]:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{file.name}: invalid JSON ({exc})", field=file.name) from exc
    if not isinstance(value, dict):
        raise ValidationFailed(f"{file.name}: expected a JSON object", field=file.name)
    return value
