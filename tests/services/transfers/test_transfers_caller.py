"""Who calls: every customer route needs the X-Caller-Sub header API Gateway sets."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from transfers_support import CALLER_HEADER, Ledger, ServiceServer

Request = Callable[[httpx.Client, uuid.UUID, uuid.UUID], httpx.Response]

# Each customer route, called with an account of the default caller's and a second one.
CUSTOMER_ROUTES: dict[str, Request] = {
    "POST /transfers": lambda client, alice, bob: client.post(
        "/transfers",
        json={
            "from_account_id": str(alice),
            "to_account_id": str(bob),
            "amount_minor": 10,
            "currency": "EUR",
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    ),
    "GET /transfers/{transfer_id}": lambda client, alice, bob: client.get(
        f"/transfers/{uuid.uuid4()}"
    ),
    "POST /transfers/accounts/{account_id}/deposits": lambda client, alice, bob: client.post(
        f"/transfers/accounts/{alice}/deposits",
        json={"amount_minor": 10, "currency": "EUR"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    ),
    "GET /transfers/accounts/{account_id}/balance": lambda client, alice, bob: client.get(
        f"/transfers/accounts/{alice}/balance"
    ),
}


@pytest.mark.parametrize("route", sorted(CUSTOMER_ROUTES))
@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(CALLER_HEADER, "")],
        [(CALLER_HEADER, "x" * 129)],
        [(CALLER_HEADER, "a"), (CALLER_HEADER, "b")],
    ],
    ids=["missing", "empty", "too-long", "repeated"],
)
def test_customer_routes_without_one_valid_caller_are_401_and_write_nothing(
    api: ServiceServer, ledger: Ledger, route: str, headers: list[tuple[str, str]]
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    before = ledger.counts()

    with httpx.Client(base_url=api.base_url, timeout=30, headers=headers) as client:
        response = CUSTOMER_ROUTES[route](client, alice, bob)

    assert response.status_code == 401, response.text
    assert response.json() == {"message": response.json()["message"], "code": "unauthenticated"}
    assert CALLER_HEADER in response.json()["message"]
    assert ledger.counts() == before


def test_the_caller_is_checked_before_the_key_and_the_body(api: ServiceServer) -> None:
    with api.client(caller=None) as client:
        response = client.post("/transfers", content=b"{not json")

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"


def test_a_caller_of_128_characters_is_one(api: ServiceServer) -> None:
    response = api.get(f"/transfers/{uuid.uuid4()}", caller="x" * 128)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "transfer_not_found"


def test_health_and_the_api_document_need_no_caller(api: ServiceServer) -> None:
    for path in ("/health", "/health/live", "/openapi.json"):
        assert api.get(path, caller=None).status_code == 200, path


def test_openapi_documents_the_caller_header_and_401_on_customer_routes(
    api: ServiceServer,
) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    for route in CUSTOMER_ROUTES:
        method, path = route.split(" ")
        operation = paths[path][method.lower()]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert CALLER_HEADER in headers, route
        assert "401" in operation["responses"], route
    for path in ("/health", "/health/live"):
        operation = paths[path]["get"]
        assert "401" not in operation["responses"]
        assert CALLER_HEADER not in [p["name"] for p in operation.get("parameters", [])]
