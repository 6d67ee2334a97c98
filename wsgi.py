"""WSGI entry point named by the Procfile: ``gunicorn wsgi:server``."""

from app import create_app

server = create_app().server
