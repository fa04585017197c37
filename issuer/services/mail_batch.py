"""Rendering one message template for many recipients at once (bulk imports): the template is
rendered once with markers in place of the per-recipient values, which are then filled in —
escaped for the HTML part — for each recipient."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import render_template
from markupsafe import escape


def _marker(name: str) -> str:
    return f"\x00{name}\x00"


def render_many(
    kind: str, *, shared: Mapping[str, Any], fields: Iterable[str], recipients: Iterable[Mapping[str, str]]
) -> list[tuple[str, str]]:
    """(text, html) per recipient of `mail/<kind>.txt|html`; `fields` are the names that differ
    per recipient (passed to the template as strings; attribute access is not supported)."""
    names = list(fields)
    markers = {name: _marker(name) for name in names}
    text = render_template(f"mail/{kind}.txt", **shared, **markers)
    html = render_template(f"mail/{kind}.html", **shared, **markers)
    out = []
    for values in recipients:
        body_text, body_html = text, html
        for name in names:
            body_text = body_text.replace(markers[name], values[name])
            body_html = body_html.replace(markers[name], str(escape(values[name])))
        out.append((body_text, body_html))
    return out
