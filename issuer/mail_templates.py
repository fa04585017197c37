"""Rendering mail without a request: `mail/<kind>.txt` and `mail/<kind>.html` from the package's
templates, with the program's name and base URL as globals. Services get a `MailRenderer` from
the IssuerContext and never need Flask's request or app context."""

from __future__ import annotations

from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


class MailRenderer(Protocol):
    def render(self, kind: str, **context: Any) -> tuple[str, str]:
        """(text, html) of one message of `kind`."""
        ...


class JinjaMailRenderer:
    def __init__(self, *, issuer_name: str, base_url: str) -> None:
        self._env = Environment(
            loader=PackageLoader("issuer", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,  # a missing value is a bug, never an empty line in a mail
        )
        self._env.globals.update(issuer_name=issuer_name, base_url=base_url)

    def render(self, kind: str, **context: Any) -> tuple[str, str]:
        text = self._env.get_template(f"mail/{kind}.txt").render(**context)
        html = self._env.get_template(f"mail/{kind}.html").render(**context)
        return text, html
