"""Mail commands: the background sender (the Procfile worker)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

from exports.delivery import deliver_due, run_sender


@click.command("send-mail")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between looks at the outbox.",
)
@with_appcontext
def send_mail_command(once: bool, poll: float) -> None:
    """Deliver queued e-mail; without --once, keep doing so until interrupted."""
    # The app itself rather than the context-local proxy.
    server = current_app._get_current_object()
    if once:
        deliveries = deliver_due(server)
        for delivery in deliveries:
            click.echo(delivery.line())
        click.echo(f"{len(deliveries)} delivery attempt(s)")
        return

    stop_event = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stop_event.set()

    # SIGTERM is how Heroku and systemd stop a worker: finish the current message, then exit.
    in_main_thread = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM) if in_main_thread else ()
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    click.echo("mail sender running; stop with Ctrl+C or SIGTERM")
    try:
        run_sender(server, stop_event, poll_seconds=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("mail sender stopped")


COMMANDS = [send_mail_command]
