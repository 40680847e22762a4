"""hxgen rollout status|promote|restart --host URL: a live host's canary rollouts, through the
gateway, with the generated client (hxgen.control_client), as `hxgen keys --host` does."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from . import keys_host
from .common import EXIT_OK, EXIT_USAGE, usage

ROLLOUT_DESCRIPTION = """\
A route with a canary (gateway.routes[].canary in hx.yaml) moves its traffic to the canary step by
step: hx-control checks the canary's gate in Prometheus every interval_s; after step_min_s and
step_min_requests with the gate holding it takes the next step (or, with promotion: manual, waits
for `hxgen rollout promote`); when the gate fails failed_checks times in a row it rolls back to
the spec's split. A step counts once the gateway serves its split (status says "verified").

Phases: progressing (at a step), waiting (the step held; promote it), succeeded (the canary takes
all the traffic), rolled_back (the spec's split; `hxgen rollout restart` tries again). A new
version of the canary model starts a new rollout by itself.

status needs a key with rollouts:read (admin, operator, readonly); promote and restart one with
rollouts:write (admin, operator).

--host URL is the gateway's base URL (e.g. https://gw.example:8443); the commands speak to
hx-control's management API behind it. The caller's API key is read from --api-key-file FILE or
the HX_API_KEY environment variable (never from the command line). TLS is verified, against the
system's CAs or --ca-file (the gateway's internal CA).

Exit codes: 0 done; 1 no such route, the route has no canary or no rollout yet, or the rollout's
phase does not allow it (409); 2 bad arguments, no --host or no API key; 4 the host cannot be
reached, its certificate is not trusted, or hx-control is unavailable; 5 the API key was refused
or its role may not do this.
"""
NOT_FOUND_HINT = "`hxgen rollout status --host URL` lists the routes with a rollout"


def add_rollout_commands(sub: argparse._SubParsersAction) -> None:
    rollout = sub.add_parser(
        "rollout",
        help="on a live host: the canary rollouts' status, promote a waiting step, restart an ended one",
        description=ROLLOUT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = rollout.add_subparsers(title="commands", metavar="COMMAND")
    rollout.set_defaults(run=lambda _args: usage(rollout))

    status = commands.add_parser(
        "status",
        allow_abbrev=False,  # --api-key must not pass for --api-key-file
        help="per route: phase, canary@version, step and weight, failed checks, since when, verified, reason",
        description="Show each canary rollout (or ALIAS's): its phase, the canary and its version, the step "
        "(i/n) and the canary's weight, the failing checks in a row against the limit, since when the step "
        "runs, whether the gateway was seen serving its split, and the last reason.",
    )
    status.add_argument("alias", nargs="?", metavar="ALIAS", help="only this route")
    status.add_argument("--format", choices=("text", "json"), default="text", help="json: the API's answer")
    keys_host.add_host_arguments(status)
    status.set_defaults(run=lambda a: _on_host(a, _status))

    for name, summary, description in (
        ("promote", "take the next step now (a waiting step, or skip the rest of a running one)",
         "Move ALIAS's rollout to its next step now: from waiting (promotion: manual) or from progressing, "
         "skipping the rest of the step's minimums; from the last step it succeeds. Refused (exit 1) when the "
         "rollout succeeded or rolled back. Audited as rollout-promoted, with the key as the actor."),
        ("restart", "start an ended (rolled-back or succeeded) rollout again at its first step",
         "Start ALIAS's rolled-back rollout again at its first step. Refused (exit 1) otherwise: a running "
         "rollout runs already, and a succeeded one is done (a new version of the canary starts its own). "
         "Audited as rollout-restarted."),
    ):  # fmt: skip
        command = commands.add_parser(name, allow_abbrev=False, help=summary, description=description)
        command.add_argument("alias", metavar="ALIAS", help="the route")
        command.add_argument("--format", choices=("text", "json"), default="text", help="json: the API's answer")
        keys_host.add_host_arguments(command)
        command.set_defaults(run=lambda a, verb=name: _on_host(a, lambda host, args: _change(host, args, verb)))


def _on_host(args: argparse.Namespace, action) -> int:
    if not args.host:
        print("hxgen: rollout commands run on a live host: pass --host URL (the gateway's base URL)", file=sys.stderr)
        return EXIT_USAGE
    return keys_host.run(args, action)


def _status(host: keys_host.Host, args: argparse.Namespace) -> int:
    from ..control_client.api.v1 import get_rollout, list_rollouts

    if args.alias:
        found = [keys_host.call(get_rollout, host, keys_host.Context(f"show the rollout of {args.alias}",
                                                                     NOT_FOUND_HINT), alias=args.alias)]  # fmt: skip
    else:
        found = keys_host.call(list_rollouts, host, keys_host.Context("list the rollouts"))
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in found], indent=2))
        return EXIT_OK
    if not found:
        print(f"hxgen: no canary rollouts on {host.url}", file=sys.stderr)
        return EXIT_OK
    _table(found)
    return EXIT_OK


def _change(host: keys_host.Host, args: argparse.Namespace, verb: str) -> int:
    from ..control_client.api.v1 import promote_rollout, restart_rollout

    operation = promote_rollout if verb == "promote" else restart_rollout
    hint = ("a rollout can be promoted while progressing or waiting, restarted once rolled back; "
            "`hxgen rollout status --host URL` shows its phase")  # fmt: skip
    done = keys_host.call(operation, host, keys_host.Context(f"{verb} the rollout of {args.alias}", NOT_FOUND_HINT,
                                                             hint), alias=args.alias)  # fmt: skip
    if args.format == "json":
        print(json.dumps(done.to_dict(), indent=2))
    else:
        _table([done])
    print(f"hxgen: rollout of {done.alias} {verb}d: {done.phase}, step {done.step}/{done.steps} at "
          f"{done.canary_weight} %; the gateway serves it within a few seconds (status shows when verified)",
          file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _table(found: list[Any]) -> None:
    rows = [("ROUTE", "PHASE", "CANARY", "STEP", "WEIGHT", "FAILED", "SINCE", "VERIFIED", "REASON")]
    for r in found:
        rows.append((
            r.alias, r.phase + ("" if r.current else " (old version)"), f"{r.canary}@{r.version}",
            f"{r.step}/{r.steps}", f"{r.canary_weight}%", f"{r.failed_checks}/{r.failed_checks_limit}",
            _when(r.since), _when(r.verified) if r.verified else "no", r.reason,
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
