"""The ``dynamics`` command-line interface (SPEC §5), registered on the app's ``flask`` CLI."""

from __future__ import annotations

from flask import Flask


def register(server: Flask) -> None:
    """Add every ``dynamics`` command to the app's CLI group."""
    from commands import data, mail, report

    for module in (data, report, mail):
        for command in module.COMMANDS:
            server.cli.add_command(command)
