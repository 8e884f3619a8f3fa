"""Reading back the JSON files lowbit writes (run configs, training states, manifests): a file
that is not valid JSON or not a JSON object is one ``ValueError`` naming it."""

from __future__ import annotations

import json
from pathlib import Path


def read_object(path, *, what: str = "a JSON object", hint: str = "") -> dict:
    """The JSON object in ``path``; ``ValueError`` naming the file (and ``hint``) otherwise."""
    path = Path(path)
    suffix = f"; {hint}" if hint else ""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}){suffix}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not {what}{suffix}")
    return value
