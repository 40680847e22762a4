"""No secret value reaches a log or a rendered file.

Rendered files name secrets only by file (Alertmanager's *_file keys); the tasks that carry a
secret value in their arguments or results (the vault's variables, generated passwords, slurped
key files) are no_log, so neither -v nor a failure prints them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hxgen.pipeline import render_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = [ROOT / "hx.yaml", ROOT / "sandbox/hx.yaml", *sorted((ROOT / "tests/data/cases").glob("*/hx.yaml"))]
TASK_FILES = sorted(
    [*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("roles/*/handlers/*.yml"), *ROOT.glob("playbooks/*.yml")]
)
# Keys of a task that never hold a value passed to the module.
NOT_ARGUMENTS = {"name", "when", "tags", "notify", "listen", "loop_control", "changed_when", "failed_when", "no_log"}
SECRET_VARIABLE = re.compile(r"\b\w*(passwords?|secrets?|_key)\b", re.IGNORECASE)


def tasks(node) -> Iterator[dict]:
    if isinstance(node, list):
        for task in node:
            if not isinstance(task, dict):
                continue
            for key in ("block", "rescue", "always", "tasks", "handlers", "pre_tasks", "post_tasks"):
                yield from tasks(task.get(key))
            if not any(k in task for k in ("block", "tasks", "hosts")):
                yield task


def module_of(task: dict) -> str:
    return next((k for k in task if k.startswith(("ansible.", "community."))), "")


def carries_a_secret(task: dict) -> bool:
    """Whether the task's arguments or result hold a secret value (not only a secret's path)."""
    module, args = module_of(task), task.get(module_of(task))
    text = yaml.safe_dump({k: v for k, v in task.items() if k not in NOT_ARGUMENTS})
    if module == "ansible.builtin.include_vars":
        return True  # the vault's variables
    if module == "ansible.builtin.slurp":
        return bool(SECRET_VARIABLE.search(str(args)))  # the file's content is in the result
    if re.search(r"_secrets\s*\|\s*dict2items", text):
        return True  # a loop over name -> value
    if isinstance(args, dict):
        if "password" in args or "login_password" in args:
            return True
        content = str(args.get("content", ""))
        if "lookup('ansible.builtin.password'" in content or SECRET_VARIABLE.search(content):
            return True
    return False


def secret_tasks() -> list[tuple[str, str, bool]]:
    found = []
    for path in TASK_FILES:
        for task in tasks(yaml.safe_load(path.read_text()) or []):
            if carries_a_secret(task):
                found.append((str(path.relative_to(ROOT)), task.get("name", "?"), task.get("no_log") is True))
    return found


def test_the_check_finds_the_known_secret_tasks():
    """Not vacuous: the vault loader and the receiver secrets are among what it finds."""
    names = {name for _, name, _ in secret_tasks()}
    assert {"Load them", "Write the receiver secrets from the vault"} <= names


def test_every_task_that_carries_a_secret_is_no_log():
    assert [(path, name) for path, name, no_log in secret_tasks() if not no_log] == []


@pytest.mark.parametrize("spec", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_alertmanager_reads_every_receiver_secret_from_a_file(spec):
    rendered = {a.path: a.text for a in render_file(spec).artifacts}
    config = yaml.safe_load(rendered["rendered/alertmanager/alertmanager.yml"])
    for receiver in config.get("receivers", []):
        for kind, entries in receiver.items():
            if kind == "name":
                continue
            for entry in entries:
                inline = {"api_url", "routing_key", "service_key", "auth_password"} & entry.keys()
                assert not inline, f"{receiver['name']}: {kind} holds {inline} in the rendered file"
