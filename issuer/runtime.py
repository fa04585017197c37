"""What the issuer's views and commands share in one process, registered once on the app:
the IssuerContext of the services and the in-process verification."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from issuer.context import IssuerContext
from issuer.services.verification import LocalVerification

EXTENSION = "certmanager"


@dataclass(frozen=True)
class Runtime:
    ctx: IssuerContext
    verification: LocalVerification


def init_app(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION] = runtime


def of(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


def current() -> Runtime:
    """The Runtime of the app handling this request or command."""
    return of(current_app)
