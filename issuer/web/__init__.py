"""Blueprints per audience (public, credential pages, portal) plus errors and headers."""

from __future__ import annotations

from flask import current_app

from issuer.context import IssuerContext


def issuer_context() -> IssuerContext:
    """The app's IssuerContext (settings, catalog, clock, URL builders)."""
    ctx: IssuerContext = current_app.extensions["certmanager"]
    return ctx
