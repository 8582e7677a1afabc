"""Tracing (transfers_service.tracing): a request continues its caller's trace, its database
and cache work are spans of it, a collector that is down costs nothing, and without the
collector's endpoint nothing is installed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import uvicorn
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from transfers_support import Ledger, ServiceServer, caller_headers, wait_for

from tools.test_servers import free_port
from transfers_service.app import create_app
from transfers_service.settings import Settings
from transfers_service.tracing import ENDPOINT, Tracing, setup_tracing

# An X-Ray trace header as API Gateway sends it to its integration.
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
TRACE_ID = int("5759e988bd862e3fe1be46a994272793", 16)
PARENT = "53995c3f42cd8ad8"
ENVIRONMENT = {ENDPOINT: "http://127.0.0.1:4318", "OTEL_SERVICE_NAME": "transfers"}


class TracedServer(ServiceServer):
    """ServiceServer, with the app built with ``tracing``."""

    def __init__(self, settings: Settings, tracing: Tracing) -> None:
        super().__init__(settings)
        self.app = create_app(runtime=self.runtime, tracing=tracing)
        config = uvicorn.Config(
            self.app, lifespan="on", log_level="warning", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[Tracing]:
    traced = setup_tracing(ENVIRONMENT, exporter=exporter, set_global=False)
    assert traced is not None
    yield traced
    traced.shutdown()


@pytest.fixture
def traced_api(settings: Settings, tracing: Tracing) -> Iterator[ServiceServer]:
    server = TracedServer(settings, tracing)
    server.start()
    yield server
    server.stop()


def _spans(tracing: Tracing, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert tracing.provider.force_flush(timeout_millis=5000)
    return list(exporter.get_finished_spans())


def _request_spans(tracing: Tracing, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The spans once the server span ended: it ends just after the response was sent, so
    the client may have it a moment before."""
    wait_for(
        lambda: any(s.kind == SpanKind.SERVER for s in _spans(tracing, exporter)),
        timeout=5,
        what="the server span",
    )
    return _spans(tracing, exporter)


def _reset(tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    """Forget the spans so far (the test's own setup queries among them)."""
    _spans(tracing, exporter)
    exporter.clear()


def _ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    by_id = {s.context.span_id: s for s in spans}
    found = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        found.append(span)
    return found


def _system(span: ReadableSpan) -> Any:
    attributes = span.attributes or {}
    return attributes.get("db.system.name", attributes.get("db.system"))


def _get_balance(api: ServiceServer, path: str, headers: dict[str, str]) -> None:
    with api.client() as client:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "header",
    [
        # API Gateway, with X-Ray tracing on.
        f"Root={ROOT};Parent={PARENT};Sampled=1",
        # The load balancer adds its own field in front.
        f"Self=1-67891234-12456789abcdef012345678;Root={ROOT};Parent={PARENT};Sampled=1",
    ],
)
def test_a_request_continues_the_x_ray_trace_with_database_and_cache_spans(
    traced_api: ServiceServer,
    ledger: Ledger,
    tracing: Tracing,
    exporter: InMemorySpanExporter,
    header: str,
) -> None:
    account = ledger.open_account(balance=500)
    _reset(tracing, exporter)
    path = f"/transfers/accounts/{account}/balance"
    _get_balance(traced_api, path, {"X-Amzn-Trace-Id": header})

    spans = _request_spans(tracing, exporter)
    [server] = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.name == "GET /transfers/accounts/{account_id}/balance"
    assert server.context.trace_id == TRACE_ID
    assert server.parent is not None
    assert server.parent.span_id == int(PARENT, 16)
    assert server.parent.is_remote
    assert server.resource.attributes["service.name"] == "transfers"
    database = [s for s in spans if _system(s) == "postgresql"]
    cache = [s for s in spans if _system(s) == "redis"]
    assert database, [s.name for s in spans]
    assert cache, [s.name for s in spans]
    for span in database + cache:
        assert span.kind == SpanKind.CLIENT
        assert span.context.trace_id == TRACE_ID
        assert server in _ancestors(span, spans), span.name


