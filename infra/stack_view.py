"""What `iot-billing up` shows: a spinner per start-up step, one status line per component, the banner with
URLs, tokens and a curl to paste, and why it stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table


@dataclass(frozen=True)
class Banner:
    api_url: str
    temporal_address: str
    temporal_ui_url: str | None
    admin_page: bool
    admin_token: str
    user_id: str | None
    user_token: str | None
    curl: str | None
    log_dir: Path


class StackView:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        with self.console.status(f"{escape(description)}…"):
            yield

    def ready(self, name: str, detail: str, log: Path | None = None) -> None:
        where = f"  [dim]log: {escape(str(log))}[/dim]" if log is not None else ""
        self.console.print(f"[green]✓[/green] {name:<9} {escape(detail)}{where}", soft_wrap=True)

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]![/yellow] {escape(message)}")

    def banner(self, banner: Banner) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("API", banner.api_url)
        table.add_row("API docs", f"{banner.api_url}/docs")
        if banner.admin_page:
            table.add_row("Operator page", f"{banner.api_url}/admin")
        table.add_row("Temporal", banner.temporal_address)
        if banner.temporal_ui_url:
            table.add_row("Temporal UI", banner.temporal_ui_url)
        table.add_row("Logs", str(banner.log_dir))
        table.add_row("Admin token", banner.admin_token)
        if banner.user_token:
            table.add_row(f"User JWT ({banner.user_id})", banner.user_token)
        self.console.print(Panel(table, title="iot-billing is running", expand=False))
        if banner.curl:
            self.console.print("Subscribe the demo devices (sandbox card that always pays):")
            # Printed raw (no wrapping, no markup) so it pastes as is.
            self.console.print(banner.curl, soft_wrap=True, markup=False, highlight=False)
        self.console.print("Press Ctrl-C to stop everything.")

    def failed(self, message: str, log_lines: list[str] | None = None, log: Path | None = None) -> None:
        self.console.print(f"[red]✗[/red] {escape(message)}")
        if log_lines:
            self.console.print(f"[dim]last lines of {escape(str(log))}:[/dim]")
            self.console.print("\n".join(log_lines), soft_wrap=True, markup=False, highlight=False)

    def stopped(self, name: str, outcome: str) -> None:
        self.console.print(f"[dim]■ {name:<9} {escape(outcome)}[/dim]")
