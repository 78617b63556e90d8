"""The caseworker console under /console: sign-in, the queue, the audit log, content pages.

Every page and API under /console needs a signed-in account; every state-changing
request needs the session's CSRF token. Editors may open only the content pages
(handlers/console_content.py): every other page and API refuses them. The decisions
(who may sign in, what the queue holds, what is audited) live in bot/accounts.py,
bot/staff_sessions.py, bot/queue.py and bot/audit.py.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from bot.accounts import Accounts, Role, Throttled
from bot.audit import Action, AuditLog
from bot.casework import Casework, CaseworkError, Refusal
from bot.handoff import InvalidTransition
from bot.queue import waiting_conversations
from bot.queue_signal import QueueSignal
from bot.staff_sessions import ABSOLUTE_TIMEOUT, Session, SessionStore
from handlers.bodies import BodyTooLarge, parse_form, read_capped
from handlers.console_content import ContentPages

COOKIE = "rota_console"
LOGIN_CSRF_COOKIE = "rota_login_csrf"
# A 4,000-character reply in any script, form-encoded (up to 9 bytes a character).
MAX_FORM_BYTES = 65_536
HEARTBEAT_SECONDS = 15.0
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

Page = Callable[[Request, Session], Awaitable[Response]]


def waiting_text(waiting: dt.timedelta) -> str:
    """How long someone has waited, e.g. 3 min or 2 h 05 min."""
    minutes = int(waiting.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def is_https(request: Request) -> bool:
    """Whether the browser reached us over https (directly or through a proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page with its security headers."""
    html = TEMPLATES.get_template(f"console/{template}").render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


class Console:
    """The console's routes, bound to the accounts, sessions, queue and audit log."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        accounts: Accounts,
        store: SessionStore,
        audit: AuditLog,
        casework: Casework,
        signal: QueueSignal | None = None,
    ) -> None:
        self._casework = casework
        self._signal = signal or QueueSignal("")
        self._sessions = sessions
        self._accounts = accounts
        self._store = store
        self._audit = audit
        self._content = ContentPages(render, SECURITY_HEADERS)

    def routes(self) -> list[Route]:
        """Every console route; all but the sign-in page need a session."""
        content = self._content
        return [
            Route("/console/login", self.login_page, methods=["GET"]),
            Route("/console/login", self.login, methods=["POST"]),
            Route("/console/logout", self.signed_in(self.logout, editors=True), methods=["POST"]),
            Route("/console/content", self.signed_in(content.status, editors=True)),
            Route("/console/content/show", self.signed_in(content.show, editors=True)),
            Route(
                "/console/content/{topic}/{language}",
                self.signed_in(content.preview, editors=True),
            ),
            Route("/console", self.signed_in(self.queue), methods=["GET"]),
            Route("/console/audit", self.signed_in(self.audit_page), methods=["GET"]),
            Route("/console/api/queue", self.signed_in(self.queue_json), methods=["GET"]),
            Route("/console/settings", self.signed_in(self.settings_page), methods=["GET"]),
            Route("/console/settings", self.signed_in(self.save_settings), methods=["POST"]),
            Route(
                "/console/conversations/{conversation_id}/export",
                self.signed_in(self.export),
                methods=["GET"],
            ),
            Route("/console/api/queue/events", self.signed_in(self.queue_events), methods=["GET"]),
            Route(
                "/console/conversations/{conversation_id}",
                self.signed_in(self.conversation),
                methods=["GET"],
            ),
            Route(
                "/console/conversations/{conversation_id}/{action:str}",
                self.signed_in(self.act),
                methods=["POST"],
            ),
            Route(
                "/console/{rest:path}",
                self.signed_in(self.not_found),
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ]

    # --- the guard -------------------------------------------------------------

    def signed_in(
        self, page: Page, editors: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page: no session → sign-in page (or 401 for the API); POST needs CSRF.

        Editors are refused unless `editors` is set: they never see a person or the queue.
        """

        async def guarded(request: Request) -> Response:
            session = await self._store.find(request.cookies.get(COOKIE))
            api = request.url.path.startswith("/console/api/") or request.method != "GET"
            if session is None:
                if api:
                    return JSONResponse({"error": "sign in first"}, 401, headers=SECURITY_HEADERS)
                return RedirectResponse("/console/login", 303, headers=SECURITY_HEADERS)
            if not editors and not session.role.sees_people:
                return self._editor_refused(request, session, api)
            if request.method != "GET":
                given = request.headers.get("x-csrf-token")
                if given is None:
                    form = await self._form(request)
                    given = form.get("csrf_token") if form else None
                    if request.scope.get("console_form_too_large"):
                        return JSONResponse(
                            {"error": "what you sent is too long; shorten it and try again"},
                            413,
                            headers=SECURITY_HEADERS,
                        )
                if not given or not hmac.compare_digest(given, session.csrf_token):
                    return JSONResponse(
                        {"error": "missing or wrong CSRF token; reload the page"},
                        403,
                        headers=SECURITY_HEADERS,
                    )
            return await page(request, session)

        return guarded

    @staticmethod
    def _editor_refused(request: Request, session: Session, api: bool) -> Response:
        """An editor asked for casework: home to the content pages, or 403."""
        if request.url.path == "/console" and not api:
            return RedirectResponse("/console/content", 303, headers=SECURITY_HEADERS)
        reason = "Editors see only the content pages."
        if api:
            return JSONResponse({"error": reason}, 403, headers=SECURITY_HEADERS)
        return render("forbidden.html", 403, staff=session, reason=reason)

    async def _form(self, request: Request) -> dict[str, str] | None:
        """A small urlencoded form, read once per request."""
        if "console_form" in request.scope:
            cached: dict[str, str] | None = request.scope["console_form"]
            return cached
        try:
            parsed = parse_form(await read_capped(request, MAX_FORM_BYTES))
        except BodyTooLarge:
            parsed = None
            request.scope["console_form_too_large"] = True
        form = {k: v for k, v in parsed.items()} if parsed is not None else None
        request.scope["console_form"] = form
        return form

    # --- sign-in ---------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        """The sign-in form, with a fresh CSRF token bound to a cookie."""
        return self._login_form(request, None, 200)

    def _login_form(self, request: Request, error: str | None, status: int) -> Response:
        """Render the form and (re)set its CSRF cookie."""
        token = secrets.token_urlsafe(32)
        response = render("login.html", status, csrf_token=token, error=error, staff=None)
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=is_https(request),
            path="/console/login",
        )
        return response

    async def login(self, request: Request) -> Response:
        """Check the form; on success a new session (the old one, if any, is ended)."""
        form = await self._form(request) or {}
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        given = form.get("csrf_token", "")
        if not expected or not hmac.compare_digest(given, expected):
            return self._login_form(request, "The form expired. Please sign in again.", 403)
        address = request.client.host if request.client else "unknown"
        try:
            who = await self._accounts.sign_in(
                form.get("username", ""), form.get("password", ""), form.get("code"), address
            )
        except Throttled:
            return self._login_form(
                request, "Too many failed attempts. Wait 15 minutes and try again.", 429
            )
        if who is None:
            return self._login_form(request, "Wrong username, password or code.", 401)
        token, _csrf = await self._store.start(who.staff_id, request.cookies.get(COOKIE))
        await self._audit.record(who.staff_id, who.username, Action.SIGN_IN)
        home = "/console" if who.role.sees_people else "/console/content"
        response = RedirectResponse(home, 303, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=is_https(request),
            path="/console",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
        return response

    async def logout(self, request: Request, session: Session) -> Response:
        """End the session."""
        await self._store.end(request.cookies.get(COOKIE, ""))
        await self._audit.record(session.staff_id, session.username, Action.SIGN_OUT)
        response = RedirectResponse("/console/login", 303, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # --- pages -----------------------------------------------------------------

    async def queue(self, request: Request, session: Session) -> Response:
        """Who is waiting for a person: distress first, then the longest waiting."""
        items = await self._queue_items()
        return render(
            "queue.html",
            items=items,
            staff=session,
            overdue=sum(1 for i in items if i["overdue"]),
        )

    async def queue_json(self, request: Request, session: Session) -> Response:
        """The queue as JSON (what the live page receives)."""
        return JSONResponse(await self._queue_items(), headers=SECURITY_HEADERS)

    async def queue_events(self, request: Request, session: Session) -> Response:
        """Server-sent events: the queue whenever it changes, read from the database.

        Reading the database (not an in-process signal) keeps every replica's pages right;
        PostgreSQL's NOTIFY (bot/queue_signal.py) says when to read it again.
        """

        async def stream() -> AsyncIterator[str]:
            last = None
            said_at = time.monotonic()
            while not await request.is_disconnected():
                seen = self._signal.generation  # before reading: a change during it counts
                items = await self._queue_items()
                payload = json.dumps(items, ensure_ascii=False)
                if payload != last:
                    last = payload
                    said_at = time.monotonic()
                    yield f"event: queue\ndata: {payload}\n\n"
                elif time.monotonic() - said_at >= HEARTBEAT_SECONDS:
                    said_at = time.monotonic()
                    yield ": still here\n\n"
                # Woken by any replica's change to a conversation (LISTEN/NOTIFY), or on time.
                await self._signal.wait(seen)
                if await self._store.find(request.cookies.get(COOKIE), touch=False) is None:
                    return  # signed out or expired: stop telling this page anything

        headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def _queue_items(self) -> list[dict[str, str]]:
        """The queue, as the page and the events show it."""
        return [
            {
                "conversation_id": item.conversation_id,
                "channel": item.channel,
                "language": item.language,
                "reason": item.reason,
                "waiting_text": waiting_text(item.waiting),
                "first_words": item.first_words,
                "overdue": "yes" if item.overdue else "",
            }
            for item in await waiting_conversations(self._sessions)
        ]

    async def audit_page(self, request: Request, session: Session) -> Response:
        """The audit log, for supervisors only."""
        if session.role is not Role.SUPERVISOR:
            return render("forbidden.html", 403, staff=session)
        await self._audit.record(session.staff_id, session.username, Action.VIEW_AUDIT)
        return render("audit.html", entries=await self._audit.latest(), staff=session)

    async def conversation(self, request: Request, session: Session) -> Response:
        """The transcript, with what this caseworker may do now; the view is audited."""
        return await self._conversation_page(request, session, None, 200)

    async def _conversation_page(
        self, request: Request, session: Session, error: str | None, status: int
    ) -> Response:
        """Render a conversation (or the refusal to show it)."""
        conversation_id = request.path_params["conversation_id"]
        try:
            transcript = await self._casework.transcript(conversation_id, session)
        except CaseworkError as exc:
            code = 404 if exc.refusal is Refusal.NOT_FOUND else 403
            return render("forbidden.html", code, staff=session, reason=str(exc))
        await self._audit.record(
            session.staff_id, session.username, Action.VIEW_TRANSCRIPT, conversation_id
        )
        return render(
            "conversation.html",
            status,
            t=transcript,
            staff=session,
            error=error,
            canned=self._casework.canned_choices(transcript.language),
            colleagues=[n for n in await self._casework.staff_names() if n != session.username],
        )

    async def act(self, request: Request, session: Session) -> Response:
        """Claim, reply or resolve; refusals are shown on the conversation page."""
        conversation_id = request.path_params["conversation_id"]
        action = request.path_params["action"]
        form = await self._form(request) or {}
        detail: str | None = None
        try:
            if action == "claim":
                await self._casework.claim(conversation_id, session)
                audited = Action.CLAIM
            elif action == "reply":
                canned = form.get("canned", "")
                if canned:
                    message_id = await self._casework.reply_canned(conversation_id, session, canned)
                else:
                    message_id = await self._casework.reply(
                        conversation_id, session, form.get("text", "")
                    )
                audited, detail = Action.REPLY, f"message {message_id}"
            elif action == "note":
                await self._casework.add_note(conversation_id, session, form.get("text", ""))
                audited = Action.NOTE
            elif action == "tag":
                await self._casework.add_tag(conversation_id, session, form.get("tag", ""))
                audited, detail = Action.TAG, form.get("tag", "")[:40]
            elif action == "transfer":
                target = await self._casework.transfer(conversation_id, session, form.get("to", ""))
                audited, detail = Action.TRANSFER, f"to {target}"
            elif action in ("resolve", "close"):
                if action == "resolve":
                    await self._casework.resolve(conversation_id, session)
                else:
                    await self._casework.close(conversation_id, session)
                await self._audit.record(
                    session.staff_id,
                    session.username,
                    Action.RESOLVE if action == "resolve" else Action.CLOSE,
                    conversation_id,
                )
                return RedirectResponse("/console", 303, headers=SECURITY_HEADERS)
            else:
                return JSONResponse({"error": "no such action"}, 404, headers=SECURITY_HEADERS)
        except InvalidTransition as exc:
            return await self._conversation_page(request, session, str(exc), 422)
        except CaseworkError as exc:
            if exc.refusal is Refusal.TAKEN:
                return render("forbidden.html", 409, staff=session, reason=str(exc))
            status = 404 if exc.refusal is Refusal.NOT_FOUND else 422
            return await self._conversation_page(request, session, str(exc), status)
        await self._audit.record(
            session.staff_id, session.username, audited, conversation_id, detail
        )
        return RedirectResponse(
            f"/console/conversations/{conversation_id}", 303, headers=SECURITY_HEADERS
        )

    async def export(self, request: Request, session: Session) -> Response:
        """The transcript as a text file; exporting is audited."""
        conversation_id = request.path_params["conversation_id"]
        try:
            transcript = await self._casework.transcript(conversation_id, session)
        except CaseworkError as exc:
            code = 404 if exc.refusal is Refusal.NOT_FOUND else 403
            return render("forbidden.html", code, staff=session, reason=str(exc))
        await self._audit.record(session.staff_id, session.username, Action.EXPORT, conversation_id)
        return Response(
            self._casework.export_text(transcript),
            media_type="text/plain; charset=utf-8",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="conversation-{conversation_id}.txt"',
            },
        )

    async def settings_page(self, request: Request, session: Session) -> Response:
        """Console settings, for supervisors."""
        if session.role is not Role.SUPERVISOR:
            return render("forbidden.html", 403, staff=session)
        visible = await self._casework.numbers_visible()
        return render("settings.html", staff=session, numbers_visible=visible)

    async def save_settings(self, request: Request, session: Session) -> Response:
        """Save the settings form (supervisors only); audited."""
        if session.role is not Role.SUPERVISOR:
            return render("forbidden.html", 403, staff=session)
        form = await self._form(request) or {}
        visible = form.get("numbers_visible") == "yes"
        await self._casework.set_numbers_visible(session, visible)
        await self._audit.record(
            session.staff_id,
            session.username,
            Action.SETTING,
            detail=f"caseworkers see numbers: {'yes' if visible else 'no'}",
        )
        return RedirectResponse("/console/settings", 303, headers=SECURITY_HEADERS)

    async def not_found(self, request: Request, session: Session) -> Response:
        """Signed in, but nothing lives here."""
        return JSONResponse({"error": "no such console page"}, 404, headers=SECURITY_HEADERS)
