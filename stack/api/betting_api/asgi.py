"""ASGI entry point for uvicorn workers: builds the app from the environment at import."""

from .app import create_app
from .settings import settings_from_env

app = create_app(settings_from_env())
