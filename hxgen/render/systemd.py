"""systemd units of the model services: the engine command line, limits and restart policy."""

from __future__ import annotations

from .. import layout
from ..plan import ModelService, Plan
from .common import RENDERED_DIR, Artifact, header, templates

DOCS = {"vllm": "https://docs.vllm.ai/", "tgi": "https://huggingface.co/docs/text-generation-inference"}
STATE_DIRS = {"vllm": layout.VLLM_STATE, "tgi": layout.TGI_STATE}


def render(plan: Plan) -> list[Artifact]:
    return [_unit(plan, m) for m in plan.models]


def _unit(plan: Plan, model: ModelService) -> Artifact:
    text = (
        templates()
        .get_template("model.service.j2")
        .render(
            header=header(plan.spec_file).rstrip("\n"),
            m=model,
            gpu=plan.host_named(model.host).has_gpus,
            docs_url=DOCS[model.engine],
            state_dir=STATE_DIRS[model.engine],
            runtime=f"/usr/bin/{plan.engines.tgi.runtime}",
        )
    )
    return Artifact(f"{RENDERED_DIR}/{model.unit_file}", text)
