"""The model card a world's training writes beside a model's weights, read back."""

from __future__ import annotations

import json
from pathlib import Path


def card_beside(path) -> dict:
    """The model card .json a world's training saves beside its .safetensors `path` (empty where `path` is
    not such a file, or its card is missing or not a JSON object)."""
    path = Path(path)
    card = path.with_suffix(".json")
    if path.suffix != ".safetensors" or not path.is_file() or not card.is_file():
        return {}
    try:
        keys = json.loads(card.read_text())
    except (ValueError, OSError):
        return {}
    return keys if isinstance(keys, dict) else {}
