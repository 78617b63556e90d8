"""The gateway app: assembles settings, storage, content, engine, core and channels."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import metrics
from bot.accounts import Accounts
from bot.addresses import AddressBox
from bot.audit import AuditLog
from bot.backlog import EngineBacklog
from bot.casework import Casework
from bot.content.store import ContentNotLoaded, ContentStore
from bot.core import ConversationService
from bot.db import crypto
from bot.db.migrate import upgrade
from bot.db.session import make_engine, make_sessionmaker
from bot.delivery import DeliveryService
from bot.engine import RasaEngine
from bot.language import detector_for
from bot.logs import quiet_libraries
from bot.nlg import make_nlg_endpoint
from bot.periodic import Periodic
from bot.queue_signal import QueueSignal
from bot.ratelimit import RateLimiter
from bot.retention import RetentionJob
from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.spool import InboundSpool
from bot.staff_sessions import SessionStore
from bot.unclaimed import UnclaimedWatch
from bot.workers import Workers
from handlers.console import Console
from handlers.demo import demo_page
from handlers.security import secure
from handlers.telegram import TelegramChannel
from handlers.web import web_routes
from handlers.whatsapp import WhatsAppChannel

log = logging.getLogger(__name__)


@dataclass
class Components:
    """The long-lived parts of a running gateway."""

    settings: Settings
    content: ContentStore
    engine: RasaEngine
    service: ConversationService
    delivery: DeliveryService
    telegram: TelegramChannel | None
    whatsapp: WhatsAppChannel | None
    accounts: Accounts
    unclaimed: UnclaimedWatch
    backlog: EngineBacklog
    queue_signal: QueueSignal
    workers: Workers


def create_app(
    settings: Settings | None = None,
    migrate: bool = True,
    engine_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build the ASGI app; the database is migrated at start-up unless told not to.

    `engine_transport` replaces the HTTP transport to Rasa (tests fake Rasa there,
    at the process edge).
    """
    settings = settings or load_settings()
    # Before migrations: 0007 seals old bodies with these keys.
    crypto.configure(settings.data_keys)
    quiet_libraries()
    db_engine = make_engine(settings.database_url)
    content = ContentStore(settings.content_dir)
    rasa = RasaEngine(
        settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds, engine_transport
    )
    sessions = make_sessionmaker(db_engine)
    workers = Workers(sessions)
    delivery = DeliveryService(sessions, AddressBox(settings.secret_key), workers)
    # One limiter: the security middleware counts in it, erasure forgets a person's counts.
    limiter = RateLimiter.from_settings(settings)
    service = ConversationService(
        settings,
        sessions,
        content,
        rasa,
        detector_for(PROJECT_ROOT / "rasa_project" / "data" / "nlu"),
        delivery.outbox,
        limiter,
        workers,
    )
    telegram = (
        TelegramChannel(settings, service, delivery, content) if settings.telegram_enabled else None
    )
    spool = InboundSpool(settings.redis_url)
    whatsapp = (
        WhatsAppChannel(settings, service, delivery, content, spool)
        if settings.whatsapp_enabled
        else None
    )
    accounts = Accounts(sessions, settings.secret_key)
    queue_signal = QueueSignal(settings.database_url)
    console = Console(
        sessions,
        accounts,
        SessionStore(sessions),
        AuditLog(sessions),
        Casework(sessions, delivery, content, AddressBox(settings.secret_key), service),
        queue_signal,
    )
    unclaimed = UnclaimedWatch(
        sessions, service, delivery, dt.timedelta(minutes=settings.unclaimed_minutes)
    )
    backlog = EngineBacklog(service, rasa, spool)
    parts = Components(
        settings,
        content,
        rasa,
        service,
        delivery,
        telegram,
        whatsapp,
        accounts,
        unclaimed,
        backlog,
        queue_signal,
        workers,
    )
    channels = [c for c in (telegram, whatsapp) if c is not None]
    retention = RetentionJob(sessions, rasa, settings.retention_days)
    content_watch = Periodic("content watch", content.interval, content.look_for_edits)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        """Migrate and connect channels on start; finish sends and close connections on stop."""
        if migrate:
            upgrade(settings.database_url)
        await workers.start()  # before any work names this replica as its holder
        for channel in channels:
            await channel.start()
        unclaimed.start()
        delivery.start()
        backlog.start()
        retention.start()
        queue_signal.start()
        content_watch.start()
        yield
        await content_watch.stop()
        await queue_signal.stop()
        await retention.stop()
        await backlog.stop()
        await unclaimed.stop()
        await delivery.drain()
        for channel in channels:
            await channel.stop()
        await workers.stop()
        await rasa.close()
        await spool.close()
        await db_engine.dispose()

    async def healthz(_request: Request) -> JSONResponse:
        """The process serves."""
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        """Ready to take messages: content loaded and the database answering.

        The engine's state is reported but does not make a replica unready: with Rasa
        down the gateway still stores every message, says so once and answers later
        (taking replicas out of service would lose the messages instead). Tools that
        need the engine too ask `/readyz?engine=required`.
        """
        if not parts.content.loaded:
            return JSONResponse(
                {"status": "not ready", "reason": "content has problems; run make content-check"},
                status_code=503,
            )
        try:
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            reason = f"database unreachable ({type(exc).__name__})"
            return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
        ok, engine_state = await parts.engine.ready()
        if not ok and request.query_params.get("engine") == "required":
            return JSONResponse({"status": "not ready", "reason": engine_state}, status_code=503)
        return JSONResponse({"status": "ready", "engine": engine_state})

    async def metrics_endpoint(_request: Request) -> Response:
        """Prometheus metrics; the outbox and the engine backlog are counted as of now."""
        try:
            metrics.OUTBOX_DEPTH.set(await delivery.outbox.depth())
            metrics.ENGINE_BACKLOG.set(len(await service.engine_backlog()))
        except Exception as exc:  # the database may be down: the counters still answer
            log.warning("queue gauges not read: %s", type(exc).__name__)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def content_not_loaded(_request: Request, _exc: Exception) -> JSONResponse:
        """No valid content was ever loaded: the message is saved, the answer must wait."""
        return JSONResponse(
            {
                "error": "the assistant is not ready yet (content could not be loaded); "
                "your message was saved"
            },
            status_code=503,
        )

    async def server_error(_request: Request, exc: Exception) -> JSONResponse:
        """Never leak internals; the person's message was already stored."""
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        return JSONResponse({"error": "internal error; please try again"}, status_code=500)

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/nlg", make_nlg_endpoint(settings, service), methods=["POST"]),
            *web_routes(service),
            *(route for channel in channels for route in channel.routes()),
            *console.routes(),
            Route("/", demo_page),
            Mount("/static", StaticFiles(directory=PROJECT_ROOT / "handlers" / "static")),
        ],
        lifespan=lifespan,
        exception_handlers={ContentNotLoaded: content_not_loaded, 500: server_error},
    )
    app.state.components = parts
    app.add_middleware(secure, settings=settings, limiter=limiter)
    return app
