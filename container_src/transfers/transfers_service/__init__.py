"""The transfers service: a double-entry ledger behind an HTTP API.

Money moves between accounts that the service learned of from ``AccountOpened`` events;
each committed transfer is announced as ``TransferCompleted``, each committed deposit as
``DepositCompleted``, through a transactional outbox. Modules, from the bottom up:
``settings`` (environment), ``events`` (contracts), ``db`` (pool and migrations),
``ledger`` (accounts, transfers, entries), ``idempotency``, ``outbox`` (publisher),
``consumer`` (AccountOpened), ``cache`` (balances in Redis), ``service`` (the use cases,
no HTTP), ``edge`` (the caller header API Gateway sets, and its stage prefix) and ``app``
(FastAPI routes and the app factory). Customers reach it through API Gateway, which
authenticates them; each is served only the accounts AccountOpened says they own.
"""
