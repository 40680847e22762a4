"""hxgen report: the usage and service report of a day, a week or a month, as HTML or PDF.

A thin layer over hxgen.report. The report's libraries (matplotlib, psycopg, WeasyPrint) load
only when the command runs, so that validate and render work without them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ..contracts import usage as contract
from .common import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, SPEC_HELP, load_spec, report

DESCRIPTION = """\
Write the usage and service report of one period: a one-page summary (requests, tokens, cost,
savings against the reference API prices, SLOs met, availability, satisfaction, alerts), then
the details: SLO attainment and error budgets per model, latency percentiles against the
targets, usage and cost per tenant and per model, cache hit ratios, capacity forecasts, and
the alerts that fired, with charts. One self-contained HTML file, or a PDF of it.

The period ends at the end of --end (default: the last complete one) in the spec's
usage.time_zone: a day; the seven days up to it (by default the last Monday-to-Sunday week);
a month (by default the last calendar month). Usage and cost come from PostgreSQL
(hx_usage.requests, which hx-usage writes), service levels, latency, forecasts and alerts from
Prometheus; prices, objectives and targets from the spec.

On the host, the weekly timer runs it with --directory and --keep: it writes
DIR/hx-report-<last day>.html (and .pdf) and removes all but the newest N reports.

Exit codes: 0 written; 1 the spec has errors; 2 bad arguments, an unreadable spec or
configuration, or the report's libraries are not installed; 4 Prometheus or PostgreSQL could not
be read (the message names the address and what to check).
"""


def add_report_command(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="the usage and service report of a day, week or month (HTML or PDF)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", nargs="?", type=Path, default=Path("hx.yaml"), metavar="SPEC", help=SPEC_HELP)
    parser.add_argument("--period", choices=("day", "week", "month"), default="week", help="default: week")
    parser.add_argument(
        "--end", type=_date, metavar="YYYY-MM-DD", help="the period's last day (default: the last complete period)"
    )
    parser.add_argument(
        "--format", action="append", choices=("html", "pdf"), dest="formats",
        help="html (default) or pdf; give it twice for both (with --directory)",
    )  # fmt: skip
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="where to write the report ('-': stdout, HTML)"
    )
    where.add_argument(
        "--directory", type=Path, metavar="DIR", help="write DIR/hx-report-<last day>.<format>, with --keep"
    )
    parser.add_argument(
        "--keep", type=_positive, metavar="N", help="with --directory: keep the newest N reports, remove older ones"
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="Prometheus's URL (default: the configuration's, else the spec's port on 127.0.0.1)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--database", metavar="DSN", help="libpq connection string of the usage database")
    source.add_argument(
        "--config", type=Path, metavar="FILE",
        help=f"hx-usage's configuration, for the database and Prometheus (default: {contract.CONFIG_PATH})",
    )  # fmt: skip
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.keep is not None and args.directory is None:
        return _usage_error("--keep needs --directory")
    formats = tuple(dict.fromkeys(args.formats or [_format_of(args.output)]))
    if args.output is not None and len(formats) > 1:
        return _usage_error("one --format with --output; use --directory for both")
    try:
        import jinja2  # noqa: F401
        import matplotlib  # noqa: F401
        import psycopg  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:
        return _usage_error(f"{exc.name} is not installed; install the report extra: pip install 'hxgen[report]'")
    outcome = load_spec(args.spec)
    if outcome is None:
        return EXIT_USAGE
    if not outcome.passed():
        return report(outcome, args.spec, strict=False)
    return _write_report(args, formats)


def _write_report(args: argparse.Namespace, formats: tuple[str, ...]) -> int:
    from .. import report as library
    from ..pipeline import render_file
    from ..report.archive import archived_name, prune
    from ..report.period import last_complete, period_ending
    from ..report.progress import Progress

    plan = render_file(args.spec).plan
    settings = _settings(args, plan)
    if isinstance(settings, int):
        return settings
    dsn, prometheus_url, zone = settings
    now = dt.datetime.now(dt.UTC)
    period = period_ending(args.period, args.end, zone) if args.end else last_complete(args.period, now, zone)
    if period.end > now:
        print(
            f"hxgen report: warning: the period {period.title} has not ended yet; its numbers are partial",
            file=sys.stderr,
        )
    if args.output:
        targets = [(args.output, formats[0])]
    else:
        targets = [(args.directory / archived_name(period, f), f) for f in formats]
    progress = Progress(4 + formats.count("pdf"))
    try:
        _, html_text = library.build(library.ReportRequest(plan, period, prometheus_url, dsn), progress)
        for target, fmt in targets:
            if str(target) == "-":
                sys.stdout.write(html_text)
                continue
            if fmt == "pdf":
                progress.step(f"laying out {target.name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            library.write(html_text, target, pdf=fmt == "pdf")
    except library.SourceError as exc:
        progress.finish(f"hxgen report: error: {exc}")
        print(f"  hint: {exc.hint}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except OSError as exc:
        progress.finish(f"hxgen report: error: cannot write {exc.filename or ''}: {exc.strerror or exc}")
        return EXIT_USAGE
    removed = prune(args.directory, args.keep) if args.keep else []
    written = [str(t) for t, _ in targets if str(t) != "-"]
    pruned = f"; removed {len(removed)} older report file(s)" if removed else ""
    progress.finish(f"hxgen report: {period.kind} {period.title}: wrote {', '.join(written) or 'stdout'}{pruned}")
    for path in written:
        print(path)
    return EXIT_OK


def _settings(args: argparse.Namespace, plan) -> tuple[str, str, str] | int:
    """(DSN, Prometheus URL, time zone), or the exit code after saying what is missing."""
    config = None
    if args.database is None or args.prometheus is None:
        config = _read_config(args.config, required=args.database is None)
        if isinstance(config, int):
            return config
    dsn = args.database or _dsn(config)
    if isinstance(dsn, int):
        return dsn
    url = args.prometheus or (config and config.reports and config.reports.prometheus_url)
    url = url or f"http://127.0.0.1:{plan.monitoring.prometheus_port}"
    zone = plan.usage.time_zone if plan.usage else (config.time_zone if config else "UTC")
    return dsn, url, zone


def _read_config(path: Path | None, required: bool):
    from pydantic import ValidationError

    from ..contracts.usage_config import ServiceConfig

    chosen = path or Path(contract.CONFIG_PATH)
    try:
        return ServiceConfig.model_validate_json(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if path is None and not required:
            return None
        return _usage_error(f"{chosen}: no such file; pass --database DSN, or --config with hx-usage's configuration")
    except OSError as exc:
        return _usage_error(f"{chosen}: {exc.strerror or exc}")
    except ValidationError as exc:
        return _usage_error(f"{chosen}: not an {contract.VERSION} configuration: {exc.errors()[0]['msg']}")


def _dsn(config) -> str | int:
    from psycopg.conninfo import make_conninfo

    db = config.database
    try:
        password = Path(db.password_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        return _usage_error(f"{db.password_file}: {exc.strerror or exc} (the usage database's password file)")
    return make_conninfo(host=db.host, port=db.port, dbname=db.dbname, user=db.user, password=password)


def _format_of(output: Path | None) -> str:
    return "pdf" if output is not None and output.suffix == ".pdf" else "html"


def _usage_error(message: str) -> int:
    print(f"hxgen report: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a whole number, at least 1")
    return int(text)
