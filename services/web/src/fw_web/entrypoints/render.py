"""Jinja2 templates (autoescaped) and the helper every page uses to answer HTML."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from fw_web.domain import formatting
from fw_web.domain.users import Role, User
from fw_web.entrypoints.web_session import CSRF_FIELD, current_user, web_session

ENV = Environment(
    loader=PackageLoader("fw_web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a typo in a template fails the tests instead of rendering blank
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    word=formatting.word, local_time=formatting.local_time, duration=formatting.duration,
    money=formatting.money, percent=formatting.percent, markdown=formatting.simple_markdown,
    phone=formatting.phone, waiting=formatting.waiting,
)

_NAV = {
    Role.TECHNICIAN: (("/technik", "Warteschlange"), ("/technik/alle", "Alle laufenden Sitzungen")),
    Role.OFFICE: (("/buero", "Rechnungen"), ("/buero/kunden", "Kundenkonten"), ("/buero/zustellungen", "Zustellungen"),
                   ("/buero/geparkt", "Geparkte Nachrichten")),
    Role.PRIVACY: (("/datenschutz", "Übersicht"),),
}


def nav_links(user: User) -> tuple[tuple[str, str], ...]:
    """The navigation of ``user``'s area: (path, label)."""
    return _NAV[user.role]


ENV.globals.update(CSRF_FIELD=CSRF_FIELD, nav_links=nav_links)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the signed-in user, the CSRF token and the one-time notice."""
    session = web_session(request)
    html = ENV.get_template(template).render(
        request=request,
        user=current_user(request),
        csrf_token=session.csrf,
        flash=session.pop_flash(),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def render_fragment(template: str, **context: Any) -> HTMLResponse:
    """A piece of a page (polled by the browser); no layout, no session."""
    return HTMLResponse(ENV.get_template(template).render(**context))
