"""No decorative fields: every leaf of the spec changes what is rendered, or is listed.

Every leaf of the default spec (hx.yaml, validated, then dumped with every default filled in)
is mutated to another valid value, the spec is checked and rendered again, and the rendered
files are compared byte for byte with the unmutated render. A field whose mutation leaves every
file identical must be listed in hxgen/spec/field_roles.py with the reason (a check reads it,
a later issue owns it, ...); a listed field that does change the render must leave the list.

How a leaf is mutated, in order, the first valid candidate winning: a Literal to another member,
a bool flipped, a number nudged (+1 first, then by 10 %, then halved), a string to a value of
the same field elsewhere in the spec, then to an edited string, a null optional to a plausible
value or to a name used in the spec. Up to VALID_TRIES valid candidates are rendered before a
leaf counts as unrendered (a null optional's first candidate may be what its default resolves
to). A string that names something (a tier, a receiver) may be
renamed everywhere at once when no single-site change is valid. Fields whose effect depends on
another field get that context first (PRECONDITIONS, compared with the context's own render);
fields tied to others (mutually exclusive, weights that sum to 100) get a joint mutation
(JOINT). A field for which no valid mutation exists names the reason in NO_VALID_MUTATION, and
the test checks that it really has none.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel

from hxgen.pipeline import render_file, render_text
from hxgen.spec import Spec
from hxgen.spec.field_roles import unrendered_fields

ROOT = Path(__file__).resolve().parents[2]

Doc = dict[str, typing.Any]
Where = tuple[str | int, ...]

# Fields no valid mutation exists for in the default spec, and why (checked: every candidate
# tried is rejected).
NO_VALID_MUTATION = {
    "version": "hx/v1 is the only schema version",
    "host.profile": "the cpu profile rejects GPUs and fp8 (the sandbox's golden case renders a cpu host)",
}


def _spare_gpus(doc: Doc) -> Doc:
    doc["host"]["gpus"] += [
        {"index": 8, "model": "NVIDIA L40S", "memory_gb": 48},
        {"index": 9, "model": "NVIDIA L40S", "memory_gb": 48},
    ]
    return doc


def _tgi_model(doc: Doc) -> Doc:
    doc["models"][1]["engine"] = "tgi"
    return doc


def _generated_model(doc: Doc) -> Doc:
    doc["models"][1]["source"] = {"hub": None, "revision": None, "path": None, "generate": "tiny-llama", "seed": 0}
    return doc


def _provided_tls(doc: Doc) -> Doc:
    doc["gateway"]["tls"] |= {"mode": "provided", "cert_file": "/etc/hx/tls/a.crt", "key_file": "/etc/hx/tls/a.key"}
    return doc


def _client_certificates(doc: Doc) -> Doc:
    doc["gateway"]["tls"]["client_ca_file"] = "/etc/hx/tls/clients.crt"
    return doc


def _deprecated_version(doc: Doc) -> Doc:
    doc["gateway"]["api_versions"] = [
        {"name": "v1", "status": "deprecated", "deprecated_on": "2030-01-01", "sunset_on": "2030-06-01"},
        {"name": "v2", "status": "current", "deprecated_on": None, "sunset_on": None},
    ]
    return doc


def _webhook_receiver(doc: Doc) -> Doc:
    doc["monitoring"]["receivers"][1] |= {"type": "webhook", "url": "https://hooks.example.com/a", "secret": None}
    return doc


def _email_receiver(doc: Doc) -> Doc:
    doc["monitoring"]["email"] = {
        "smarthost": "mail.example.com:587",
        "from_address": "hx@example.com",
        "require_tls": True,
        "password_secret": None,
    }
    doc["monitoring"]["receivers"][1] |= {"type": "email", "to": ["oncall@example.com"], "secret": None}
    return doc


def _grpc_listener(doc: Doc) -> Doc:
    doc["gateway"]["grpc"]["enabled"] = True
    return doc


def _grpc_model(doc: Doc) -> Doc:
    """The first model (in no route) served over gRPC, behind the gateway's gRPC listener."""
    doc["models"][0] |= {"protocol": "grpc", "grpc_port": 18901}
    return _grpc_listener(doc)


