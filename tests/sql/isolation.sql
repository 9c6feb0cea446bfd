-- tests/sql/isolation.sql — two schemas in one database do not see each other.
-- Template: __SCHEMA__ and __SCHEMA2__ are replaced by two quoted schema identifiers.
\set ON_ERROR_STOP 1
SET client_min_messages = notice;

CREATE FUNCTION pg_temp.eq(p_actual anyelement, p_expected anyelement, p_what text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_actual IS DISTINCT FROM p_expected THEN
        RAISE EXCEPTION 'ASSERTION FAILED: %: expected <%>, got <%>', p_what, p_expected, p_actual;
    END IF;
END $$;

DO $$
DECLARE
    T bigint := 1700000000000;
    start_x text := '{"StartOrchestration":{"instance":"same-id","orchestration":"OrchA","input":"{}","version":"1.0.0","parent_instance":null,"parent_id":null,"execution_id":1}}';
    start_y text := '{"StartOrchestration":{"instance":"Y","orchestration":"OrchB","input":"{}","version":"1.0.0","parent_instance":null,"parent_id":null,"execution_id":1}}';
    tok1 text;
    tok2 text;
    inst text;
BEGIN
    PERFORM __SCHEMA__.enqueue_for_orchestrator(T, 'same-id', 'StartOrchestration', start_x);
    PERFORM __SCHEMA2__.enqueue_for_orchestrator(T, 'same-id', 'StartOrchestration', start_x);
    PERFORM __SCHEMA2__.enqueue_for_orchestrator(T, 'Y', 'StartOrchestration', start_y);

    -- Same instance id locked in both schemas at once (advisory keys differ per schema).
    SELECT f.instance_id, f.lock_token INTO inst, tok1
      FROM __SCHEMA__.fetch_orchestration_item(T, 30000) f WHERE f.row_type = 'item';
    PERFORM pg_temp.eq(inst, 'same-id', 'schema 1 fetch');
    SELECT f.lock_token INTO tok2
      FROM __SCHEMA2__.fetch_orchestration_item(T, 30000) f WHERE f.row_type = 'item' AND f.instance_id = 'same-id';
    PERFORM pg_temp.eq(tok2 IS NOT NULL, true, 'schema 2 fetch of the same id is independent');
    PERFORM pg_temp.eq(__SCHEMA__.advisory_seed() <> __SCHEMA2__.advisory_seed(), true, 'distinct advisory seeds');

    PERFORM __SCHEMA__.ack_orchestration_item(T, tok1, 1, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', NULL, NULL,
        '{}', '{}', '{}', NULL, 'OrchA', '1.0.0', NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', '{}',
        false, NULL, '{}', '{}', '{}', '{}');
    PERFORM __SCHEMA2__.ack_orchestration_item(T, tok2, 1, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', NULL, NULL,
        '{}', '{}', '{}', NULL, 'OrchB', '1.0.0', NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', '{}',
        false, NULL, '{}', '{}', '{}', '{}');
    PERFORM pg_temp.eq((SELECT orchestration_name FROM __SCHEMA__.instances WHERE instance_id = 'same-id'), 'OrchA', 'schema 1 name');
    PERFORM pg_temp.eq((SELECT orchestration_name FROM __SCHEMA2__.instances WHERE instance_id = 'same-id'), 'OrchB', 'schema 2 name');

    -- Y exists only in schema 2; schema 1 never returns it.
    PERFORM pg_temp.eq((SELECT f.row_type FROM __SCHEMA__.fetch_orchestration_item(T, 30000) f), 'none', 'schema 1 sees nothing');
    PERFORM pg_temp.eq((SELECT f.instance_id FROM __SCHEMA2__.fetch_orchestration_item(T, 30000) f WHERE f.row_type = 'item'), 'Y', 'schema 2 sees Y');

    -- Tokens of one schema are unknown in the other.
    BEGIN
        PERFORM __SCHEMA__.renew_orchestration_item_lock(T, tok2, 1000);
        RAISE EXCEPTION 'ASSERTION FAILED: foreign token accepted';
    EXCEPTION WHEN SQLSTATE 'QD001' THEN NULL;
    END;
    RAISE NOTICE 'ok isolation';
END $$;
\echo isolation.sql: passed
