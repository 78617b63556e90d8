"""The small chat page at `/` for local trials of the web channel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse

from bot.settings import PROJECT_ROOT


async def demo_page(_request: Request) -> FileResponse:
    """Serve the demo chat page."""
    return FileResponse(PROJECT_ROOT / "handlers" / "static" / "chat.html")
