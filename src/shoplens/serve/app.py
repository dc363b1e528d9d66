"""The FastAPI application: API under ``/api/v1``, dashboard at ``/``, metrics at ``/metrics``.

``shoplens serve`` runs :func:`create_app` under uvicorn; a test client calls it directly:

>>> import tempfile, pathlib
>>> from fastapi.testclient import TestClient
>>> from shoplens.serve.keys import KeyStore
>>> settings = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
>>> key = KeyStore.for_warehouse(settings.warehouse).create("viewer")  # the server starts only with a key
>>> with TestClient(create_app(settings)) as client:
...     (client.get("/api/v1/health").json()["status"], client.get("/api/v1/overview").status_code,
...      client.get("/api/v1/overview", headers={"Authorization": f"Bearer {key}"}).status_code)
('ok', 401, 200)
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoplens import __version__
from shoplens.config import Settings
from shoplens.errors import AuthError, InsufficientDataError, NotComputedError, NotFoundError, ShoplensError
from shoplens.serve.audit import AuditLog
from shoplens.serve.cache import ResponseCache, notify_events_folded
from shoplens.serve.deps import warehouse_cursor
from shoplens.serve.keys import AuthThrottle, KeyStore
from shoplens.serve.metrics import Metrics
from shoplens.serve.ratelimit import RateLimiter
from shoplens.serve.settings import API_PREFIX, ServeSettings, check_startup
from shoplens.services import open_warehouse
from shoplens.store.warehouse import Warehouse

log = logging.getLogger("shoplens.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]


class _BodyTooLarge(Exception):
    pass


class ServeMiddleware:
    """Body-size limit, security headers, metrics and the access audit log for every request.

    Pure ASGI (not ``BaseHTTPMiddleware``) to keep per-request overhead small.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], *, metrics: Metrics, audit: AuditLog,
                 max_body: int, trusted_proxies: list[str] | None = None,
                 templates: dict[int, str] | None = None) -> None:
        self.app = app
        self.templates = templates or {}
        self.metrics = metrics
        self.audit = audit
        self.max_body = max_body
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies or []]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in self.proxies)

    def client_address(self, scope: Scope) -> str | None:
        """The client's address: the peer's, or, when the peer is a configured trusted proxy, the
        nearest address in X-Forwarded-For that is not itself a trusted proxy. Without configured
        proxies the header is ignored (anyone can send it)."""
        peer = scope.get("client")
        address = peer[0] if peer else None
        if address is None or not self.proxies or not self._trusted(address):
            return address
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for").decode("latin-1")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._trusted(hop):
                return hop[:64]
            address = hop
        return address

    async def _reply(self, send: Send, status: int, detail: str) -> None:
        body = ('{"detail":"%s"}' % detail).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        result = {"status": 500, "started": False}
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        try:
            too_big = length is not None and int(length) > self.max_body
        except ValueError:
            too_big = False
            result["status"] = 400
            await self._reply(send, 400, "invalid Content-Length header")
            result["started"] = True
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                result["status"] = message["status"]
                result["started"] = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
                if scope["path"].startswith("/api/"):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        try:
            if too_big:
                result["status"] = 413
                await self._reply(send, 413, f"request body larger than {self.max_body} bytes")
            elif not result["started"]:
                await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            result["status"] = 413
            if not result["started"]:
                await self._reply(send, 413, f"request body larger than {self.max_body} bytes")
        finally:
            route = scope.get("route")
            route_path = self.templates.get(id(route)) or getattr(route, "path", None)
            template = route_path or ("static" if not scope["path"].startswith("/api") else "unmatched")
            self.metrics.observe(scope["method"], template, int(result["status"]), time.perf_counter() - started)
            path = scope["path"]
            if path.startswith("/api/") and path != f"{API_PREFIX}/health" or path == "/metrics":
                # the route template, never the concrete path: it may hold a customer id
                state = scope.get("state") or {}
                key = state.get("api_key")
                self.audit.record(
                    key_id=getattr(key, "key_id", None), role=getattr(key, "role", None), method=scope["method"],
                    path=route_path or "unmatched", status=int(result["status"]), customers=state.get("customers"),
                    client=self.client_address(scope),
                )


