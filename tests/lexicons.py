"""A tiny in-memory lexicon for unit tests, and the real WordNet 3.0 when it is installed."""

from __future__ import annotations

import os
import shutil

import pytest

from knowledge_graphs.lexicon import MemoryLexicon


def tiny_lexicon() -> MemoryLexicon:
    """A few synsets shaped like WordNet's: a vehicle taxonomy whose parts are listed on the
    general synset (wheel of wheeled_vehicle), a person, a data table and a furniture table."""
    return MemoryLexicon(
        {
            "entity.n.01": {"lemmas": ["entity"]},
            "physical_entity.n.01": {"lemmas": ["physical_entity"], "hypernyms": ["entity.n.01"]},
            "abstraction.n.06": {"lemmas": ["abstraction"], "hypernyms": ["entity.n.01"]},
            "artifact.n.01": {"lemmas": ["artifact"], "hypernyms": ["physical_entity.n.01"]},
            "vehicle.n.01": {"lemmas": ["vehicle"], "hypernyms": ["artifact.n.01"]},
            "wheeled_vehicle.n.01": {
                "lemmas": ["wheeled_vehicle"],
                "hypernyms": ["vehicle.n.01"],
                "parts": ["wheel.n.01"],
            },
            "car.n.01": {
                "lemmas": ["car", "auto"],
                "hypernyms": ["wheeled_vehicle.n.01"],
                "parts": ["car_door.n.01"],
            },
            "bicycle.n.01": {"lemmas": ["bicycle", "bike"], "hypernyms": ["wheeled_vehicle.n.01"]},
            "wheel.n.01": {"lemmas": ["wheel"], "hypernyms": ["artifact.n.01"]},
            "door.n.01": {"lemmas": ["door"], "hypernyms": ["artifact.n.01"]},
            "car_door.n.01": {"lemmas": ["car_door"], "hypernyms": ["door.n.01"]},
            "lamp.n.01": {"lemmas": ["lamp"], "hypernyms": ["artifact.n.01"]},
            "person.n.01": {"lemmas": ["person"], "hypernyms": ["physical_entity.n.01"]},
            "foot.n.01": {"lemmas": ["foot"], "hypernyms": ["physical_entity.n.01"]},
            "arm.n.01": {"lemmas": ["arm"], "hypernyms": ["physical_entity.n.01"]},
            "table.n.01": {"lemmas": ["table"], "hypernyms": ["abstraction.n.06"]},
            "table.n.02": {"lemmas": ["table"], "hypernyms": ["artifact.n.01"]},
        },
        exceptions={"feet": "foot"},
        name="tiny test lexicon",
    )


def wordnet_dir() -> str | None:
    from knowledge_graphs.wordnet import find_wordnet_dir

    try:
        found = find_wordnet_dir()
    except FileNotFoundError:
        return None
    return str(found) if found is not None else None


def require_wordnet() -> str:
    """The WordNet 3.0 directory; a missing one fails under CI (which installs it), and skips
    elsewhere with the way to get it."""
    found = wordnet_dir()
    if found is None:
        message = "WordNet 3.0 is not installed (apt-get install wordnet-base, or set WNHOME)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def copy_wordnet(target) -> None:  # type: ignore[no-untyped-def]
    source = require_wordnet()
    target.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(source):
        if name.split(".")[0] in ("data", "index") or name.endswith(".exc"):
            shutil.copyfile(os.path.join(source, name), target / name)