def _protocol(doc: Doc, where: Where, value: str) -> list[Doc]:
    """A model served over gRPC needs its gRPC port and the gateway's gRPC listener."""
    new = _grpc_listener(copy.deepcopy(doc))
    _item(new, where).update({"protocol": "grpc", "grpc_port": 18901})
    return [new]


# Context a field needs before its value can matter: the context, and the item it applies to
# (None: every occurrence). The mutated render is compared with the context's own render.
PRECONDITIONS: dict[str, tuple[Callable[[Doc], Doc], Where | None]] = {
    "engines.tgi.image": (_tgi_model, None),
    "gateway.grpc.port": (_grpc_listener, None),
    "models[].grpc_port": (_grpc_model, ("models", 0)),
    "engines.tgi.runtime": (_tgi_model, None),
    "models[].source.seed": (_generated_model, ("models", 1)),
    "models[].gpus[]": (_spare_gpus, None),
    "models[].tensor_parallel_size": (_spare_gpus, None),
    "gateway.tls.cert_file": (_provided_tls, None),
    "gateway.tls.key_file": (_provided_tls, None),
    "gateway.tenants[].client_cert_cn": (_client_certificates, None),
    "gateway.api_versions[].status": (_deprecated_version, None),
    "gateway.api_versions[].deprecated_on": (_deprecated_version, None),
    "gateway.api_versions[].sunset_on": (_deprecated_version, None),
    "monitoring.receivers[].url": (_webhook_receiver, ("monitoring", "receivers", 1)),
    "monitoring.receivers[].to[]": (_email_receiver, ("monitoring", "receivers", 1)),
    "monitoring.email.smarthost": (_email_receiver, None),
    "monitoring.email.from_address": (_email_receiver, None),
    "monitoring.email.require_tls": (_email_receiver, None),
    "monitoring.email.password_secret": (_email_receiver, None),
}


def _item(doc: Doc, where: Where) -> dict:
    """The object holding the leaf at `where`."""
    node = doc
    for key in where[:-1]:
        node = node[key]
    return node


def _exclusive(*others: str) -> Callable[[Doc, Where, typing.Any], list[Doc]]:
    """Set the leaf, clear the fields it excludes."""

    def mutate(doc: Doc, where: Where, value: typing.Any) -> list[Doc]:
        found = []
        for candidate in value:
            new = copy.deepcopy(doc)
            _item(new, where).update({where[-1]: candidate, **dict.fromkeys(others)})
            found.append(new)
        return found

    return mutate


def _set_source(doc: Doc, where: Where, kind: str, value: str) -> Doc:
    new = copy.deepcopy(doc)
    _item(new, where).update({"hub": None, "revision": None, "path": None, "generate": None, kind: value})
    return new


def _split_weight(doc: Doc, where: Where, value: int) -> list[Doc]:
    """Move 5 points of a route's split to or from its neighbour, keeping the sum at 100."""
    new = copy.deepcopy(doc)
    split = _item(new, where[:-1])
    i, j = where[-2], (where[-2] + 1) % len(split)
    step = 5 if split[j]["weight"] >= 5 else -5
    split[i]["weight"] += step
    split[j]["weight"] -= step
    return [new]


def _gpu_index(doc: Doc, where: Where, value: int) -> list[Doc]:
    """Renumber a GPU, and the models placed on it."""
    new = copy.deepcopy(doc)
    _item(new, where)["index"] = 9
    for model in new["models"]:
        model["gpus"] = [9 if g == value else g for g in model["gpus"]]
    return [new]


def _tensor_parallel(doc: Doc, where: Where, value: int) -> list[Doc]:
    """One GPU more (a spare) or one fewer, with tensor_parallel_size following."""
    found = []
    for size in (value + 1, value - 1):
        if size < 1:
            continue
        new = copy.deepcopy(doc)
        model = _item(new, where)
        model["gpus"] = (model["gpus"] + [8, 9])[:size]
        model["tensor_parallel_size"] = size
        found.append(new)
    return found


def _spare_gpu(doc: Doc, where: Where, value: int) -> list[Doc]:
    """Move the model from one of its GPUs to a spare one."""
    spare = 8 if 8 not in _item(doc, where) else 9
    return [_set(doc, where, spare)]


