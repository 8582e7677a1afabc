-- Indexes for the cleanup job (transfers_service.cleanup), which removes idempotency keys
-- recorded before a cutoff and outbox rows published before a cutoff, oldest first, a
-- batch at a time. Without them each batch is a sequential scan and sort of the whole
-- table (the cost of one batch grows with the table, and a first run over a large table
-- makes as many full scans as it removes batches); with them a batch reads the index from
-- its start and stops after the batch's rows.
--
-- The outbox index holds published rows only: the publisher's own index (outbox_unsent)
-- holds the others, and a row moves from one to the other when it is sent.
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys (created_at);
CREATE INDEX outbox_sent_by_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
