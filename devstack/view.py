"""What `iot-billing up` shows: a spinner per start-up step, one status line per component, the banner with
URLs, tokens and a curl to paste, and why it stopped."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table


@dataclass(frozen=True)
class Banner:
    api_url: str
    temporal_address: str
    temporal_ui_url: str | None
    admin_token: str
    user_id: str
    user_token: str
    curl: str | None
    log_dir: Path
    webhooks: str | None = None
    metrics: dict[str, str] | None = None  # process -> its /metrics URL
    mqtt_url: str | None = None
    subscribe: tuple[str, ...] = ()


class StackView:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """A spinner while the step runs (on a terminal; nothing otherwise)."""
        with self.console.status(f"{escape(description)}…"):
            yield

    def ready(self, name: str, detail: str, log: Path | None = None) -> None:
        where = f"  [dim]log: {escape(str(log))}[/dim]" if log is not None else ""
        self._print(f"[green]✓[/green] {name:<9} {escape(detail)}{where}", soft_wrap=True)

    def note(self, message: str) -> None:
        self._print(f"[yellow]![/yellow] {escape(message)}")

    def banner(self, banner: Banner) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("API", banner.api_url)
        table.add_row("API docs", f"{banner.api_url}/docs")
        table.add_row("Vouchers", f"{banner.api_url}/pages/vouchers")
        table.add_row("Temporal", banner.temporal_address)
        if banner.temporal_ui_url:
            table.add_row("Temporal UI", banner.temporal_ui_url)
            table.add_row("UI decoding", f"sign in at {banner.api_url}/operator")
        if banner.webhooks:
            table.add_row("Webhooks", banner.webhooks)
        if banner.metrics:
            table.add_row("Metrics", "\n".join(f"{name}: {url}" for name, url in banner.metrics.items()))
        if banner.mqtt_url:
            table.add_row("MQTT", banner.mqtt_url)
        table.add_row("Logs", str(banner.log_dir))
        self._print(Panel(table, title="iot-billing is running", expand=False))
        # Tokens and the curl are printed raw (no wrapping, no markup) so they paste as they are.
        self._raw(f"Admin token: {banner.admin_token}")
        self._raw(f"User JWT ({banner.user_id}): {banner.user_token}")
        if banner.curl:
            self._print("Subscribe two demo devices to the one-minute product (a sandbox card that pays):")
            self._raw(banner.curl)
        if banner.subscribe:
            self._print("Watch a device's entitlements (simulator), or every device's retained state:")
            for command in banner.subscribe:
                self._raw(command)
        self._print("Press Ctrl-C to stop everything.")

    def failed(self, message: str, log_lines: list[str] | None = None, log: Path | None = None) -> None:
        self._print(f"[red]✗[/red] {escape(message)}")
        if log_lines:
            self._print(f"[dim]last lines of {escape(str(log))}:[/dim]")
            self._raw("\n".join(log_lines))

    def stopped(self, name: str, outcome: str) -> None:
        self._print(f"[dim]■ {name:<9} {escape(outcome)}[/dim]")

    def stopping(self) -> None:
        self._print("stopping…")

    def traceback(self) -> None:
        with contextlib.suppress(OSError):
            self.console.print_exception(max_frames=8)

    def _raw(self, text: str) -> None:
        self._print(text, soft_wrap=True, markup=False, highlight=False)

    def _print(self, *objects: object, **options: Any) -> None:
        # The terminal may be gone (closed window, SIGHUP): stopping the children matters more than saying so.
        with contextlib.suppress(OSError):
            self.console.print(*objects, **options)
