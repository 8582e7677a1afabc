-- The double-entry ledger.
--
-- accounts: every account the service knows, from AccountOpened ('customer'), plus one
-- 'funding' account per currency standing for the world outside the ledger that deposits
-- come from. balance_minor is the sum of the account's entries, kept in the same
-- transaction as the entries; a customer account can never go below zero.
CREATE TABLE accounts (
    account_id      uuid PRIMARY KEY,
    kind            text NOT NULL DEFAULT 'customer' CHECK (kind IN ('customer', 'funding')),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance_minor   bigint NOT NULL DEFAULT 0,
    opened_at       timestamptz,
    opened_event_id uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_never_overdrawn CHECK (kind = 'funding' OR balance_minor >= 0)
);
CREATE UNIQUE INDEX accounts_one_funding_account_per_currency
    ON accounts (currency) WHERE kind = 'funding';

-- transfers: one row per movement of money, a transfer between two customer accounts or a
-- deposit from the currency's funding account.
CREATE TABLE transfers (
    transfer_id     uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('transfer', 'deposit')),
    from_account_id uuid NOT NULL REFERENCES accounts (account_id),
    to_account_id   uuid NOT NULL REFERENCES accounts (account_id),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        text NOT NULL,
    completed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT transfers_between_two_accounts CHECK (from_account_id <> to_account_id)
);
CREATE INDEX transfers_by_from_account ON transfers (from_account_id);
CREATE INDEX transfers_by_to_account ON transfers (to_account_id);

-- ledger_entries: a debit (negative) and a credit (positive) per transfer. Append-only.
CREATE TABLE ledger_entries (
    entry_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id  uuid NOT NULL REFERENCES transfers (transfer_id),
    account_id   uuid NOT NULL REFERENCES accounts (account_id),
    amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
    currency     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (transfer_id, account_id)
);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, entry_id);

-- Each transfer's entries sum to zero: checked at commit, whichever code wrote them.
CREATE FUNCTION ledger_transfer_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT sum(amount_minor) FROM ledger_entries WHERE transfer_id = NEW.transfer_id) <> 0 THEN
        RAISE EXCEPTION 'ledger entries of transfer % do not sum to zero', NEW.transfer_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_transfer_balanced();

CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- idempotency_keys: the first successful response to each Idempotency-Key, written in the
-- transaction of the transfer it created. request_fingerprint tells a retry (same request)
-- from a reuse of the key for another request.
CREATE TABLE idempotency_keys (
    scope               text NOT NULL,
    idempotency_key     text NOT NULL,
    request_fingerprint text NOT NULL,
    status_code         smallint NOT NULL,
    response_body       json NOT NULL,
    transfer_id         uuid NOT NULL REFERENCES transfers (transfer_id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, idempotency_key)
);

-- outbox: events to publish, written in the transaction of the change they announce and
-- published afterwards (at least once) by the outbox publisher.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL,
    event_version   integer NOT NULL,
    message         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    sns_message_id  text
);
CREATE INDEX outbox_unsent ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;