def _task(doc: Doc, where: Where, value: str) -> list[Doc]:
    """A chat model becomes an embedding model (no time to first token, one output token), or
    the embedding model a chat model (and no longer Qdrant's embedder)."""
    new = copy.deepcopy(doc)
    model = _item(new, where)
    if value == "generate":
        model["task"] = "embed"
        model["slo"]["time_to_first_token"] = None
        if model["slo"]["end_to_end"]:
            model["slo"]["end_to_end"]["output_tokens"] = 1
    else:
        model["task"] = "generate"
        for collection in new["databases"]["qdrant"]["collections"]:
            collection["embedding_model"] = None
    return [new]


def _email_to(doc: Doc, where: Where, value: list) -> list[Doc]:
    """The receiver becomes an email receiver (with the mail relay it needs)."""
    new = _email_receiver(copy.deepcopy(doc))
    _item(new, where).update({"type": "email", "to": ["oncall@example.com"], "secret": None, "url": None})
    return [new]


def _client_port(doc: Doc, where: Where, value: int) -> list[Doc]:
    """The gateway moves to another port, and the firewall's allow rules follow it."""
    new = _set(doc, where, value + 8000)
    for rule in new["security"]["firewall"]["allow"]:
        rule["ports"] = [value + 8000 if p == value else p for p in rule["ports"]]
    return [new]


def _without_quotas(doc: Doc, where: Where, value: bool) -> list[Doc]:
    """Usage accounting turned off (directly, or with the gateway or PostgreSQL): the daily token
    quotas, which it counts, go too."""
    new = _set(doc, where, not value)
    for entry in new["gateway"]["rate_limit_tiers"] + new["gateway"]["tenants"]:
        entry["daily_tokens"] = None
    return [new]


def _canary_route(doc: Doc, where: Where, value: typing.Any) -> list[Doc]:
    """A canary needs weight 0 in its split and the route's weights in hx-control's hands (its
    own fields are walked by tests/unit/test_canary.py, on the spec of the canary golden case)."""
    new = copy.deepcopy(doc)
    route = _item(new, where)
    first, second = route["split"][0], route["split"][1]
    first["weight"], second["weight"] = 100, 0
    route |= {"weights_owner": "control", "canary": {"model": second["model"]}}
    return [new]


# Fields tied to others: mutations that change them together, keeping the spec valid.
JOINT: dict[str, Callable[[Doc, Where, typing.Any], list[Doc]]] = {
    "host.gpus[].index": _gpu_index,
    "gateway.listen.https_port": _client_port,
    "gateway.enabled": _without_quotas,
    "databases.postgres.enabled": _without_quotas,
    "usage.enabled": _without_quotas,
    "models[].gpus[]": _spare_gpu,
    "models[].task": _task,
    "models[].protocol": _protocol,
    "monitoring.receivers[].to": _email_to,
    "models[].tensor_parallel_size": _tensor_parallel,
    "models[].source.path": lambda d, w, v: [_set_source(d, w, "path", "/srv/hx/models/local")],
    "models[].source.generate": lambda d, w, v: [_set_source(d, w, "generate", "tiny-llama")],
    "gateway.routes[].split[].weight": _split_weight,
    "gateway.routes[].canary": _canary_route,
    "analytics.series[].query": lambda d, w, v: _exclusive("metric")(d, w, ["sum(up)"]),
    "business.gpu_cost.hourly": lambda d, w, v: _exclusive("purchase_price", "amortisation_years")(d, w, [1.5]),
}

# Values for empty lists and null objects, where a type alone does not say what is valid.
SAMPLES: dict[str, list[typing.Any]] = {
    "usage.time_zone": ["Europe/Berlin"],
    "usage.database": ["hx_analytics"],
    "models[].extra_args": [["--seed", "7"], ["--disable-log-stats"]],
    "monitoring.extra_rules": [
        [{"alert": "HxExtra", "expr": "up == 0", "for_s": 0, "severity": "ticket", "summary": "s", "team": None}]
    ],
    "monitoring.email": [
        {
            "smarthost": "mail.example.com:587",
            "from_address": "hx@example.com",
            "require_tls": True,
            "password_secret": None,
        }
    ],
    "gateway.api_versions[].deprecated_on": ["2030-01-01"],
    "gateway.api_versions[].sunset_on": ["2030-06-01"],
}


