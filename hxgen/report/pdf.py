"""The report as PDF: the same HTML, laid out by WeasyPrint.

WeasyPrint rather than matplotlib's PdfPages: it prints the very HTML the screen shows (the
tables stay text that can be selected and searched, the SVG charts stay vectors, the @page rules
give A4 pages with page numbers), where PdfPages would draw tables as pictures of text with a
second layout to keep in step. It is a maintained pure-Python library; it needs Pango from the
system (Debian libpango-1.0-0 and libpangoft2-1.0-0), which SourceError names when missing.
"""

from __future__ import annotations

from pathlib import Path

from .collect import SourceError


def write_pdf(html: str, path: Path) -> None:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Python package is there, Pango is not
        raise SourceError(
            f"cannot write PDF: {exc}",
            "install the report extra (pip install 'hxgen[report]') and Pango (apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0), or write --format html",
        ) from None
    weasyprint.HTML(string=html).write_pdf(path)
