-- Idempotency keys belong to their caller (X-Caller-Sub): the same key sent by two callers
-- is two requests, and a caller is never answered with another caller's stored response.
-- So a key is looked up, and unique, per caller, scope and key.
--
-- Keys recorded before have no caller (NULL): no caller's lookup matches them, so they are
-- never replayed to anyone (a retry of such a request now is a new request); they stay for
-- the record. Every key recorded from now on must name its caller: the CHECK is NOT VALID,
-- enforced for new rows only, not for the keys recorded before.
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD COLUMN caller_sub text,
    ADD CONSTRAINT idempotency_keys_caller_sub_length
        CHECK (length(caller_sub) BETWEEN 1 AND 128);
ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_name_their_caller CHECK (caller_sub IS NOT NULL) NOT VALID;
CREATE UNIQUE INDEX idempotency_keys_per_caller
    ON idempotency_keys (caller_sub, scope, idempotency_key);