def route_templates(app: FastAPI) -> dict[int, str]:
    """The full path template of every route, by the id of the route object a request's scope names.

    FastAPI includes routers lazily: the route in ``scope["route"]`` carries the path it was declared
    with (``/customers/{customer_id}``), not the prefixes it is mounted under; metrics and the audit
    log record the full template (``/api/v1/customers/{customer_id}``), never the concrete path."""
    from fastapi.routing import iter_route_contexts

    return {id(r.original_route): r.path for r in iter_route_contexts(app.routes) if r.path}


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def shoplens_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, AuthError):
            return _error(403, str(exc))
        if isinstance(exc, NotFoundError):
            return _error(404, str(exc))
        if isinstance(exc, (NotComputedError, InsufficientDataError)):
            return _error(409, str(exc))
        return _error(400, str(exc))

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # name each field: "body.text: Field required"
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                  for e in exc.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return _error(422, summary or "invalid input") if not errors else JSONResponse(
            {"detail": summary, "errors": errors}, status_code=422)

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", incident, request.method, request.url.path)
        return _error(500, f"internal error (incident {incident}); the server log has the details")

    app.add_exception_handler(ShoplensError, shoplens_error)
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)


def _bind_shop_secret(warehouse: Warehouse, settings: Settings) -> bytes | None:
    """Check the shop secret against the warehouse's pseudonyms now (refuse to start), not per request."""
    from shoplens.errors import ConfigError
    from shoplens.privacy.keys import bind_secret, fingerprint, resolve_secret, warehouse_state

    expected = warehouse_state(warehouse.con).get("key_fingerprint")
    secret = resolve_secret(settings, warehouse.home, create=False)
    if not expected:
        return secret
    if secret is None or fingerprint(secret) != expected:
        raise ConfigError(
            f"the server will not start: the shop secret does not match the one {warehouse.path} was "
            f"pseudonymised with (fingerprint {expected}); set SHOPLENS_SECRET / SHOPLENS_SECRET_FILE to the original")
    bind_secret(warehouse, secret)
    return secret


