"""Per-request access to what ``create_app`` set up once: the settings and the open store."""

from __future__ import annotations

from fastapi import Request

from evalkit.settings import Settings
from evalkit.store.database import Database


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings(request: Request) -> Settings:
    return request.app.state.settings
