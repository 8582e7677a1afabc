-- The correlation id of the request that queued each event (its X-Correlation-Id, or the id
-- the service made for it), published with the event as the SNS message attribute
-- correlation_id, so that the consumers' logs name the request that caused it.
--
-- Rows queued before have none (NULL) and are published without the attribute, as events
-- queued by code that knows of no request. An id is 1 to 64 of A-Z a-z 0-9 . _ -, as the
-- service accepts them (anything else never reaches SNS).
ALTER TABLE outbox
    ADD COLUMN correlation_id text,
    ADD CONSTRAINT outbox_correlation_id_format
        CHECK (correlation_id ~ '^[A-Za-z0-9._-]{1,64}$');
