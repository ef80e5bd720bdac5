"""WSGI entry point:
``gunicorn -c python:marketplace.gunicorn_conf marketplace.wsgi:app``."""

from marketplace import create_app

app = create_app()