def create_app(settings: Settings, serve: ServeSettings | None = None, *, check: bool = True,
               clock: Callable[[], float] = time.monotonic, schedule: bool | None = None) -> FastAPI:
    """Build the app over ``settings.warehouse``; ``check`` refuses weak keys/secrets (ConfigError).
    ``clock`` (seconds) drives rate limits, the slowing of failed key attempts and the time budget of
    text analysis (tests pass a fake one instead of sleeping). ``schedule`` runs the ``[schedule]``
    jobs while the app runs (default: ``settings.schedule.enabled``); ``app.state.scheduler`` holds them."""
    serve = serve or ServeSettings()
    keys = KeyStore.for_warehouse(settings.warehouse)
    if check:
        check_startup(settings, serve, keys)
    warehouse = open_warehouse(settings, engine="duckdb")  # the server reads through DuckDB on either engine
    try:
        secret = _bind_shop_secret(warehouse, settings)
    except BaseException:
        warehouse.close()
        raise
    from shoplens.serve.routes.ingest import remove_leftover_uploads

    if left := remove_leftover_uploads(warehouse):
        log.warning("removed %d upload(s) left by a server that stopped during an ingest", len(left))

    from shoplens.stream.collector import Collector
    from shoplens.stream.worker import FoldWorker

    ingest_lock = threading.Lock()
    fold_callbacks: list[Callable[[Any], None]] = []  # run after each fold with its FoldResult (app.state)
    try:
        collector = Collector(warehouse, settings)
    except BaseException:
        warehouse.close()
        raise
    fold_worker = FoldWorker(collector, lambda: warehouse_cursor(warehouse), callbacks=fold_callbacks,
                             interval=serve.fold_interval_seconds, batch=serve.fold_batch_events, lock=ingest_lock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        try:  # events a stopped (or killed) server accepted but had not folded yet
            fold_worker.fold_now()
        except Exception:  # they stay in the log; the background fold tries again
            log.exception("folding the event log at start failed; the events stay in the log")
        fold_worker.start()
        if app.state.scheduler is not None:
            app.state.scheduler.start()
        try:
            yield
        finally:
            try:
                if app.state.scheduler is not None:
                    app.state.scheduler.shutdown()
            finally:
                try:
                    fold_worker.close()
                finally:
                    warehouse.close()

    app = FastAPI(
        title="shoplens API", version=__version__, lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,  # docs: routes/dashboard.py
        description="Customer insight and decisions for an e-commerce shop. Every endpoint except "
        f"`{API_PREFIX}/health` needs `Authorization: Bearer KEY` (create keys with `shoplens keys create`).",
    )

    app.state.settings = settings
    app.state.serve = serve
    app.state.warehouse = warehouse
    app.state.keys = keys
    app.state.clock = clock
    app.state.limiter = RateLimiter(serve.rate_limit_per_minute, serve.rate_limit_burst, clock=clock)
    # characters of text analysis per key, one bucket size per role (a viewer's batch costs what it carries)
    app.state.text_limiters = {role: RateLimiter(n, n, clock=clock) for role, n in serve.text_chars_per_minute.items()}
    app.state.auth_throttle = AuthThrottle(serve.failed_auth_limit, serve.failed_auth_max_seconds, clock=clock)
    from shoplens.privacy.keys import derive_key

    app.state.audit = AuditLog.for_warehouse(settings.warehouse, derive_key(secret, "audit") if secret else None)
    app.state.metrics = Metrics(lambda: warehouse_cursor(warehouse))
    app.state.cache = {}  # loaded models and derived lookups, keyed by version
    app.state.responses = ResponseCache(enabled=serve.response_cache)
    # called with the ids (warehouse or shop ids) whose behaviour events were just folded into the
    # warehouse (`notify_events_folded`): their cached answers go, so the next question sees the events
    app.state.on_events_folded = [app.state.responses.invalidate_customers]
    from shoplens.privacy.consent import consent_default

    # the shop's policy for customers with unknown consent, from this server's settings (read once)
    app.state.consent_default = {p: consent_default(p, settings) for p in ("personalization", "marketing")}
    app.state.ingest_lock = ingest_lock  # one writer at a time: uploads, the event fold, erasure, jobs
    app.state.fold_worker = fold_worker
    app.state.fold_callbacks = fold_callbacks
    fold_callbacks.append(app.state.metrics.observe_fold)  # event-to-visible latency on /metrics

    def forget_cached_answers(result: Any) -> None:
        # no cached answer may be older than its data: a fold that wrote orders, products, customers
        # or identity links changes what many answers rest on, so every cached answer goes; a fold of
        # behaviour events alone changes only its own customers' and visitors' answers
        if not result.changed:
            return
        shared = (result.orders, result.order_items, result.products, result.customers_added)
        if any(c.loaded or c.updated for c in shared) or result.identities or result.stitched_rows or result.refunds:
            app.state.responses.clear()
        else:
            notify_events_folded(app.state, result.customers)

    fold_callbacks.append(forget_cached_answers)
    app.state.scheduler = None
    if settings.schedule.enabled if schedule is None else schedule:
        from shoplens.serve.scheduler import ShopScheduler

        app.state.scheduler = ShopScheduler(settings, warehouse, write_lock=ingest_lock,
                                            on_change=app.state.responses.clear)
    _install_error_handlers(app)
    from shoplens.serve.api import api_router
    from shoplens.serve.routes import dashboard, system

    app.include_router(api_router, prefix=API_PREFIX)  # the one place the API is mounted
    app.include_router(system.metrics_router)  # /metrics, where Prometheus looks
    app.include_router(dashboard.router)  # the dashboard's page and assets
    if serve.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=serve.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(ServeMiddleware, metrics=app.state.metrics, audit=app.state.audit,  # type: ignore[arg-type]
                       max_body=serve.max_body_bytes, trusted_proxies=serve.trusted_proxies,
                       templates=route_templates(app))
    return app
