"""Blueprints per audience (public documents, credential pages, the portal), wired onto the app
by `issuer.web.wiring`."""

from __future__ import annotations

from issuer import runtime
from issuer.context import IssuerContext


def issuer_context() -> IssuerContext:
    """The app's IssuerContext (settings, catalog, clock, URL builders)."""
    return runtime.current().ctx
