-- Who owns each customer account: the Cognito sub of AccountOpened's data.owner_sub.
--
-- Customer routes serve only the accounts their caller (X-Caller-Sub) owns. Accounts
-- recorded before this migration have no owner (NULL) until their AccountOpened is
-- delivered again, which fills it in; an account without an owner is owned by nobody.
-- Funding accounts never have one. Once set, an owner never changes: the consumer only
-- fills a NULL owner, and the trigger below refuses any other change, whoever writes.
ALTER TABLE accounts
    ADD COLUMN owner_sub text,
    ADD CONSTRAINT accounts_owner_sub_length CHECK (length(owner_sub) BETWEEN 1 AND 128),
    ADD CONSTRAINT accounts_funding_has_no_owner CHECK (kind = 'customer' OR owner_sub IS NULL);

CREATE FUNCTION accounts_owner_never_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.owner_sub IS NOT NULL AND NEW.owner_sub IS DISTINCT FROM OLD.owner_sub THEN
        RAISE EXCEPTION 'the owner of account % never changes', OLD.account_id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER accounts_owner_never_changes
    BEFORE UPDATE OF owner_sub ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_owner_never_changes();
