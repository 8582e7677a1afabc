"""Step Functions task: export one account's statement of one month (``export_statement.handler``).

Input ``{"account_id": "<uuid>", "month": "YYYY-MM"}`` (a UTC month that has ended; no
other field). Output ``{"bucket", "key", "entries", "written", "event", "message"}``:
the document ``s3://$EXPORT_BUCKET_NAME/statements/<account_id>/<month>.json``, its number
of entries, whether this call wrote it (False: it was there already, unchanged), the
``StatementExported`` v1 event announcing it, and ``message``, that event's JSON text, to
publish as is. See ``exports`` for the document and why a repeat gives the same event.

Errors the workflow can catch by name (``Error`` of the task's failure):

- ``InvalidExportRequest``: the input is malformed (never worth a retry);
- ``StatementNotFound``: the statements service knows nothing of the account;
- anything else (``ClientError``, ``Lambda.*``...) is a failure worth retrying.

Environment: ``TABLE_NAME`` (the statements table), ``EXPORT_BUCKET_NAME``,
``CONTRACTS_DIR`` (the contracts layer's ``/opt/events`` by default).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from exports import InvalidExportRequest, StatementExporter, StatementNotFound
from payments_shared.events import ContractRegistry
from statements import repository_from_env

__all__ = ["InvalidExportRequest", "StatementNotFound", "handler"]

logger = Logger()
contracts = ContractRegistry.from_env()


@functools.cache
def exporter() -> StatementExporter:
    """The exporter over the table and bucket of the environment, created on first use."""
    return StatementExporter(
        repository_from_env(),
        boto3.client("s3"),
        os.environ["EXPORT_BUCKET_NAME"],
        contracts,
    )


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``export_statement.handler``)."""
    try:
        export = exporter().export(event)
    except InvalidExportRequest as error:
        logger.warning("rejected export request", extra={"reason": str(error)})
        raise
    except StatementNotFound as error:
        logger.warning("nothing to export", extra={"reason": str(error)})
        raise
    logger.info(
        "statement exported",
        extra={
            "bucket": export.bucket,
            "key": export.key,
            "entries": export.entries,
            "written": export.written,
            "event_id": export.event.event_id,
        },
    )
    return export.to_json()
