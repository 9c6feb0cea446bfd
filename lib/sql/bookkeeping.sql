-- duroxide-pg migration bookkeeping (contract §11.4).
--
-- Template: every object is qualified with the placeholder __SCHEMA__, which the C++ side replaces
-- with the quoted schema identifier (e.g. "my_schema") before execution. Run it (idempotent) after
-- creating the schema and while holding the per-schema session advisory lock, before applying any
-- migration. No server clock is used: applied_at is the application clock in epoch milliseconds,
-- written explicitly by the migration runner.
CREATE TABLE IF NOT EXISTS __SCHEMA__._duroxide_migrations (
    version    integer PRIMARY KEY CHECK (version > 0),
    name       text    NOT NULL,
    checksum   text    NOT NULL,   -- hex SHA-256 of the unsubstituted template text of the migration
    applied_at bigint  NOT NULL    -- epoch ms, application clock
);
