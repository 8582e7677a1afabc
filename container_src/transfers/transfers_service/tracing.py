"""OpenTelemetry tracing, exported over OTLP to the collector beside the service (to X-Ray).

On only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (ContainerService sets it to its ADOT
collector sidecar, ``http://localhost:4318``); without it nothing is imported, installed or
exported (tests, local runs). ``OTEL_SDK_DISABLED=true`` turns it off as well.

What is traced: every HTTP request (a server span, by FastAPI's own OpenTelemetry support;
the health checks excepted), and within it every PostgreSQL statement (psycopg), every
Redis command (redis-py) and every AWS call (botocore: the outbox's SNS publishes, the
consumer's SQS polls, Secrets Manager). Background work (outbox, consumer) starts traces of
its own.

An incoming request continues its caller's trace. The propagators are
``OTEL_PROPAGATORS`` (default ``tracecontext,baggage,xray``): W3C ``traceparent`` and
``baggage``, then AWS's ``X-Amzn-Trace-Id`` (set by API Gateway when it traces, and by the
load balancer); when several are present the last one wins, so a request through API
Gateway hangs under API Gateway's segment in X-Ray. New trace ids are X-Ray ids (their
first 32 bits the time), which X-Ray accepts from any collector version.

Sampling follows ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (default
``parentbased_always_on``): with ContainerService's ``parentbased_traceidratio`` a request
follows its caller's decision (API Gateway's ``Sampled=1`` or ``0``), and a trace started
here is kept with the given probability.

Exporting never fails or slows a request: spans are queued and sent in batches by a
background thread (at most 2048 queued, the rest dropped); a collector that is down or
refuses costs a logged warning. The SDK is imported only when tracing is on (0.15 to 0.25 s
at startup on top of the app's own imports, measured on a busy 2-core machine).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

logger = logging.getLogger(__name__)

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
DEFAULT_SERVICE_NAME = "transfers"
DEFAULT_PROPAGATORS = "tracecontext,baggage,xray"
UNTRACED_PATHS = frozenset({"/health", "/health/live"})
"""The load balancer's and the container's health checks: a trace every few seconds per
task, of no use."""


@dataclass
class Tracing:
    """The service's tracing: a tracer provider and the instrumentations it installed."""

    provider: TracerProvider
    _undo: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def fastapi_telemetry(self) -> TelemetryConfig:
        """``FastAPI(telemetry=...)``: server spans to this provider; no metrics or logs
        (the collector exports traces only), no spans per dependency or serialization."""
        return {
            "tracer_provider": self.provider,
            "tracing": True,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
            "exclude": _untraced,
        }

    def shutdown(self) -> None:
        """Export what is queued (a few seconds at most), then remove the instrumentations."""
        try:
            self.provider.shutdown()
        except Exception:
            logger.warning("tracing: shutting down the tracer provider failed", exc_info=True)
        while self._undo:
            self._undo.pop()()


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def setup_tracing(
    environ: Mapping[str, str] = os.environ,
    *,
    exporter: SpanExporter | None = None,
    set_global: bool = True,
) -> Tracing | None:
    """Tracing as the environment asks (see the module); ``None`` when it is off.

    ``exporter`` replaces the OTLP exporter (tests: an in-memory one); ``set_global=False``
    leaves OpenTelemetry's global tracer provider alone (it can be set once per process).
    The propagators are always installed globally (FastAPI reads the global ones).
    """
    endpoint = environ.get(ENDPOINT, "").strip()
    if not endpoint or environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service_name = environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        sampler=_sampler(environ),
        id_generator=AwsXRayIdGenerator(),
        shutdown_on_exit=False,
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces", timeout=5)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracing = Tracing(provider)

    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator(_propagators(environ)))
    tracing._undo.append(lambda: propagate.set_global_textmap(previous))
    if set_global:
        trace.set_tracer_provider(provider)
    for name, instrumentor in _instrumentors():
        try:
            instrumentor.instrument(tracer_provider=provider)
        except Exception:
            # Tracing is never a reason not to serve.
            logger.warning("tracing: %s not instrumented", name, exc_info=True)
        else:
            tracing._undo.append(instrumentor.uninstrument)
    logger.info("tracing to %s as %r", endpoint, service_name)
    return tracing


def _instrumentors() -> list[tuple[str, Any]]:
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    return [
        ("psycopg", PsycopgInstrumentor()),
        ("redis", RedisInstrumentor()),
        ("botocore", BotocoreInstrumentor()),  # type: ignore[no-untyped-call]
    ]


def _propagators(environ: Mapping[str, str]) -> list[TextMapPropagator]:
    """The propagators named in ``OTEL_PROPAGATORS``, as the SDK finds them (entry points);
    an unknown name is logged and skipped."""
    names = environ.get("OTEL_PROPAGATORS", "").strip() or DEFAULT_PROPAGATORS
    found: list[TextMapPropagator] = []
    for name in (part.strip().lower() for part in names.split(",")):
        if not name or name == "none":
            continue
        matches = list(entry_points(group="opentelemetry_propagator", name=name))
        if not matches:
            logger.warning("tracing: unknown propagator %r in OTEL_PROPAGATORS, skipped", name)
            continue
        found.append(matches[0].load()())
    return found


def _sampler(environ: Mapping[str, str]) -> Sampler:
    from opentelemetry.sdk.trace import sampling

    name = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    argument = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    try:
        ratio = min(max(float(argument), 0.0), 1.0) if argument else 1.0
    except ValueError:
        logger.warning("tracing: OTEL_TRACES_SAMPLER_ARG %r is not a number, using 1", argument)
        ratio = 1.0
    samplers: dict[str, Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }
    if name not in samplers:
        logger.warning("tracing: unknown OTEL_TRACES_SAMPLER %r, using parentbased_always_on", name)
        name = "parentbased_always_on"
    return samplers[name]
