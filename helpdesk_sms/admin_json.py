"""Stored JSON (timelines, pushed data, balance replies) as an admin page shows it."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

from .gateways.base import redact


def pretty_json(data: Any, secrets: list[str]) -> str:
    """``data`` indented, every credential in ``secrets`` masked; "" for nothing."""
    if not data:
        return ""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return redact(text, secrets)  # belt and braces: adapters store redacted data already


def json_block(data: Any, secrets: list[str]) -> SafeString | str:
    """:func:`pretty_json` in a wrapping ``<pre>``; "" for nothing."""
    text = pretty_json(data, secrets)
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text) if text else ""
