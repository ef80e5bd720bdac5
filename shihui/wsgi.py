"""WSGI entry point:
``gunicorn -c python:shihui.gunicorn_conf shihui.wsgi:app``."""

from shihui import create_app

app = create_app()
