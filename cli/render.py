"""Rich output for humans; JSON for scripts. Only presentation lives here."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anonymizer import Report, Risk

if TYPE_CHECKING:
    from anonymizer import DetectResult

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

RISK_STYLE = {Risk.HIGH: "bold red", Risk.MEDIUM: "yellow", Risk.LOW: "cyan", Risk.NONE: "dim"}


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def error(name: str, message: str) -> None:
    """One line on stderr; the name and message are shown as they are (square brackets included)."""
    err.print(f"[bold red]error[/] {escape(name)}: {escape(message)}", soft_wrap=True)


def line(text: str) -> None:
    """A plain line on stdout: text from files and users is never read as markup."""
    out.print(escape(text), soft_wrap=True)


def note(text: str) -> None:
    """A plain line on stderr (what the tool did on the side: a folder created, files skipped)."""
    err.print(escape(text), soft_wrap=True)


def report_table(name: str, report: Report, show_all: bool = False) -> None:
    shown = report.findings if show_all else report.identifying
    hidden = len(report.findings) - len(shown)
    structure = f" ({hidden} structural part(s) needed to decode the image not shown)" if hidden else ""
    if not shown:
        out.print(f"[bold green]{escape(name)}[/]: {report.format.upper()}, no metadata found{structure}")
        return
    table = Table(title=f"{escape(name)} ({report.format.upper()})", title_justify="left", show_lines=False)
    for column in ("category", "risk", "what", "where"):
        table.add_column(column)
    for f in sorted(shown, key=lambda f: -f.level):
        style = RISK_STYLE[f.level]
        table.add_row(f.category.value, f"[{style}]{f.level.name.lower()}[/]", escape(f.what), escape(f.where))
    out.print(table)
    verdict = (
        "[bold green]nothing identifying[/]"
        if report.is_clean
        else f"[bold red]{len(report.identifying)} identifying item(s)[/]"
    )
    out.print(f"{escape(name)}: {verdict}{structure}")


def faces_table(name: str, result: DetectResult) -> None:
    table = Table(
        title=f"{escape(name)}: {len(result.faces)} face(s) in {result.width}x{result.height}", title_justify="left"
    )
    for column in ("#", "x", "y", "w", "h", "score", "detector"):
        table.add_column(column, justify="right" if column not in ("detector",) else "left")
    for i, det in enumerate(result.faces, start=1):
        b = det.box
        table.add_row(str(i), f"{b.x:.0f}", f"{b.y:.0f}", f"{b.w:.0f}", f"{b.h:.0f}", f"{det.score:.2f}", det.source)
    out.print(table)
