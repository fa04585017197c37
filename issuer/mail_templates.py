"""Rendering mail without a request: `mail/<kind>.txt` and `mail/<kind>.html` from the package's
templates, with the program's name and base URL as globals. Services get a `MailRenderer` from
the IssuerContext and never need Flask's request or app context."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import escape


class MailRenderer(Protocol):
    def render(self, kind: str, **context: Any) -> tuple[str, str]:
        """(text, html) of one message of `kind`."""
        ...

    def render_many(
        self, kind: str, *, shared: Mapping[str, Any], fields: Iterable[str], recipients: Iterable[Mapping[str, str]]
    ) -> list[tuple[str, str]]:
        """(text, html) per recipient, when only `fields` differ between recipients."""
        ...


def _marker(name: str) -> str:
    return f"\x00{name}\x00"


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

    def render_many(
        self, kind: str, *, shared: Mapping[str, Any], fields: Iterable[str], recipients: Iterable[Mapping[str, str]]
    ) -> list[tuple[str, str]]:
        # Rendered once with markers in place of the per-recipient values, which are then filled
        # in — escaped for the HTML part — for each recipient (bulk imports mail thousands).
        names = list(fields)
        markers = {name: _marker(name) for name in names}
        text, html = self.render(kind, **shared, **markers)
        out = []
        for values in recipients:
            body_text, body_html = text, html
            for name in names:
                body_text = body_text.replace(markers[name], values[name])
                body_html = body_html.replace(markers[name], str(escape(values[name])))
            out.append((body_text, body_html))
        return out
