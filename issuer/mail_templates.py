"""Rendering mail without a request: `mail/<kind>.txt` and `mail/<kind>.html` from the package's
templates, with the program's name and base URL as globals. Services get a `MailRenderer` from
the IssuerContext and never need Flask's request or app context."""

from __future__ import annotations

import re
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


def _fill(parts: list[str], values: Mapping[str, str]) -> str:
    """Literal parts (even places) joined with the values of the field names (odd places)."""
    out = [parts[0]]
    for position in range(1, len(parts), 2):
        out.append(values[parts[position]])
        out.append(parts[position + 1])
    return "".join(out)


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
        # Rendered once with markers in place of the per-recipient values; each body is then the
        # literal parts joined with that recipient's values — escaped for the HTML part (bulk
        # imports mail thousands).
        names = list(fields)
        text, html = self.render(kind, **shared, **{name: _marker(name) for name in names})
        split = re.compile("\x00(" + "|".join(re.escape(n) for n in names) + ")\x00").split
        text_parts, html_parts = split(text), split(html)  # literals at even places, field names at odd
        out = []
        for values in recipients:
            escaped = {name: str(escape(values[name])) for name in names}
            out.append((_fill(text_parts, values), _fill(html_parts, escaped)))
        return out