def norm(where: Where) -> str:
    return "".join(f".{k}" if isinstance(k, str) else "[]" for k in where).lstrip(".")


def leaves(node: typing.Any, where: Where = ()) -> Iterator[tuple[Where, typing.Any]]:
    """Scalars, nulls and empty lists; non-empty lists are walked per item."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*where, key))
    elif isinstance(node, list) and node:
        for i, value in enumerate(node):
            yield from leaves(value, (*where, i))
    else:
        yield where, node


def nodes(node: typing.Any, where: Where = ()) -> Iterator[tuple[Where, typing.Any]]:
    """Every value, containers included."""
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from nodes(value, (*where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from nodes(value, (*where, i))


def _bare(annotation: typing.Any) -> typing.Any:
    """The type without Annotated[...] and `| None`."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def annotation_at(path: str) -> typing.Any:
    """The declared type of a normalised spec path (`models[].gpus[]`); KeyError when none."""
    annotation: typing.Any = Spec
    for part in path.replace("[]", ".[]").split("."):
        bare = _bare(annotation)
        if part == "[]":
            (annotation,) = typing.get_args(bare)
        elif isinstance(bare, type) and issubclass(bare, BaseModel):
            annotation = bare.model_fields[part].annotation
        else:
            raise KeyError(path)
    return annotation


def _render(doc: Doc) -> dict[str, str] | None:
    result = render_text(json.dumps(doc))
    if result.plan is None:
        return None
    return {a.path: a.text for a in result.artifacts}


@cache
def default_doc_text() -> str:
    spec = render_file(ROOT / "hx.yaml").outcome.spec
    assert spec is not None
    return json.dumps(spec.model_dump(mode="json"))


def default_doc() -> Doc:
    return json.loads(default_doc_text())


@cache
def _rendered_text(text: str) -> str | None:
    rendered = _render(json.loads(text))
    return None if rendered is None else json.dumps(rendered, sort_keys=True)


def rendered(doc: Doc) -> str | None:
    """The whole render of a spec, or None when it does not check."""
    return _rendered_text(json.dumps(doc, sort_keys=True))


def _names(doc: Doc) -> list[str]:
    keys = ("name", "served_name", "alias")
    return list(dict.fromkeys(v for w, v in nodes(doc) if w and w[-1] in keys and isinstance(v, str)))


def _numbers(value: float, integer: bool) -> list[float]:
    found = [value + 1, value * 1.1, value * 0.9, value / 2, value - 1]
    return [int(round(x)) for x in found] if integer else [round(x, 6) for x in found]


def candidates(doc: Doc, where: Where, value: typing.Any) -> list[typing.Any]:
    path = norm(where)
    bare = _bare(annotation_at(path))
    siblings = [v for w, v in nodes(doc) if len(w) == len(where) and norm(w) == path]
    found: list[typing.Any] = list(SAMPLES.get(path, []))
    if typing.get_origin(bare) is typing.Literal:
        found += list(typing.get_args(bare))
    elif bare is bool:
        found += [not value] if value is not None else [True, False]
    elif bare in (int, float):
        start = value if isinstance(value, (int, float)) else 0
        found += _numbers(start, bare is int) if value is not None else [1, 2, 8, 100, 4096, 65536, 0.5]
        found += siblings
    elif bare is str:
        found += siblings
        if isinstance(value, str):
            edited = [value + "x", value.rstrip("/") + "/x", "x" + value, value[::-1]]
            edited.append(value[:-1] + ("2" if value.endswith("1") else "1"))
            found += edited
        else:
            found += ["x", "/srv/hx/x", "10.0.0.1", "https://example.com/hook", "secret_x"]
        found += _names(doc)
    else:
        found += siblings
    unique = []
    for c in found:
        if c != value and c not in unique:
            unique.append(c)
    return unique


def _set(doc: Doc, where: Where, value: typing.Any) -> Doc:
    new = copy.deepcopy(doc)
    _item(new, where)[where[-1]] = value
    return new


