"""Public information pages: Impressum and the privacy notice (Art. 13 DSGVO)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fw_web.entrypoints.render import render


def build_router() -> APIRouter:
    """``/impressum`` and ``/datenschutzhinweise``: the office's own pages when configured."""
    router = APIRouter()

    @router.get("/impressum", summary="Impressum")
    async def impressum(request: Request) -> Response:
        url = request.app.state.settings.impressum_url
        if url:
            return RedirectResponse(url, status_code=303)
        return render(request, "legal/impressum.html")

    @router.get("/datenschutzhinweise", summary="Privacy notice (Art. 13 GDPR)")
    async def privacy_notice(request: Request) -> Response:
        url = request.app.state.settings.privacy_notice_url
        if url:
            return RedirectResponse(url, status_code=303)
        return render(request, "legal/datenschutzhinweise.html")

    return router
