"""STRIP_PATH_PREFIX: API Gateway's private integration sends its stage's name in front of
the path (``/api/transfers/...``); the service serves the same routes with and without it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from transfers_support import Ledger, ServiceServer

from transfers_service.edge import StripPathPrefix, stripped_prefix
from transfers_service.settings import Settings


@pytest.fixture
def prefixed(serve: Callable[..., ServiceServer], settings: Settings) -> ServiceServer:
    """The app with ``STRIP_PATH_PREFIX=/api``."""
    return serve(Settings(**{**settings.__dict__, "strip_path_prefix": "/api"}))


def _transfer_body(source: uuid.UUID, target: uuid.UUID, amount: int) -> dict[str, Any]:
    return {
        "from_account_id": str(source),
        "to_account_id": str(target),
        "amount_minor": amount,
        "currency": "EUR",
    }


def test_with_the_prefix_every_route_answers_with_and_without_it(
    prefixed: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()

    for prefix in ("/api", ""):
        transfer = prefixed.post(
            f"{prefix}/transfers", _transfer_body(alice, bob, 100), key=str(uuid.uuid4())
        )
        assert transfer.status_code == 201, transfer.text
        transfer_id = transfer.json()["transfer_id"]
        # The client can follow Location: it has the prefix the request came with.
        assert transfer.headers["Location"] == f"{prefix}/transfers/{transfer_id}"
        fetched = prefixed.get(f"{prefix}/transfers/{transfer_id}")
        assert (fetched.status_code, fetched.json()) == (200, transfer.json())
        deposit = prefixed.post(
            f"{prefix}/transfers/accounts/{bob}/deposits",
            {"amount_minor": 5, "currency": "EUR"},
            key=str(uuid.uuid4()),
        )
        assert deposit.status_code == 201, deposit.text
        assert deposit.headers["Location"] == f"{prefix}/transfers/{deposit.json()['transfer_id']}"
        balance = prefixed.get(f"{prefix}/transfers/accounts/{alice}/balance")
        assert balance.status_code == 200, balance.text
        assert prefixed.get(f"{prefix}/health").json() == {"status": "ok"}
        assert prefixed.get(f"{prefix}/health/live").status_code == 200

    assert (ledger.balance(alice), ledger.balance(bob)) == (800, 210)
    ledger.assert_consistent()


@pytest.mark.parametrize(
    "path",
    [
        "/apix/transfers/{transfer}",  # the prefix is a whole segment, not a string prefix
        "/ap/transfers/{transfer}",
        "/api/api/transfers/{transfer}",  # removed once only
        "/transfers/api/{transfer}",  # only at the start
        "/api",  # the prefix alone is the root, which is no route
        "/api/",
    ],
)
def test_only_the_prefix_as_a_leading_path_segment_is_removed(
    prefixed: ServiceServer, ledger: Ledger, path: str
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    transfer = prefixed.transfer(alice, bob, 1)
    assert transfer.status_code == 201, transfer.text
    assert prefixed.get(f"/api/transfers/{transfer.json()['transfer_id']}").status_code == 200

    response = prefixed.get(path.format(transfer=transfer.json()["transfer_id"]))

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


def test_without_the_setting_the_prefix_is_not_removed(api: ServiceServer, ledger: Ledger) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    transfer = api.transfer(alice, bob, 1)
    assert transfer.headers["Location"] == f"/transfers/{transfer.json()['transfer_id']}"

    for response in (
        api.get(f"/api/transfers/{transfer.json()['transfer_id']}"),
        api.get("/api/health/live"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


async def _through_middleware(prefix: str, path: str, raw_path: bytes) -> dict[str, Any]:
    """The scope the app behind ``StripPathPrefix(prefix=prefix)`` sees for ``path``."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "path": path, "raw_path": raw_path, "query_string": b"a=1"}
    await StripPathPrefix(app, prefix=prefix)(scope, receive, send)
    assert scope["path"] == path  # the caller's scope is left alone
    return seen


@pytest.mark.parametrize(
    ("path", "raw_path", "expected_path", "expected_raw_path", "prefix"),
    [
        ("/api/transfers/x", b"/api/transfers/x", "/transfers/x", b"/transfers/x", "/api"),
        ("/api", b"/api", "/", b"/", "/api"),
        ("/api/", b"/api/", "/", b"/", "/api"),
        ("/api/a b", b"/api/a%20b", "/a b", b"/a%20b", "/api"),
        ("/apix", b"/apix", "/apix", b"/apix", ""),
        ("/health/live", b"/health/live", "/health/live", b"/health/live", ""),
        ("/x/api/y", b"/x/api/y", "/x/api/y", b"/x/api/y", ""),
    ],
)
def test_the_middleware_rewrites_path_and_raw_path(
    path: str,
    raw_path: bytes,
    expected_path: str,
    expected_raw_path: bytes,
    prefix: str,
) -> None:
    seen = asyncio.run(_through_middleware("/api", path, raw_path))

    assert (seen["path"], seen["raw_path"], seen["query_string"]) == (
        expected_path,
        expected_raw_path,
        b"a=1",
    )
    assert stripped_prefix(seen) == prefix


async def _never(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


@pytest.mark.parametrize("prefix", ["", "api", "/", "/api/", "/a/b"])
def test_the_middleware_refuses_a_prefix_that_is_not_one_segment(prefix: str) -> None:
    with pytest.raises(ValueError, match="one path segment"):
        StripPathPrefix(_never, prefix=prefix)
