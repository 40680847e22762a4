"""How a model's weights reach the host, decided here so the engine roles never look at the shape
of `source`: they follow `method` and touch `marker` when the weights are complete.

  generate  the sandbox's tiny model, made on the host from a seed (marker: its safetensors file)
  download  a hub snapshot at the pinned revision (marker: a file naming that revision, so a new
            revision downloads again)
  present   a path already on the host: nothing to stage, only checked
"""

from __future__ import annotations

import posixpath
from typing import Any

GENERATED_WEIGHTS_FILE = "model.safetensors"


def staging(source: dict[str, Any], weights_dir: str) -> dict[str, Any]:
    """The staging of one model, from the Plan's normalised source (generate, hub or path)."""
    parent = posixpath.dirname(weights_dir)
    if "generate" in source:
        return {
            "method": "generate",
            "seed": source["seed"],
            "parent_dir": parent,
            "marker": f"{weights_dir}/{GENERATED_WEIGHTS_FILE}",
        }
    if "hub" in source:
        revision = source["revision"]
        return {
            "method": "download",
            "repo": source["hub"],
            "revision": revision,
            "parent_dir": parent,
            "marker": f"{weights_dir}/.hx-revision-{revision}",
        }
    return {"method": "present"}