def _renamed_everywhere(doc: Doc, value: str) -> Doc:
    return json.loads(json.dumps(doc).replace(json.dumps(value), json.dumps(value + "-x")))


def mutations(doc: Doc, where: Where, value: typing.Any) -> Iterator[Doc]:
    path = norm(where)
    if path in JOINT:
        yield from JOINT[path](doc, where, value)
        return
    for candidate in candidates(doc, where, value):
        yield _set(doc, where, candidate)
    if isinstance(value, str):
        yield _renamed_everywhere(doc, value)


# Valid candidates tried before a leaf counts as unrendered: a null optional's first candidate
# may be the very value its default resolves to (the probe's model is the first chat model).
VALID_TRIES = 3


def outcome(doc: Doc, reference: str, where: Where, value: typing.Any) -> str:
    """changed, same (VALID_TRIES valid candidates rendered identical files), or invalid."""
    valid = 0
    for mutated in mutations(doc, where, value):
        result = rendered(mutated)
        if result is not None:
            if result != reference:
                return "changed"
            valid += 1
            if valid == VALID_TRIES:
                break
    return "same" if valid else "invalid"


def instances(path: str) -> Iterator[tuple[Doc, Where, typing.Any]]:
    """Each occurrence of a leaf path, in the default spec or the path's precondition."""
    doc, only = default_doc(), None
    if path in PRECONDITIONS:
        context, only = PRECONDITIONS[path]
        doc = context(doc)
    for where, value in leaves(doc):
        if norm(where) == path and (only is None or where[: len(only)] == only):
            yield doc, where, value


@cache
def outcomes(path: str) -> tuple[str, ...]:
    found = []
    for doc, where, value in instances(path):
        reference = rendered(doc)
        assert reference is not None, f"the context of {path} does not check"
        found.append(outcome(doc, reference, where, value))
    return tuple(found)


LEAF_PATHS = sorted({norm(where) for where, _ in leaves(default_doc())})


def _proven_below(path: str) -> bool:
    """Whether the field holds objects elsewhere whose own leaves change the render (a null
    `slo.time_to_first_token` on an embedding model, a set one on the chat models)."""
    below = [p for p in LEAF_PATHS if p.startswith(path + ".") or p.startswith(path + "[]")]
    return any("changed" in outcomes(p) for p in below)


def test_the_default_render_survives_the_round_trip():
    base = render_file(ROOT / "hx.yaml")
    assert rendered(default_doc()) == json.dumps({a.path: a.text for a in base.artifacts}, sort_keys=True)


def test_there_are_leaves_to_walk():
    assert len(LEAF_PATHS) > 150


@pytest.mark.parametrize("path", LEAF_PATHS)
def test_every_leaf_changes_the_render_or_is_listed(path):
    found = outcomes(path)
    listed = unrendered_fields()
    if path in listed:
        assert "changed" not in found, (
            f"{path} now changes the render: remove it from hxgen/spec/field_roles.py ({listed[path]})"
        )
        return
    if path in NO_VALID_MUTATION:
        assert set(found) == {"invalid"}, f"{path} has a valid mutation now: remove it from NO_VALID_MUTATION"
        return
    assert "same" not in found, (
        f"{path}: another valid value renders byte-identical files. Make it change what is rendered, "
        "reject it, or list it with its reason in hxgen/spec/field_roles.py"
    )
    assert "changed" in found or _proven_below(path), (
        f"{path}: no valid mutation found; give it a PRECONDITION, JOINT or SAMPLES entry here, "
        "or name the reason in NO_VALID_MUTATION"
    )


ALL_LISTS = {
    "field_roles": unrendered_fields(),
    "NO_VALID_MUTATION": NO_VALID_MUTATION,
    "PRECONDITIONS": PRECONDITIONS,
    "JOINT": JOINT,
    "SAMPLES": SAMPLES,
}


@pytest.mark.parametrize("name", sorted(ALL_LISTS))
def test_every_listed_path_is_a_spec_path(name):
    """The lists cannot rot: a renamed or removed field fails here."""
    missing = []
    for path in ALL_LISTS[name]:
        try:
            annotation_at(path)
        except (KeyError, ValueError):
            missing.append(path)
    assert missing == []