def test_a_w3c_traceparent_is_continued_too(
    traced_api: ServiceServer,
    ledger: Ledger,
    tracing: Tracing,
    exporter: InMemorySpanExporter,
) -> None:
    account = ledger.open_account()
    _reset(tracing, exporter)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    _get_balance(traced_api, f"/transfers/accounts/{account}/balance", headers)
    [server] = [s for s in _request_spans(tracing, exporter) if s.kind == SpanKind.SERVER]
    assert server.context.trace_id == int(trace_id, 16)


def test_the_callers_decision_not_to_sample_is_followed_and_health_checks_are_not_traced(
    traced_api: ServiceServer,
    ledger: Ledger,
    tracing: Tracing,
    exporter: InMemorySpanExporter,
) -> None:
    account = ledger.open_account()
    _reset(tracing, exporter)
    header = f"Root={ROOT};Parent={PARENT};Sampled=0"
    _get_balance(traced_api, f"/transfers/accounts/{account}/balance", {"X-Amzn-Trace-Id": header})
    assert traced_api.get("/health/live").status_code == 200
    # A sampled request after them: once its server span is in, theirs would be too.
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    _get_balance(traced_api, f"/transfers/accounts/{account}/balance", headers)
    spans = _request_spans(tracing, exporter)
    assert {span.context.trace_id for span in spans} == {int(trace_id, 16)}
    _reset(tracing, exporter)
    # Readiness makes no server span (its database check may start a trace of its own).
    assert traced_api.get("/health").status_code == 200
    assert [s for s in _spans(tracing, exporter) if s.kind == SpanKind.SERVER] == []


def test_a_trace_started_here_has_an_x_ray_trace_id(
    traced_api: ServiceServer,
    ledger: Ledger,
    tracing: Tracing,
    exporter: InMemorySpanExporter,
) -> None:
    """X-Ray ids start with the time in seconds (collectors before contrib v0.84 refuse
    others)."""
    account = ledger.open_account()
    _reset(tracing, exporter)
    before = int(time.time())
    _get_balance(traced_api, f"/transfers/accounts/{account}/balance", {})
    [server] = [s for s in _request_spans(tracing, exporter) if s.kind == SpanKind.SERVER]
    assert server.parent is None
    assert before - 1 <= server.context.trace_id >> 96 <= int(time.time()) + 1


def test_requests_succeed_while_the_collector_is_down(
    settings: Settings, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    environment = {**ENVIRONMENT, ENDPOINT: f"http://127.0.0.1:{free_port()}"}
    tracing = setup_tracing(environment, set_global=False)
    assert tracing is not None
    server = TracedServer(settings, tracing)
    server.start()
    try:
        account = ledger.open_account(balance=100)
        other = ledger.open_account()
        headers = {"X-Amzn-Trace-Id": f"Root={ROOT};Parent={PARENT};Sampled=1"}
        for amount in (10, 20, 30):
            with server.client() as client:
                response = client.post(
                    "/transfers",
                    json={
                        "from_account_id": str(account),
                        "to_account_id": str(other),
                        "amount_minor": amount,
                        "currency": "EUR",
                    },
                    headers={**headers, "Idempotency-Key": f"down-{amount}"},
                )
            assert response.status_code == 201, response.text
        assert server.balance(account) == 40
    finally:
        server.stop()
        started = time.monotonic()
        tracing.shutdown()  # the queued spans fail to export: logged, never raised
        assert time.monotonic() - started < 30
    ledger.assert_consistent()


def test_without_the_endpoint_nothing_is_installed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENDPOINT, raising=False)
    textmap = propagate.get_global_textmap()
    assert setup_tracing({}) is None
    assert setup_tracing({**ENVIRONMENT, "OTEL_SDK_DISABLED": "true"}) is None
    # The app as uvicorn builds it (configured from the environment) traces nothing.
    app = create_app(settings)
    try:
        assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
        assert propagate.get_global_textmap() is textmap
        assert not hasattr(psycopg.Connection.connect, "__wrapped__")
        assert app._telemetry.get("tracer_provider") is None
    finally:
        app.state.runtime.cache.close()


def test_the_caller_header_still_comes_first(
    traced_api: ServiceServer, exporter: InMemorySpanExporter
) -> None:
    """Tracing changes no answer: a request without the caller is 401 as ever."""
    with traced_api.client(caller=None) as client:
        response = client.get("/transfers/accounts/x/balance", headers=caller_headers(None))
    assert response.status_code == 401
