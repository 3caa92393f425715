"""Signing in to a real HQ's console over HTTP, and reading its pages, for the console tests."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no form token on the page"
    return unescape(found.group(1))


def sign_in(base: str, token: str, **client: Any) -> tuple[httpx.Client, httpx.Response]:
    """A browser-like client (cookies kept) that went through the sign-in form with `token`."""
    c = httpx.Client(base_url=base, follow_redirects=False, timeout=60, **client)
    form = c.get("/sign-in")
    assert form.status_code == 200
    answer = c.post("/sign-in", data={"csrf": csrf_of(form.text), "token": token, "next": "/kpis"})
    return c, answer


def signed_in(base: str, token: str) -> httpx.Client:
    c, answer = sign_in(base, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/kpis", answer.text[:500]
    return c


def text_of(html: str) -> str:
    """The page's text, tags dropped and entities decoded, spaces squeezed."""
    body = re.sub(r"(?s)<(script|style|svg)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def kpi(html: str, name: str) -> str:
    found = re.search(rf'data-kpi="{name}">([^<]*)<', html)
    assert found, f"no KPI {name} on the page"
    return unescape(found.group(1)).strip()


def row_text(html: str, table_id: str) -> list[str]:
    """Each row of a table (by id) as text."""
    table = re.search(rf'(?s)<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', html)
    assert table, f"no table {table_id}"
    return [text_of(r) for r in re.findall(r"(?s)<tr[^>]*>(.*?)</tr>", table.group(1))]
