"""A fake Amazon SNS endpoint that records what is published, for the load and fault runs.

It speaks the part of SNS's Query protocol (form-encoded ``POST /``, XML answers) that the
transfers service's outbox publisher uses: ``Publish`` and ``PublishBatch`` to one topic.
boto3 reaches it through ``AWS_ENDPOINT_URL_SNS``. Every accepted message is kept in
memory with its message id, body and attributes; ``GET /_fake/messages`` answers them as a
JSON list (``?since=N``: from the N-th on). A publish to another topic is answered
``NotFound`` as SNS does, and a batch of more than 10 entries or with repeated ids
``TooManyEntriesInBatchRequest`` / ``BatchEntryIdsNotDistinct`` (the SNS API reference's
limits), so that a publisher relying on more than SNS allows fails here too.

Run it as a process of its own (the load client and the service keep their cores):
``python -m tools.fake_sns --port P --topic-arn ARN``; it prints ``ready`` when it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import uuid
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
MAX_BATCH_ENTRIES = 10


@dataclass
class Published:
    """One message SNS accepted."""

    message_id: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)


class SnsError(Exception):
    """An SNS error answer: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class FakeTopic:
    """The one topic's accepted messages."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn
        self._lock = threading.Lock()
        self._messages: list[Published] = []

    def messages(self, since: int = 0) -> list[Published]:
        with self._lock:
            return self._messages[since:]

    def handle(self, params: dict[str, str]) -> tuple[str, str]:
        """The action's name and its result XML, or :class:`SnsError`."""
        action = params.get("Action", "")
        if action not in ("Publish", "PublishBatch"):
            raise SnsError(400, "InvalidAction", f"the fake supports Publish(Batch), not {action}")
        if params.get("TopicArn") != self.topic_arn:
            raise SnsError(404, "NotFound", "Topic does not exist")
        if action == "Publish":
            message_id = self._accept(params, "")
            return action, f"<MessageId>{message_id}</MessageId>"
        entries = _members(params, "PublishBatchRequestEntries.member.")
        if len(entries) > MAX_BATCH_ENTRIES:
            raise SnsError(400, "TooManyEntriesInBatchRequest", "at most 10 entries")
        ids = [params.get(f"{prefix}Id", "") for prefix in entries]
        if len(set(ids)) != len(ids):
            raise SnsError(400, "BatchEntryIdsNotDistinct", "entry ids must be distinct")
        successful = "".join(
            f"<member><Id>{escape(entry_id)}</Id>"
            f"<MessageId>{self._accept(params, prefix)}</MessageId></member>"
            for entry_id, prefix in zip(ids, entries, strict=True)
        )
        return action, f"<Successful>{successful}</Successful><Failed/>"

    def _accept(self, params: dict[str, str], prefix: str) -> str:
        if f"{prefix}Message" not in params:
            raise SnsError(400, "InvalidParameter", "Message is required")
        attributes: dict[str, str] = {}
        for entry in _members(params, f"{prefix}MessageAttributes.entry."):
            name = params.get(f"{entry}Name", "")
            attributes[name] = params.get(f"{entry}Value.StringValue", "")
        published = Published(str(uuid.uuid4()), params[f"{prefix}Message"], attributes)
        with self._lock:
            self._messages.append(published)
        return published.message_id


def _members(params: dict[str, str], prefix: str) -> list[str]:
    """The prefixes ``<prefix>1.``, ``<prefix>2.``, ... present in ``params``, in order."""
    found: list[str] = []
    while any(key.startswith(f"{prefix}{len(found) + 1}.") for key in params):
        found.append(f"{prefix}{len(found) + 1}.")
    return found


def make_server(port: int, topic: FakeTopic) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:``port`` answering for ``topic``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
        # holds the body until the client's delayed ACK, 40 ms per call on Linux.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return None

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/_fake/messages":
                self._send(404, b"{}", "application/json")
                return
            since = int(parse_qs(url.query).get("since", ["0"])[0])
            body = json.dumps([asdict(m) for m in topic.messages(since)]).encode()
            self._send(200, body, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            params = {key: values[0] for key, values in form.items()}
            request_id = str(uuid.uuid4())
            try:
                action, result = topic.handle(params)
            except SnsError as error:
                body = (
                    f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
                    f"<Code>{error.code}</Code><Message>{escape(str(error))}</Message></Error>"
                    f"<RequestId>{request_id}</RequestId></ErrorResponse>"
                )
                self._send(error.status, body.encode(), "text/xml")
                return
            body = (
                f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{result}'
                f"</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId>"
                f"</ResponseMetadata></{action}Response>"
            )
            self._send(200, body.encode(), "text/xml")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic-arn", required=True)
    args = parser.parse_args(argv)
    server = make_server(args.port, FakeTopic(args.topic_arn))
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
