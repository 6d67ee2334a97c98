"""The ``dynamics`` console script: ``flask --app app`` with the app preloaded."""

from __future__ import annotations

from flask.cli import FlaskGroup


def _create_server():  # noqa: ANN202 - FlaskGroup calls it with no arguments
    from app import create_app

    return create_app().server


main = FlaskGroup(
    name="dynamics",
    create_app=_create_server,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    help="Customer Dynamics: set up the database, load data and run reports.",
)
