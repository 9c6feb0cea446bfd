-- tests/sql/core_functions.sql — scenario tests of the core stored functions.
-- Template: __SCHEMA__ is replaced by the quoted schema identifier (tests/sql/run.sh).
-- Every scenario starts from an empty store (pg_temp.reset()) and drives time explicitly through
-- p_now (a manual clock), so no test sleeps.
\set ON_ERROR_STOP 1
SET client_min_messages = notice;

-- ---------------------------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.eq(p_actual anyelement, p_expected anyelement, p_what text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_actual IS DISTINCT FROM p_expected THEN
        RAISE EXCEPTION 'ASSERTION FAILED: %: expected <%>, got <%>', p_what, p_expected, p_actual;
    END IF;
END $$;

CREATE FUNCTION pg_temp.ok(p_cond boolean, p_what text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_cond IS NOT TRUE THEN
        RAISE EXCEPTION 'ASSERTION FAILED: %', p_what;
    END IF;
END $$;

-- Runs p_sql and requires it to fail with p_state (and a message containing p_contains).
-- The failed statement is rolled back (subtransaction), exactly like a failed provider call.
CREATE FUNCTION pg_temp.expect_error(p_sql text, p_state text, p_contains text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg   text;
BEGIN
    BEGIN
        EXECUTE p_sql;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
        IF v_state <> p_state THEN
            RAISE EXCEPTION 'ASSERTION FAILED: expected SQLSTATE % but got % (%) for: %',
                p_state, v_state, v_msg, p_sql;
        END IF;
        IF p_contains IS NOT NULL AND position(p_contains IN v_msg) = 0 THEN
            RAISE EXCEPTION 'ASSERTION FAILED: message <%> lacks <%>', v_msg, p_contains;
        END IF;
        RETURN;
    END;
    RAISE EXCEPTION 'ASSERTION FAILED: expected SQLSTATE % but it succeeded: %', p_state, p_sql;
END $$;

CREATE FUNCTION pg_temp.reset() RETURNS void LANGUAGE sql AS $$
    TRUNCATE __SCHEMA__.instances, __SCHEMA__.executions, __SCHEMA__.history,
             __SCHEMA__.orchestrator_queue, __SCHEMA__.worker_queue, __SCHEMA__.instance_locks,
             __SCHEMA__.sessions, __SCHEMA__.kv_store, __SCHEMA__.kv_delta,
             __SCHEMA__.committed_tokens
    RESTART IDENTITY;
$$;

-- JSON builders (compact wire format of contract §3.6).
CREATE FUNCTION pg_temp.j(p_s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_s IS NULL THEN 'null' ELSE to_json(p_s)::text END $$;

CREATE FUNCTION pg_temp.start(p_inst text, p_orch text DEFAULT 'Proc', p_version text DEFAULT NULL,
                              p_exec bigint DEFAULT 1, p_parent text DEFAULT NULL)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"StartOrchestration":{"instance":%s,"orchestration":%s,"input":"{}","version":%s,"parent_instance":%s,"parent_id":null,"execution_id":%s}}',
                  pg_temp.j(p_inst), pg_temp.j(p_orch), pg_temp.j(p_version), pg_temp.j(p_parent), p_exec) $$;

CREATE FUNCTION pg_temp.ext(p_inst text, p_name text, p_data text DEFAULT 'd')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"ExternalRaised":{"instance":%s,"name":%s,"data":%s}}',
                  pg_temp.j(p_inst), pg_temp.j(p_name), pg_temp.j(p_data)) $$;

CREATE FUNCTION pg_temp.qmsg(p_inst text, p_name text, p_data text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"QueueMessage":{"instance":%s,"name":%s,"data":%s}}',
                  pg_temp.j(p_inst), pg_temp.j(p_name), pg_temp.j(p_data)) $$;

CREATE FUNCTION pg_temp.cancel(p_inst text, p_reason text DEFAULT 'r')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"CancelInstance":{"instance":%s,"reason":%s}}', pg_temp.j(p_inst), pg_temp.j(p_reason)) $$;

CREATE FUNCTION pg_temp.act(p_inst text, p_exec bigint, p_id bigint, p_name text DEFAULT 'A',
                            p_session text DEFAULT NULL, p_tag text DEFAULT NULL)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"ActivityExecute":{"instance":%s,"execution_id":%s,"id":%s,"name":%s,"input":"in"%s%s}}',
                  pg_temp.j(p_inst), p_exec, p_id, pg_temp.j(p_name),
                  CASE WHEN p_session IS NOT NULL THEN ',"session_id":' || pg_temp.j(p_session) ELSE '' END,
                  CASE WHEN p_tag IS NOT NULL THEN ',"tag":' || pg_temp.j(p_tag) ELSE '' END) $$;

CREATE FUNCTION pg_temp.done(p_inst text, p_exec bigint, p_id bigint, p_result text DEFAULT 'ok')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"ActivityCompleted":{"instance":%s,"execution_id":%s,"id":%s,"result":%s}}',
                  pg_temp.j(p_inst), p_exec, p_id, pg_temp.j(p_result)) $$;

CREATE FUNCTION pg_temp.timer(p_inst text, p_exec bigint, p_id bigint, p_fire bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"TimerFired":{"instance":%s,"execution_id":%s,"id":%s,"fire_at_ms":%s}}',
                  pg_temp.j(p_inst), p_exec, p_id, p_fire) $$;

CREATE FUNCTION pg_temp.can(p_inst text, p_input text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"ContinueAsNew":{"instance":%s,"orchestration":"Proc","input":%s,"version":null,"carry_forward_events":[]}}',
                  pg_temp.j(p_inst), pg_temp.j(p_input)) $$;

CREATE FUNCTION pg_temp.ev(p_inst text, p_exec bigint, p_id bigint, p_type text, p_fields text DEFAULT '')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"event_id":%s,"source_event_id":null,"instance_id":%s,"execution_id":%s,"timestamp_ms":0,"duroxide_version":"0.1.26","type":"%s"%s}',
                  p_id, pg_temp.j(p_inst), p_exec, p_type, p_fields) $$;

CREATE FUNCTION pg_temp.started(p_inst text, p_exec bigint DEFAULT 1, p_name text DEFAULT 'Proc',
                                p_version text DEFAULT '1.0.0', p_input text DEFAULT '{}')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.ev(p_inst, p_exec, 1, 'OrchestrationStarted',
        format(',"name":%s,"version":%s,"input":%s,"parent_instance":null,"parent_id":null',
               pg_temp.j(p_name), pg_temp.j(p_version), pg_temp.j(p_input))) $$;

-- UTF-8 bytes of p_s with U+0001 standing for U+0000.
CREATE FUNCTION pg_temp.nul_bytes(p_s text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(CASE WHEN c = chr(1) THEN '\x00'::bytea ELSE convert_to(c, 'UTF8') END,
                               ''::bytea ORDER BY i), CASE WHEN p_s IS NOT NULL THEN ''::bytea END)
      FROM regexp_split_to_table(p_s, '') WITH ORDINALITY AS t(c, i) $$;

-- Variant name as the C++ side knows it (tests derive it from the JSON).
CREATE FUNCTION pg_temp.kind(p_item text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT k FROM jsonb_object_keys(p_item::jsonb) AS k LIMIT 1 $$;

-- Provider calls ---------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.eo(p_now bigint, p_item text, p_delay bigint DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$
    SELECT __SCHEMA__.enqueue_for_orchestrator(p_now,
        coalesce(p_item::jsonb -> pg_temp.kind(p_item) ->> 'instance',
                 p_item::jsonb -> pg_temp.kind(p_item) ->> 'parent_instance'),
        pg_temp.kind(p_item), p_item, p_delay, 'test_orch') $$;

CREATE FUNCTION pg_temp.ew(p_now bigint, p_item text) RETURNS bigint LANGUAGE sql AS $$
    SELECT __SCHEMA__.enqueue_for_worker(p_now, pg_temp.kind(p_item), p_item,
        p_item::jsonb -> pg_temp.kind(p_item) ->> 'instance',
        (p_item::jsonb -> pg_temp.kind(p_item) ->> 'execution_id')::bigint,
        (p_item::jsonb -> pg_temp.kind(p_item) ->> 'id')::bigint,
        p_item::jsonb -> pg_temp.kind(p_item) ->> 'session_id',
        p_item::jsonb -> pg_temp.kind(p_item) ->> 'tag', 'test_work') $$;

CREATE TYPE pg_temp.fo_result AS (
    found boolean, instance text, exec bigint, name text, version text, source text, token text,
    attempt integer, meta_id bigint, messages text[], message_ids bigint[], history text[],
    kv_keys text[], kv_values text[], next_wake bigint);

CREATE FUNCTION pg_temp.fo(p_now bigint, p_lt bigint DEFAULT 30000, p_ranges bigint[] DEFAULT NULL,
                           p_reject_token text DEFAULT NULL, p_reject_ids bigint[] DEFAULT NULL)
RETURNS pg_temp.fo_result LANGUAGE sql AS $$
    WITH r AS MATERIALIZED (
        SELECT f.*
          FROM __SCHEMA__.fetch_orchestration_item(p_now, p_lt, p_ranges, NULL, p_reject_token,
                                                   p_reject_ids, 1000, 60000, 1000, 60000,
                                                   'test_orch')
               WITH ORDINALITY AS f(row_type, instance_id, execution_id, orchestration_name,
                                    orchestration_version, meta_source, lock_token, attempt_count,
                                    seq, body, kv_value, kv_updated_at, next_wake_at, n))
    SELECT ROW(EXISTS (SELECT 1 FROM r WHERE row_type = 'item'),
               (SELECT instance_id FROM r WHERE row_type = 'item'),
               (SELECT execution_id FROM r WHERE row_type = 'item'),
               (SELECT orchestration_name FROM r WHERE row_type = 'item'),
               (SELECT orchestration_version FROM r WHERE row_type = 'item'),
               (SELECT meta_source FROM r WHERE row_type = 'item'),
               (SELECT lock_token FROM r WHERE row_type = 'item'),
               (SELECT attempt_count FROM r WHERE row_type = 'item'),
               (SELECT seq FROM r WHERE row_type = 'item'),
               (SELECT array_agg(body ORDER BY n) FROM r WHERE row_type = 'message'),
               (SELECT array_agg(seq ORDER BY n) FROM r WHERE row_type = 'message'),
               (SELECT array_agg(body ORDER BY n) FROM r WHERE row_type = 'history'),
               (SELECT array_agg(body ORDER BY n) FROM r WHERE row_type = 'kv'),
               (SELECT array_agg(convert_from(kv_value, 'UTF8') ORDER BY n) FROM r WHERE row_type = 'kv'),
               (SELECT next_wake_at FROM r WHERE row_type = 'none'))::pg_temp.fo_result $$;

-- Acks: derives every pre-extracted parameter from the JSON the way the C++ side will.
CREATE FUNCTION pg_temp.ao(p_now bigint, p_token text, p_exec bigint,
                           p_events text[] DEFAULT '{}', p_worker text[] DEFAULT '{}',
                           p_orch text[] DEFAULT '{}', p_name text DEFAULT NULL,
                           p_version text DEFAULT NULL, p_status text DEFAULT NULL,
                           p_output text DEFAULT NULL, p_parent text DEFAULT NULL,
                           p_pinned bigint[] DEFAULT NULL, p_cancel text[] DEFAULT '{}',
                           p_retry boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_cs_set boolean;
    v_cs     bytea;
    v_ops    text[];
    v_keys   text[];
    v_vals   bytea[];
    v_ts     bigint[];
    v_ev     text[];
BEGIN
    -- (jsonb cannot hold U+0000: extraction maps \u0000 to U+0001; the C++ codec needs no trick)
    v_ev := ARRAY(SELECT replace(e, '\u0000', '\u0001') FROM unnest(p_events) WITH ORDINALITY u(e, o) ORDER BY o);
    SELECT true, pg_temp.nul_bytes(e::jsonb ->> 'status') INTO v_cs_set, v_cs
      FROM unnest(v_ev) WITH ORDINALITY AS u(e, o)
     WHERE e::jsonb ->> 'type' = 'CustomStatusUpdated'
     ORDER BY o DESC LIMIT 1;
    SELECT array_agg(CASE e::jsonb ->> 'type' WHEN 'KeyValueSet' THEN 'set'
                          WHEN 'KeyValueCleared' THEN 'clear' ELSE 'clear_all' END ORDER BY o),
           array_agg(e::jsonb ->> 'key' ORDER BY o),
           array_agg(pg_temp.nul_bytes(e::jsonb ->> 'value') ORDER BY o),
           array_agg((e::jsonb ->> 'last_updated_at_ms')::bigint ORDER BY o)
      INTO v_ops, v_keys, v_vals, v_ts
      FROM unnest(v_ev) WITH ORDINALITY AS u(e, o)
     WHERE e::jsonb ->> 'type' IN ('KeyValueSet', 'KeyValueCleared', 'KeyValuesCleared');
    RETURN (__SCHEMA__.ack_orchestration_item(
        p_now, p_token, p_exec,
        ARRAY(SELECT (e::jsonb ->> 'event_id')::bigint FROM unnest(v_ev) WITH ORDINALITY u(e, o) ORDER BY o),
        ARRAY(SELECT e::jsonb ->> 'type' FROM unnest(v_ev) WITH ORDINALITY u(e, o) ORDER BY o),
        p_events,
        ARRAY(SELECT pg_temp.kind(x) FROM unnest(p_worker) WITH ORDINALITY u(x, o) ORDER BY o),
        p_worker,
        ARRAY(SELECT x::jsonb -> pg_temp.kind(x) ->> 'instance' FROM unnest(p_worker) WITH ORDINALITY u(x, o) ORDER BY o),
        ARRAY(SELECT (x::jsonb -> pg_temp.kind(x) ->> 'execution_id')::bigint FROM unnest(p_worker) WITH ORDINALITY u(x, o) ORDER BY o),
        ARRAY(SELECT (x::jsonb -> pg_temp.kind(x) ->> 'id')::bigint FROM unnest(p_worker) WITH ORDINALITY u(x, o) ORDER BY o),
        ARRAY(SELECT x::jsonb -> pg_temp.kind(x) ->> 'session_id' FROM unnest(p_worker) WITH ORDINALITY u(x, o) ORDER BY o),
        ARRAY(SELECT x::jsonb -> pg_temp.kind(x) ->> 'tag' FROM unnest(p_worker) WITH ORDINALITY u(x, o) ORDER BY o),
        ARRAY(SELECT pg_temp.kind(x) FROM unnest(p_orch) WITH ORDINALITY u(x, o) ORDER BY o),
        p_orch,
        ARRAY(SELECT coalesce(x::jsonb -> pg_temp.kind(x) ->> 'instance', x::jsonb -> pg_temp.kind(x) ->> 'parent_instance')
                FROM unnest(p_orch) WITH ORDINALITY u(x, o) ORDER BY o),
        ARRAY(SELECT (x::jsonb -> pg_temp.kind(x) ->> 'fire_at_ms')::bigint FROM unnest(p_orch) WITH ORDINALITY u(x, o) ORDER BY o),
        p_name, p_version, p_parent, p_status, convert_to(p_output, 'UTF8'),
        p_pinned[1], p_pinned[2], p_pinned[3],
        ARRAY(SELECT split_part(c, '|', 1) FROM unnest(p_cancel) WITH ORDINALITY u(c, o) ORDER BY o),
        ARRAY(SELECT split_part(c, '|', 2)::bigint FROM unnest(p_cancel) WITH ORDINALITY u(c, o) ORDER BY o),
        ARRAY(SELECT split_part(c, '|', 3)::bigint FROM unnest(p_cancel) WITH ORDINALITY u(c, o) ORDER BY o),
        coalesce(v_cs_set, false), v_cs,
        v_ops, v_keys, v_vals, v_ts,
        p_retry, 'test_orch', 'test_work')).applied;
END $$;

CREATE TYPE pg_temp.fw_result AS (found boolean, id bigint, item text, token text, attempt integer,
                                  next_wake bigint);

CREATE FUNCTION pg_temp.fw(p_now bigint, p_lt bigint DEFAULT 30000,
                           p_mode text DEFAULT 'default_only', p_tags text[] DEFAULT NULL,
                           p_owner text DEFAULT NULL, p_slt bigint DEFAULT 30000,
                           p_reject text DEFAULT NULL)
RETURNS pg_temp.fw_result LANGUAGE sql AS $$
    SELECT ROW(f.row_type = 'item', f.id, f.work_item, f.lock_token, f.attempt_count, f.next_wake_at)::pg_temp.fw_result
      FROM __SCHEMA__.fetch_work_item(p_now, p_lt, p_mode, p_tags, p_owner, p_slt, NULL, p_reject,
                                      1000, 60000, 'test_work') AS f $$;

CREATE FUNCTION pg_temp.act_id(p_item text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_item::jsonb -> 'ActivityExecute' ->> 'id')::bigint $$;

CREATE FUNCTION pg_temp.aw(p_now bigint, p_token text, p_completion text DEFAULT NULL,
                           p_retry boolean DEFAULT false)
RETURNS boolean LANGUAGE sql AS $$
    SELECT __SCHEMA__.ack_work_item(p_now, p_token, pg_temp.kind(p_completion), p_completion,
                                    p_completion::jsonb -> pg_temp.kind(p_completion) ->> 'instance',
                                    p_retry, 'test_orch') $$;

-- ---------------------------------------------------------------------------------------------
-- 1. Full cycle: start -> fetch -> ack with activities -> worker fetch/ack -> fetch -> complete
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
    w1 pg_temp.fw_result;
    w2 pg_temp.fw_result;
    e record;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A', 'Proc', '1.0.0'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.found, true, 'first fetch finds A');
    PERFORM pg_temp.eq(f.instance, 'A', 'instance');
    PERFORM pg_temp.eq(f.source, 'message', 'meta from the StartOrchestration (no rows yet)');
    PERFORM pg_temp.eq(f.meta_id, f.message_ids[1], 'meta message id');
    PERFORM pg_temp.eq(f.exec, 1::bigint, 'execution 1 before the first ack');
    PERFORM pg_temp.eq(f.attempt, 1, 'attempt starts at 1');
    PERFORM pg_temp.eq(cardinality(f.messages), 1, 'one message');
    PERFORM pg_temp.eq(f.history, NULL::text[], 'no history');
    PERFORM pg_temp.eq(f.messages[1], pg_temp.start('A', 'Proc', '1.0.0'), 'byte-identical message text');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.instances), 0::bigint, 'fetch creates no instance row');

    PERFORM pg_temp.ok(pg_temp.ao(T + 10, f.token, 1,
        ARRAY[pg_temp.started('A'),
              pg_temp.ev('A', 1, 2, 'ActivityScheduled', ',"name":"A","input":"in"'),
              pg_temp.ev('A', 1, 3, 'ActivityScheduled', ',"name":"B","input":"in"')],
        ARRAY[pg_temp.act('A', 1, 2, 'A'), pg_temp.act('A', 1, 3, 'B')],
        p_name => 'Proc', p_version => '1.0.0', p_pinned => ARRAY[0, 1, 26]), 'first ack');
    SELECT * INTO e FROM __SCHEMA__.instances WHERE instance_id = 'A';
    PERFORM pg_temp.eq(e.orchestration_name, 'Proc', 'instance name');
    PERFORM pg_temp.eq(e.current_execution_id, 1::bigint, 'current exec');
    PERFORM pg_temp.eq(e.created_at, T + 10, 'created_at from p_now');
    SELECT * INTO e FROM __SCHEMA__.executions WHERE instance_id = 'A' AND execution_id = 1;
    PERFORM pg_temp.eq(e.status, 'Running', 'execution Running');
    PERFORM pg_temp.eq(e.started_at, T + 10, 'started_at');
    PERFORM pg_temp.eq(ARRAY[e.pinned_major, e.pinned_minor, e.pinned_patch], ARRAY[0, 1, 26]::bigint[], 'pinned');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.orchestrator_queue), 0::bigint, 'start message consumed');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.instance_locks), 0::bigint, 'lock released');
    PERFORM pg_temp.eq((SELECT event_type FROM __SCHEMA__.history WHERE event_id = 1), 'OrchestrationStarted', 'event_type');

    w1 := pg_temp.fw(T + 20);
    w2 := pg_temp.fw(T + 20);
    PERFORM pg_temp.eq(pg_temp.act_id(w1.item), 2::bigint, 'FIFO: activity 2 first');
    PERFORM pg_temp.eq(pg_temp.act_id(w2.item), 3::bigint, 'then activity 3');
    PERFORM pg_temp.eq(w1.attempt, 1, 'worker attempt 1');
    PERFORM pg_temp.ok(w1.token <> w2.token, 'distinct tokens');
    PERFORM pg_temp.eq((pg_temp.fw(T + 20)).found, false, 'no third item');
    PERFORM pg_temp.ok(pg_temp.aw(T + 30, w1.token, pg_temp.done('A', 1, 2, 'r2')), 'ack activity 2');
    PERFORM pg_temp.ok(pg_temp.aw(T + 31, w2.token, pg_temp.done('A', 1, 3, 'r3')), 'ack activity 3');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.worker_queue), 0::bigint, 'worker queue drained');

    f := pg_temp.fo(T + 40);
    PERFORM pg_temp.eq(f.instance, 'A', 'completion turn');
    PERFORM pg_temp.eq(f.source, 'instance', 'meta from the instance row');
    PERFORM pg_temp.eq(f.name, 'Proc', 'name');
    PERFORM pg_temp.eq(f.version, '1.0.0', 'version');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.done('A', 1, 2, 'r2'), pg_temp.done('A', 1, 3, 'r3')], 'completions in order');
    PERFORM pg_temp.eq(cardinality(f.history), 3, 'history of 3 events');
    PERFORM pg_temp.eq(f.history[1], pg_temp.started('A'), 'history text byte-identical');

    PERFORM pg_temp.ok(pg_temp.ao(T + 50, f.token, 1,
        ARRAY[pg_temp.ev('A', 1, 4, 'ActivityCompleted', ',"result":"r2"'),
              pg_temp.ev('A', 1, 5, 'ActivityCompleted', ',"result":"r3"'),
              pg_temp.ev('A', 1, 6, 'OrchestrationCompleted', ',"output":"done"')],
        p_status => 'Completed', p_output => 'done'), 'completing ack');
    SELECT * INTO e FROM __SCHEMA__.executions WHERE instance_id = 'A' AND execution_id = 1;
    PERFORM pg_temp.eq(e.status, 'Completed', 'Completed');
    PERFORM pg_temp.eq(convert_from(e.output, 'UTF8'), 'done', 'output');
    PERFORM pg_temp.eq(e.completed_at, T + 50, 'completed_at');
    PERFORM pg_temp.eq(ARRAY[e.pinned_major, e.pinned_minor, e.pinned_patch], ARRAY[0, 1, 26]::bigint[], 'pinned kept');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.read_history('A')), 6::bigint, 'read gives 6 events');
    f := pg_temp.fo(T + 60);
    PERFORM pg_temp.eq(f.found, false, 'queue empty');
    PERFORM pg_temp.eq(f.next_wake, NULL::bigint, 'nothing pending in time');
    RAISE NOTICE 'ok 1 full cycle';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 2. Instance lock exclusion, FIFO across instances, tagging of messages arriving during a lock
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    a pg_temp.fo_result;
    b pg_temp.fo_result;
    f pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    PERFORM pg_temp.eo(T, pg_temp.start('B'));
    a := pg_temp.fo(T, 5000);
    b := pg_temp.fo(T, 5000);
    PERFORM pg_temp.eq(a.instance, 'A', 'oldest message first');
    PERFORM pg_temp.eq(b.instance, 'B', 'locked A is skipped');
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.found, false, 'both locked');
    PERFORM pg_temp.eq(f.next_wake, T + 5000, 'wake at lock expiry');
    -- completions arriving during the lock are not delivered
    PERFORM pg_temp.eo(T + 1, pg_temp.done('A', 1, 1));
    PERFORM pg_temp.eo(T + 1, pg_temp.done('A', 1, 2));
    PERFORM pg_temp.eq((pg_temp.fo(T + 2)).found, false, 'A locked, new messages wait');
    PERFORM pg_temp.ok(pg_temp.ao(T + 3, a.token, 1, ARRAY[pg_temp.started('A')], p_name => 'Proc', p_version => '1.0.0'), 'ack A');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'A'), 2::bigint, 'ack deleted only the tagged message');
    f := pg_temp.fo(T + 4);
    PERFORM pg_temp.eq(f.instance, 'A', 'A again after ack, while B is locked');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.done('A', 1, 1), pg_temp.done('A', 1, 2)], 'only the later messages');
    PERFORM pg_temp.eq(f.attempt, 1, 'their first attempt');
    -- token uniqueness
    PERFORM pg_temp.ok(a.token <> b.token AND a.token <> f.token, 'tokens differ');
    RAISE NOTICE 'ok 2 lock exclusion';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 3. Lock expiry: steal after expiry, expired/stolen tokens rejected, renewal in ms
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f1 pg_temp.fo_result;
    f2 pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f1 := pg_temp.fo(T, 1000);
    PERFORM pg_temp.eq((pg_temp.fo(T + 999)).found, false, 'live at T+999');
    -- expired (locked_until <= now) but not yet stolen: QD002 for ack and renew
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, ARRAY[pg_temp.started(''A'')])', T + 1000, f1.token), 'QD002', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, ARRAY[pg_temp.started(''A'')])', T + 1000, f1.token), 'QD002', 'expired');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_orchestration_item_lock(%s, %L, 1000)', '__SCHEMA__', T + 1000, f1.token), 'QD002', 'Invalid lock token');
    -- ms-precision renewal: renew by 500 ms at T+100 -> expires at T+600
    f2 := NULL;
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f1 := pg_temp.fo(T, 1000);
    PERFORM __SCHEMA__.renew_orchestration_item_lock(T + 100, f1.token, 500);
    PERFORM pg_temp.eq((SELECT locked_until FROM __SCHEMA__.instance_locks), T + 600, 'renewal keeps ms');
    PERFORM pg_temp.eq((pg_temp.fo(T + 599)).found, false, 'renewed lock live at T+599');
    f2 := pg_temp.fo(T + 600, 1000);
    PERFORM pg_temp.eq(f2.instance, 'A', 'stolen at T+600');
    PERFORM pg_temp.ok(f2.token <> f1.token, 'new token');
    PERFORM pg_temp.eq(f2.attempt, 2, 'attempt 2 after expiry');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, ARRAY[pg_temp.started(''A'')])', T + 601, f1.token), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_orchestration_item_lock(%s, %L, 1000)', '__SCHEMA__', T + 601, f1.token), 'QD001');
    PERFORM pg_temp.expect_error(format('SELECT %s.abandon_orchestration_item(%s, %L)', '__SCHEMA__', T + 601, f1.token), 'QD001');
    PERFORM pg_temp.ok(pg_temp.ao(T + 602, f2.token, 1, ARRAY[pg_temp.started('A')]), 'new holder acks');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.read_history('A')), 1::bigint, 'exactly one event');
    -- saturation: an enormous lock timeout saturates, a negative one means 0
    PERFORM pg_temp.eo(T, pg_temp.start('S'));
    f1 := pg_temp.fo(T + 700, 9223372036854775807);
    PERFORM pg_temp.eq((SELECT locked_until FROM __SCHEMA__.instance_locks WHERE instance_id = 'S'), 9223372036854775807, 'saturated');
    PERFORM __SCHEMA__.renew_orchestration_item_lock(T + 701, f1.token, -5);
    PERFORM pg_temp.eq((SELECT locked_until FROM __SCHEMA__.instance_locks WHERE instance_id = 'S'), T + 701, 'negative extension = 0');
    PERFORM pg_temp.eq((pg_temp.fo(T + 701)).instance, 'S', 'expired immediately (locked_until <= now)');
    RAISE NOTICE 'ok 3 lock expiry';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 4. Abandon: delay, ignore_attempt, attempt counting, double abandon, max over the batch
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.attempt, 1, 'attempt 1');
    PERFORM __SCHEMA__.abandon_orchestration_item(T, f.token, NULL, false, 'test_orch');
    PERFORM pg_temp.expect_error(format('SELECT %s.abandon_orchestration_item(%s, %L)', '__SCHEMA__', T, f.token), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.orchestrator_queue WHERE lock_token IS NOT NULL), 0::bigint, 'tags cleared');
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.attempt, 2, 'attempt 2, immediately fetchable');
    PERFORM __SCHEMA__.abandon_orchestration_item(T + 100, f.token, 250, true, 'test_orch');
    f := pg_temp.fo(T + 349);
    PERFORM pg_temp.eq(f.found, false, 'delayed until T+350');
    PERFORM pg_temp.eq(f.next_wake, T + 350, 'wake at the delay');
    f := pg_temp.fo(T + 350);
    PERFORM pg_temp.eq(f.attempt, 2, 'ignore_attempt: 2 -> 1 -> 2');
    -- enqueue during lock, then batch max
    PERFORM pg_temp.eo(T + 351, pg_temp.done('A', 1, 1));
    PERFORM __SCHEMA__.abandon_orchestration_item(T + 352, f.token, 0, false, 'test_orch');
    f := pg_temp.fo(T + 353);
    PERFORM pg_temp.eq(cardinality(f.messages), 2, 'both messages');
    PERFORM pg_temp.eq(f.attempt, 3, 'max over the batch (3 and 1)');
    -- ignore_attempt never below 0 (worker side tested in 8)
    PERFORM __SCHEMA__.abandon_orchestration_item(T + 354, f.token, NULL, true, 'test_orch');
    PERFORM __SCHEMA__.abandon_orchestration_item(T + 355, (pg_temp.fo(T + 355)).token, NULL, true, 'test_orch');
    PERFORM pg_temp.eq((SELECT array_agg(attempt_count ORDER BY id) FROM __SCHEMA__.orchestrator_queue), ARRAY[2, 0], 'decrements floor at 0');
    -- delay only applies to visible rows; a timer keeps its own visibility
    PERFORM pg_temp.eo(T + 356, pg_temp.timer('A', 1, 9, 0), 100000);
    f := pg_temp.fo(T + 357);
    PERFORM __SCHEMA__.abandon_orchestration_item(T + 358, f.token, 1000, false, 'test_orch');
    PERFORM pg_temp.eq((SELECT array_agg(visible_at ORDER BY id) FROM __SCHEMA__.orchestrator_queue),
                       ARRAY[T + 1358, T + 1358, T + 100356], 'abandon delay spares future rows');
    RAISE NOTICE 'ok 4 abandon and attempts';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 5. Timers and delayed visibility
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f := pg_temp.fo(T);
    -- ack: TimerFired visible at fire_at_ms; a past fire time is immediately visible
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('A')], '{}',
        ARRAY[pg_temp.timer('A', 1, 2, T + 5000), pg_temp.timer('A', 1, 3, 1234567890), pg_temp.ext('A', 'E')],
        'Proc', '1.0.0'), 'ack with timers');
    f := pg_temp.fo(T + 1);
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.timer('A', 1, 3, 1234567890), pg_temp.ext('A', 'E')], 'past timer + event, in order');
    PERFORM pg_temp.ok(pg_temp.ao(T + 2, f.token, 1), 'empty ack');
    f := pg_temp.fo(T + 4999);
    PERFORM pg_temp.eq(f.found, false, 'timer not yet due');
    PERFORM pg_temp.eq(f.next_wake, T + 5000, 'wake at fire_at');
    f := pg_temp.fo(T + 5000);
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.timer('A', 1, 2, T + 5000)], 'timer fires at T+5000');
    PERFORM pg_temp.ok(pg_temp.ao(T + 5001, f.token, 1), 'ack');
    -- enqueue: visibility only from the delay (fire_at_ms 0, delay 5 s)
    PERFORM pg_temp.eo(T + 6000, pg_temp.timer('A', 1, 4, 0), 5000);
    PERFORM pg_temp.eq((pg_temp.fo(T + 10999)).found, false, 'delay governs');
    PERFORM pg_temp.eq((pg_temp.fo(T + 11000)).instance, 'A', 'visible after delay');
    -- a delayed message does not block an older instance / a visible younger one
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('D'), 10000);
    PERFORM pg_temp.eo(T, pg_temp.start('E'));
    PERFORM pg_temp.eq((pg_temp.fo(T)).instance, 'E', 'delayed D skipped');
    PERFORM pg_temp.eq((pg_temp.fo(T + 9999)).found, false, 'D still hidden');
    PERFORM pg_temp.eq((pg_temp.fo(T + 10000)).instance, 'D', 'D due');
    -- ordering between a due delayed row and an immediate row follows enqueue sequence
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('X'), 10);
    PERFORM pg_temp.eo(T + 5, pg_temp.start('Y'));
    PERFORM pg_temp.eq((pg_temp.fo(T + 20)).instance, 'X', 'due delayed row with lower sequence first');
    RAISE NOTICE 'ok 5 timers';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 6. ContinueAsNew and multi-execution
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('C'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T + 1, f.token, 1,
        ARRAY[pg_temp.started('C'), pg_temp.ev('C', 1, 2, 'OrchestrationContinuedAsNew', ',"input":"n"')],
        '{}', ARRAY[pg_temp.can('C', 'n')], 'Proc', '1.0.0', 'ContinuedAsNew', 'n'), 'CAN turn');
    PERFORM pg_temp.eq((SELECT completed_at FROM __SCHEMA__.executions WHERE execution_id = 1), T + 1, 'CAN sets completed_at');
    f := pg_temp.fo(T + 2);
    PERFORM pg_temp.eq(f.exec, 1::bigint, 'fetch returns the old execution');
    PERFORM pg_temp.eq(cardinality(f.history), 2, 'old history ends with CAN');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.can('C', 'n')], 'CAN message');
    PERFORM pg_temp.ok(pg_temp.ao(T + 3, f.token, 2, ARRAY[pg_temp.started('C', 2, 'Proc', '1.0.0', 'n')],
        p_name => 'Proc', p_version => '1.0.0', p_pinned => ARRAY[0, 2, 0]), 'exec 2 first turn');
    PERFORM pg_temp.eq((SELECT current_execution_id FROM __SCHEMA__.instances WHERE instance_id = 'C'), 2::bigint, 'pointer moved');
    PERFORM pg_temp.eq((SELECT status FROM __SCHEMA__.executions WHERE execution_id = 2), 'Running', 'exec 2 Running');
    PERFORM pg_temp.eq((SELECT array_agg(execution_id) FROM __SCHEMA__.read_history('C')), ARRAY[2::bigint], 'read = latest');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.read_history_with_execution('C', 1)), 2::bigint, 'exec 1 kept');
    PERFORM pg_temp.eo(T + 4, pg_temp.start('C', 'Proc', NULL, 3));
    f := pg_temp.fo(T + 5);
    PERFORM pg_temp.eq(f.exec, 2::bigint, 'current execution, not the message exec id');
    PERFORM pg_temp.ok(pg_temp.ao(T + 6, f.token, 2), 'ack');

    -- Without an instance row (default metadata): resolve the latest execution's started event.
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('X'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('X')]), 'default metadata ack');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.instances), 0::bigint, 'no instance row');
    PERFORM pg_temp.eo(T, pg_temp.can('X', 'new-input'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.source, 'history', '5b: started event in history');
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 2, ARRAY[pg_temp.started('X', 2, 'Proc', '1.0.0', 'new-input')]), 'exec 2 ack');
    PERFORM pg_temp.eq((pg_temp.fo(T)).found, false, 'queue empty');
    PERFORM pg_temp.eo(T, pg_temp.ext('X', 'probe'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.exec, 2::bigint, 'latest execution');
    PERFORM pg_temp.eq(f.source, 'history', 'history source');
    PERFORM pg_temp.eq(f.history, ARRAY[pg_temp.started('X', 2, 'Proc', '1.0.0', 'new-input')], 'exec 2 history');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.ext('X', 'probe')], 'probe only');
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 2), 'ack exec 2');
    PERFORM pg_temp.eq((SELECT array_agg(execution_id ORDER BY execution_id) FROM __SCHEMA__.executions), ARRAY[1, 2]::bigint[], 'executions 1,2');
    RAISE NOTICE 'ok 6 continue-as-new';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 7. Instance creation, metadata, parent link, pinned version, custom status, KV
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
    i record;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('P::sub::1', 'Child', NULL, 1, 'P'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('P::sub::1')],
        p_name => 'Child', p_version => '1.5.0', p_parent => 'P'), 'create child');
    PERFORM pg_temp.eo(T, pg_temp.ext('P::sub::1', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.version, '1.5.0', 'metadata version');
    -- poison-style ack: parent absent never clears; other name/version overwrite
    PERFORM pg_temp.ok(pg_temp.ao(T + 1, f.token, 1, p_name => 'Child', p_version => '2.0.0', p_status => 'Failed', p_output => 'boom'), 'poison ack');
    SELECT * INTO i FROM __SCHEMA__.instances;
    PERFORM pg_temp.eq(i.parent_instance_id, 'P', 'parent never cleared');
    PERFORM pg_temp.eq(i.orchestration_version, '2.0.0', 'version overwritten');
    PERFORM pg_temp.eq(i.updated_at, T + 1, 'updated_at');
    -- pinned version overwritten when told, never cleared when absent
    PERFORM pg_temp.eo(T, pg_temp.ext('P::sub::1', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, p_pinned => ARRAY[3, 4, 5]), 'pin');
    PERFORM pg_temp.eo(T, pg_temp.ext('P::sub::1', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, p_status => 'Running'), 'no pin');
    PERFORM pg_temp.eq((SELECT ARRAY[pinned_major, pinned_minor, pinned_patch] FROM __SCHEMA__.executions), ARRAY[3, 4, 5]::bigint[], 'pin kept');
    PERFORM pg_temp.eq((SELECT completed_at FROM __SCHEMA__.executions), NULL::bigint, 'Running clears completed_at');

    -- custom status: last event wins, one increment per ack, NULL is an update
    PERFORM pg_temp.eo(T, pg_temp.ext('P::sub::1', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[
        pg_temp.ev('P::sub::1', 1, 10, 'CustomStatusUpdated', ',"status":"a"'),
        pg_temp.ev('P::sub::1', 1, 11, 'CustomStatusUpdated', ',"status":"b\u0000c"')]), 'cs');
    SELECT * INTO i FROM __SCHEMA__.instances;
    PERFORM pg_temp.eq(i.custom_status, '\x620063'::bytea, 'last status, U+0000 kept');
    PERFORM pg_temp.eq(i.custom_status_version, 1::bigint, 'one increment');
    PERFORM pg_temp.eo(T, pg_temp.ext('P::sub::1', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.ev('P::sub::1', 1, 12, 'CustomStatusUpdated', ',"status":null')]), 'cs clear');
    SELECT * INTO i FROM __SCHEMA__.instances;
    PERFORM pg_temp.eq(i.custom_status, NULL::bytea, 'cleared');
    PERFORM pg_temp.eq(i.custom_status_version, 2::bigint, 'increment on clear');

    -- KV: store seeded by a terminal turn, delta for the next execution, clear_all semantics
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('K'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('K'),
        pg_temp.ev('K', 1, 100, 'KeyValueSet', ',"key":"a","value":"1","last_updated_at_ms":5'),
        pg_temp.ev('K', 1, 101, 'KeyValueSet', ',"key":"b","value":"2","last_updated_at_ms":6'),
        pg_temp.ev('K', 1, 102, 'KeyValueSet', ',"key":"a","value":"3","last_updated_at_ms":7')],
        p_name => 'Proc', p_version => '1.0.0'), 'kv sets');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.kv_store), 0::bigint, 'store untouched mid-execution');
    PERFORM pg_temp.eq((SELECT array_agg(key || '=' || convert_from(value, 'UTF8') || '@' || last_updated_at_ms ORDER BY key) FROM __SCHEMA__.kv_delta),
                       ARRAY['a=3@7', 'b=2@6'], 'delta: last write wins');
    PERFORM pg_temp.eo(T, pg_temp.ext('K', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.kv_keys, NULL::text[], 'snapshot from the store only');
    PERFORM pg_temp.ok(pg_temp.ao(T + 9, f.token, 1, ARRAY[
        pg_temp.ev('K', 1, 200, 'KeyValueCleared', ',"key":"b"'),
        pg_temp.ev('K', 1, 201, 'OrchestrationContinuedAsNew', ',"input":"x"')],
        p_status => 'ContinuedAsNew', p_output => 'x'), 'terminal: merge');
    PERFORM pg_temp.eq((SELECT array_agg(key || '=' || convert_from(value, 'UTF8') ORDER BY key) FROM __SCHEMA__.kv_store), ARRAY['a=3'], 'merged, tombstone applied');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.kv_delta), 0::bigint, 'delta cleared');
    PERFORM pg_temp.eo(T, pg_temp.ext('K', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.kv_keys, ARRAY['a'], 'snapshot key');
    PERFORM pg_temp.eq(f.kv_values, ARRAY['3'], 'snapshot value');
    PERFORM pg_temp.ok(pg_temp.ao(T + 20, f.token, 2, ARRAY[
        pg_temp.ev('K', 2, 300, 'KeyValueSet', ',"key":"c","value":"c1","last_updated_at_ms":8'),
        pg_temp.ev('K', 2, 301, 'KeyValuesCleared'),
        pg_temp.ev('K', 2, 302, 'KeyValueSet', ',"key":"d","value":"d1","last_updated_at_ms":9')]), 'clear_all in the middle');
    PERFORM pg_temp.eq((SELECT array_agg(key || '=' || coalesce(convert_from(value, 'UTF8'), '<tomb>') || '@' || last_updated_at_ms ORDER BY key) FROM __SCHEMA__.kv_delta),
                       ARRAY['a=<tomb>@' || (T + 20), 'c=<tomb>@' || (T + 20), 'd=d1@9'], 'clear_all tombstones store keys and earlier sets');
    PERFORM pg_temp.eo(T, pg_temp.ext('K', 'e'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T + 30, f.token, 2, p_status => 'Completed', p_output => 'ok'), 'terminal');
    PERFORM pg_temp.eq((SELECT array_agg(key ORDER BY key) FROM __SCHEMA__.kv_store), ARRAY['d'], 'store after clear_all');
    RAISE NOTICE 'ok 7 metadata, custom status, kv';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 8. Worker queue: peek-lock, expiry, renew, abandon, attempts, FIFO, cancellation
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    w pg_temp.fw_result;
    w2 pg_temp.fw_result;
    f pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 1));
    w := pg_temp.fw(T, 1000);
    PERFORM pg_temp.eq((pg_temp.fw(T + 999)).found, false, 'locked');
    PERFORM pg_temp.eq((pg_temp.fw(T + 999)).next_wake, T + 1000, 'wake at lock expiry');
    -- expired but not re-fetched: ack/renew QD002; row stays
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.aw(%s, %L, pg_temp.done(''W'', 1, 1))', T + 1000, w.token), 'QD002', 'expired');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_work_item_lock(%s, %L, 1000)', '__SCHEMA__', T + 1000, w.token), 'QD002', 'Invalid lock token');
    w2 := pg_temp.fw(T + 1000, 1000);
    PERFORM pg_temp.eq(w2.id, w.id, 'same row re-fetched after expiry');
    PERFORM pg_temp.eq(w2.attempt, 2, 'attempt 2');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.aw(%s, %L)', T + 1001, w.token), 'QD001', 'Invalid lock token');
    -- ms renewal
    PERFORM __SCHEMA__.renew_work_item_lock(T + 1001, w2.token, 1500);
    PERFORM pg_temp.eq((pg_temp.fw(T + 2500)).found, false, 'renewed to T+2501');
    PERFORM __SCHEMA__.renew_work_item_lock(T + 1002, w2.token, 500);
    PERFORM pg_temp.eq((pg_temp.fw(T + 1501)).found, false, 'renew from now, 500 ms');
    PERFORM pg_temp.eq((pg_temp.fw(T + 1502, 1000)).attempt, 3, 'available at T+1502');
    -- abandon with delay / ignore_attempt / floor
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 1));
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 2));
    w := pg_temp.fw(T);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 1::bigint, 'id 1 first');
    PERFORM __SCHEMA__.abandon_work_item(T, w.token, 500, true, 'test_work');
    PERFORM pg_temp.expect_error(format('SELECT %s.abandon_work_item(%s, %L)', '__SCHEMA__', T, w.token), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T)).item), 2::bigint, 'delayed 1 skipped, 2 returned');
    w2 := pg_temp.fw(T + 499);
    PERFORM pg_temp.eq(w2.found, false, 'nothing until T+500');
    PERFORM pg_temp.eq(w2.next_wake, T + 500, 'wake at the abandon delay');
    w := pg_temp.fw(T + 500);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 1::bigint, 'id 1 back');
    PERFORM pg_temp.eq(w.attempt, 1, 'ignore_attempt floor: 1 -> 0 -> 1');
    PERFORM pg_temp.ok(pg_temp.aw(T + 501, w.token), 'ack without completion');
    PERFORM pg_temp.eq((pg_temp.fo(T + 502)).found, false, 'no completion enqueued');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_work_item_lock(%s, %L, 1000)', '__SCHEMA__', T + 503, w.token), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.aw(%s, %L, pg_temp.done(''W'', 1, 1))', T + 503, w.token), 'QD001');
    -- ambiguous commit retry succeeds, a plain second ack does not
    PERFORM pg_temp.eq(pg_temp.aw(T + 504, w.token, NULL, true), false, 'retry of a committed ack reports already-committed');

    -- cancellation: locked and unlocked rows deleted, insert-before-delete in the same ack
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('C'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('C')],
        ARRAY[pg_temp.act('C', 1, 2, 'Dropped'), pg_temp.act('C', 1, 3, 'Normal'), pg_temp.act('C', 1, 4, 'Locked')],
        p_name => 'Proc', p_version => '1.0.0', p_cancel => ARRAY['C|1|2', 'C|1|999', 'Z|7|7']), 'schedule + cancel');
    w := pg_temp.fw(T);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 3::bigint, 'dropped activity never delivered');
    w2 := pg_temp.fw(T);
    PERFORM pg_temp.eq(pg_temp.act_id(w2.item), 4::bigint, 'activity 4 locked by a worker');
    PERFORM pg_temp.eo(T, pg_temp.ext('C', 'trigger'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, p_cancel => ARRAY['C|1|3', 'C|1|4']), 'cancel locked rows');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.worker_queue), 0::bigint, 'all cancelled');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_work_item_lock(%s, %L, 1000)', '__SCHEMA__', T + 1, w2.token), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.aw(%s, %L, pg_temp.done(''C'', 1, 4))', T + 1, w2.token), 'QD001');
    RAISE NOTICE 'ok 8 worker queue';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 9. Tag filters and sessions
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    w pg_temp.fw_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 1, 'A', NULL, 'gpu'));
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 2, 'A', NULL, ''));
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 3, 'A'));
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 4, 'A', NULL, 'cpu'));
    PERFORM pg_temp.eq((pg_temp.fw(T, 30000, 'none')).found, false, 'None matches nothing');
    PERFORM pg_temp.eq((pg_temp.fw(T, 30000, 'tags', '{}')).found, false, 'empty Tags matches nothing');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T, 30000, 'tags', ARRAY['']::text[])).item), 2::bigint, 'empty-string tag is a tag');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T)).item), 3::bigint, 'DefaultOnly: untagged only');
    PERFORM pg_temp.eq((pg_temp.fw(T)).found, false, 'no more untagged');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T, 30000, 'default_and', ARRAY['cpu', 'cpu'])).item), 4::bigint, 'DefaultAnd(cpu)');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T, 30000, 'any')).item), 1::bigint, 'Any');
    PERFORM pg_temp.eq((pg_temp.fw(T, 30000, 'any')).found, false, 'drained');
    -- FIFO across tags for Any / DefaultAnd
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 1, 'A', NULL, 'b'));
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 2, 'A', NULL, 'a'));
    PERFORM pg_temp.ew(T, pg_temp.act('G', 1, 3, 'A'));
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T, 30000, 'default_and', ARRAY['a', 'b'])).item), 1::bigint, 'FIFO 1');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T, 30000, 'any')).item), 2::bigint, 'FIFO 2');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T, 30000, 'default_and', ARRAY['a', 'b'])).item), 3::bigint, 'FIFO 3');

    -- sessions
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('S', 1, 1, 'A', 's1'));
    PERFORM pg_temp.ew(T, pg_temp.act('S', 1, 2, 'A', 's1'));
    PERFORM pg_temp.ew(T, pg_temp.act('S', 1, 3, 'A'));
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T)).item), 3::bigint, 'no session config: session items invisible');
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('S', 1, 1, 'A', 's1'));
    PERFORM pg_temp.ew(T, pg_temp.act('S', 1, 2, 'A', 's1'));
    PERFORM pg_temp.ew(T, pg_temp.act('S', 1, 3, 'A'));
    w := pg_temp.fw(T, 5000, 'default_only', NULL, 'o1', 1500);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 1::bigint, 'o1 claims s1');
    PERFORM pg_temp.eq((SELECT worker_id || '@' || locked_until FROM __SCHEMA__.sessions), 'o1@' || (T + 1500), 'session row');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T + 1, 5000, 'default_only', NULL, 'o2', 1500)).item), 3::bigint, 'o2 skips s1, takes plain item');
    PERFORM pg_temp.eq((pg_temp.fw(T + 2, 5000, 'default_only', NULL, 'o2', 1500)).next_wake, T + 1500, 'o2 wakes at lease expiry');
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T + 3, 5000, 'default_only', NULL, 'o1', 1500)).item), 2::bigint, 'owner gets 2nd item concurrently');
    PERFORM pg_temp.eq((SELECT locked_until FROM __SCHEMA__.sessions), T + 1503, 'owner fetch refreshed lease');
    PERFORM pg_temp.ok(pg_temp.aw(T + 4, w.token, pg_temp.done('S', 1, 1)), 'ack bumps last_activity');
    PERFORM pg_temp.eq((SELECT last_activity_at FROM __SCHEMA__.sessions), T + 4, 'last_activity');
    PERFORM pg_temp.ew(T + 5, pg_temp.act('S', 1, 4, 'A', 's1'));
    PERFORM pg_temp.eq((pg_temp.fw(T + 1502, 5000, 'default_only', NULL, 'o2', 1500)).found, false, 'still o1''s at T+1502');
    w := pg_temp.fw(T + 1503, 5000, 'default_only', NULL, 'o2', 1500);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 4::bigint, 'o2 takes over after expiry');
    PERFORM pg_temp.eq((SELECT worker_id FROM __SCHEMA__.sessions), 'o2', 'owner changed');
    RAISE NOTICE 'ok 9 tags and sessions';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 10. Errors and validation (SQLSTATEs of contract §9.2)
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
    w pg_temp.fw_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1)', T, 'no-such-token'), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT %s.abandon_orchestration_item(%s, %L)', '__SCHEMA__', T, 'no-such-token'), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_orchestration_item_lock(%s, %L, 1)', '__SCHEMA__', T, 'no-such-token'), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.aw(%s, %L)', T, 'no-such-token'), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT %s.renew_work_item_lock(%s, %L, 1)', '__SCHEMA__', T, 'no-such-token'), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.expect_error(format('SELECT %s.abandon_work_item(%s, %L)', '__SCHEMA__', T, 'no-such-token'), 'QD001', 'Invalid lock token');
    -- wrong work item types
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.eo(%s, pg_temp.act(''A'', 1, 1))', T), 'QD008', 'Invalid work item type');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ew(%s, pg_temp.start(''A''))', T), 'QD008', 'Invalid work item type');
    -- failed acks keep the lock and change nothing
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('A')]), 'first ack');
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, ARRAY[pg_temp.ev(''A'', 1, 1, ''ActivityScheduled'', '',"name":"x","input":"y"'')])', T, f.token), '23505');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, ARRAY[pg_temp.ev(''A'', 1, 0, ''ActivityScheduled'', '',"name":"x","input":"y"'')])', T, f.token), 'QD008', 'Invalid');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, p_orch => ARRAY[pg_temp.act(''A'', 1, 1)])', T, f.token), 'QD008', 'Invalid work item type');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1, p_worker => ARRAY[pg_temp.ext(''A'', ''x'')])', T, f.token), 'QD008', 'Invalid work item type');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 0)', T, f.token), 'QD008', 'Invalid');
    PERFORM pg_temp.expect_error(format('SELECT %s.append_with_execution(%s, ''A'', 1, ARRAY[0]::bigint[], ARRAY[''X''], ARRAY[''{}''])', '__SCHEMA__', T), 'QD008', 'Invalid');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.history), 1::bigint, 'history unchanged');
    PERFORM pg_temp.eq((pg_temp.fo(T)).found, false, 'lock still held after failed acks');
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1), 'valid ack on the same token');
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.ao(%s, %L, 1)', T, f.token), 'QD001', 'Invalid lock token');
    PERFORM pg_temp.eq(pg_temp.ao(T, f.token, 1, p_retry => true), false, 'ambiguous-commit retry succeeds without effect');
    -- append_with_execution: duplicates rejected, nothing overwritten
    PERFORM __SCHEMA__.append_with_execution(T, 'Z', 1, ARRAY[1]::bigint[], ARRAY['ActivityScheduled'], ARRAY['first']);
    PERFORM pg_temp.expect_error(format('SELECT %s.append_with_execution(%s, ''Z'', 1, ARRAY[2, 1]::bigint[], ARRAY[''X'', ''X''], ARRAY[''a'', ''second''])', '__SCHEMA__', T), '23505');
    PERFORM pg_temp.eq((SELECT array_agg(event_data) FROM __SCHEMA__.read_history_with_execution('Z', 1)), ARRAY['first'], 'only first');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.read_history('nope')), 0::bigint, 'unknown instance: empty');
    -- worker ack with a wrong completion type changes nothing
    PERFORM pg_temp.ew(T, pg_temp.act('A', 1, 5));
    w := pg_temp.fw(T);
    PERFORM pg_temp.expect_error(format('SELECT pg_temp.aw(%s, %L, pg_temp.ext(''A'', ''x''))', T, w.token), 'QD008', 'Invalid work item type');
    PERFORM pg_temp.ok(pg_temp.aw(T, w.token, pg_temp.done('A', 1, 5)), 'valid worker ack');
    RAISE NOTICE 'ok 10 errors';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 11. Orphan batches (§7.2) and head-of-line freedom
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
    r record;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.qmsg('ghost', 'ConfigUpdate', 'v1'));
    PERFORM pg_temp.eo(T, pg_temp.cancel('ghost'));
    PERFORM pg_temp.eo(T, pg_temp.qmsg('ghost', 'ConfigUpdate', 'v2'));
    PERFORM pg_temp.eo(T, pg_temp.ext('ghost2', 'evt'));
    PERFORM pg_temp.eo(T, pg_temp.start('real'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.instance, 'real', 'orphans do not block');
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('real')], p_name => 'Proc', p_version => '1.0.0'), 'ack real');
    PERFORM pg_temp.eq((SELECT array_agg(work_item ORDER BY id) FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'ghost'),
                       ARRAY[pg_temp.cancel('ghost')], 'QueueMessages dropped, cancel kept');
    SELECT * INTO r FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'ghost';
    PERFORM pg_temp.eq(r.lock_token, NULL::text, 'deferred row untagged');
    PERFORM pg_temp.eq(r.attempt_count, 0, 'deferral does not count');
    PERFORM pg_temp.eq(r.visible_at, T + 1000, 'deferred by the minimum');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.instance_locks WHERE instance_id LIKE 'ghost%'), 0::bigint, 'orphan locks released');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.executions WHERE instance_id LIKE 'ghost%'), 0::bigint, 'no rows created');
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.found, false, 'only deferred orphans left');
    PERFORM pg_temp.eq(f.next_wake, T + 1000, 'wake at the deferral');
    -- deferral schedule now + clamp(age/2, 1 s, 60 s)
    PERFORM pg_temp.eq((pg_temp.fo(T + 1000)).found, false, 'T+1000');
    PERFORM pg_temp.eq((SELECT visible_at FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'ghost2'), T + 2000, 'T+2000');
    PERFORM pg_temp.eq((pg_temp.fo(T + 10000)).found, false, 'T+10000');
    PERFORM pg_temp.eq((SELECT visible_at FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'ghost2'), T + 15000, 'T+15000');
    PERFORM pg_temp.eq((pg_temp.fo(T + 200000)).found, false, 'T+200000');
    PERFORM pg_temp.eq((SELECT visible_at FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'ghost2'), T + 260000, 'capped at 60 s');
    -- delivered once the instance starts
    PERFORM pg_temp.eo(T + 200001, pg_temp.start('ghost'));
    f := pg_temp.fo(T + 200001);
    PERFORM pg_temp.eq(f.instance, 'ghost', 'start of the ghost');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.start('ghost')], 'deferred cancel not yet due');
    PERFORM pg_temp.ok(pg_temp.ao(T + 200001, f.token, 1, ARRAY[pg_temp.started('ghost')], p_name => 'Proc', p_version => '1.0.0'), 'ack');
    f := pg_temp.fo(T + 260000);
    PERFORM pg_temp.eq(f.instance, 'ghost', 'cancel delivered');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.cancel('ghost')], 'exactly the cancel');
    PERFORM pg_temp.eq(f.attempt, 1, 'first real delivery');
    -- queue messages for an existing instance are kept
    PERFORM pg_temp.ok(pg_temp.ao(T + 260000, f.token, 1), 'ack');
    PERFORM pg_temp.eo(T + 260001, pg_temp.qmsg('ghost', 'ConfigUpdate', 'v3'));
    PERFORM pg_temp.eq((pg_temp.fo(T + 260001)).messages, ARRAY[pg_temp.qmsg('ghost', 'ConfigUpdate', 'v3')], 'kept for existing instance');
    -- 50 orphans ahead of real work: one call skips them all
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, CASE g % 3 WHEN 0 THEN pg_temp.cancel('g' || g) WHEN 1 THEN pg_temp.ext('g' || g, 'e') ELSE pg_temp.done('g' || g, 1, 1) END)
       FROM generate_series(1, 50) g;
    PERFORM pg_temp.eo(T, pg_temp.start('real3'));
    PERFORM pg_temp.eq((pg_temp.fo(T)).instance, 'real3', 'found behind 50 orphans');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.orchestrator_queue WHERE instance_id LIKE 'g%' AND visible_at > T AND attempt_count = 0 AND lock_token IS NULL), 50::bigint, 'all deferred');
    RAISE NOTICE 'ok 11 orphans';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 12. Quarantine (§7.3) and the C++ reject path
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
    w pg_temp.fw_result;
    r record;
    n integer;
    t_now bigint;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('A')], p_name => 'Proc', p_version => '1.0.0'), 'create A');
    PERFORM pg_temp.eo(T, pg_temp.ext('A', 'e1'));
    PERFORM pg_temp.eo(T, pg_temp.ext('A', 'e2'));
    PERFORM pg_temp.eo(T, pg_temp.ext('A', 'e3'));
    PERFORM pg_temp.eo(T, pg_temp.start('B'));
    UPDATE __SCHEMA__.orchestrator_queue SET work_item = 'NOT_VALID_JSON{{{' WHERE work_item = pg_temp.ext('A', 'e2');
    UPDATE __SCHEMA__.orchestrator_queue SET work_item = pg_temp.act('A', 1, 1) WHERE work_item = pg_temp.ext('A', 'e3');
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.instance, 'A', 'A');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.ext('A', 'e1')], 'bad rows excluded');
    PERFORM pg_temp.eq(f.attempt, 1, 'attempt');
    PERFORM pg_temp.eq((SELECT array_agg(attempt_count || ':' || (lock_token IS NULL) || ':' || (visible_at - T) ORDER BY id)
                          FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'A' AND lock_token IS NULL),
                       ARRAY['1:true:1000', '1:true:1000'], 'quarantined: untagged, attempt 1, +1 s');
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1), 'ack');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'A'), 2::bigint, 'ack kept quarantined rows');
    PERFORM pg_temp.eq((pg_temp.fo(T)).instance, 'B', 'next instance');
    f := pg_temp.fo(T + 1000);
    PERFORM pg_temp.eq(f.found, false, 'only-bad batch: None');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.instance_locks WHERE instance_id = 'A'), 0::bigint, 'no lock left on A');
    PERFORM pg_temp.eq((SELECT array_agg(attempt_count || ':' || (visible_at - T) ORDER BY id) FROM __SCHEMA__.orchestrator_queue WHERE instance_id = 'A'),
                       ARRAY['2:3000', '2:3000'], 'second pass: +2 s');

    -- worker quarantine and backoff schedule
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 1));
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 2));
    UPDATE __SCHEMA__.worker_queue SET work_item = '{"garbage": true}' WHERE activity_id = 1;
    w := pg_temp.fw(T);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 2::bigint, 'corrupt row skipped');
    PERFORM pg_temp.ok(pg_temp.aw(T, w.token), 'ack W#2');
    PERFORM pg_temp.eq((pg_temp.fw(T)).found, false, 'then None');
    t_now := T;
    FOR n IN 1 .. 8 LOOP
        IF n > 1 THEN
            SELECT visible_at INTO t_now FROM __SCHEMA__.worker_queue WHERE activity_id = 1;
            PERFORM pg_temp.eq((pg_temp.fw(t_now - 1)).found, false, 'not yet');
            PERFORM pg_temp.eq((SELECT attempt_count FROM __SCHEMA__.worker_queue WHERE activity_id = 1), n - 1, 'unchanged before due');
            PERFORM pg_temp.eq((pg_temp.fw(t_now)).found, false, 'quarantined again');
        END IF;
        SELECT * INTO r FROM __SCHEMA__.worker_queue WHERE activity_id = 1;
        PERFORM pg_temp.eq(r.attempt_count, n, 'attempt n');
        PERFORM pg_temp.eq(r.lock_token, NULL::text, 'unlocked');
        PERFORM pg_temp.eq(r.visible_at - t_now, least(1000 * (2 ^ (n - 1))::bigint, 60000), 'backoff');
    END LOOP;
    -- wrong variant in the worker queue
    PERFORM pg_temp.reset();
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 1));
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 2));
    UPDATE __SCHEMA__.worker_queue SET work_item = pg_temp.start('W') WHERE activity_id = 1;
    PERFORM pg_temp.eq(pg_temp.act_id((pg_temp.fw(T)).item), 2::bigint, 'StartOrchestration in worker queue quarantined');

    -- reject path: C++ could not parse a row that passed the SQL check
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.ext('A', 'e1'));
    PERFORM __SCHEMA__.enqueue_for_orchestrator(T, 'A', 'ExternalRaised', '{"ExternalRaised":{"broken":1}}');
    PERFORM pg_temp.eo(T, pg_temp.start('A'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(cardinality(f.messages), 3, 'SQL accepts the broken-but-plausible row');
    f := pg_temp.fo(T, 30000, NULL, f.token, ARRAY[f.message_ids[2]]);
    PERFORM pg_temp.eq(f.instance, 'A', 'refetched');
    PERFORM pg_temp.eq(f.messages, ARRAY[pg_temp.ext('A', 'e1'), pg_temp.start('A')], 'rejected row left out');
    PERFORM pg_temp.eq(f.attempt, 1, 'attempts of the rolled-back claim restored');
    PERFORM pg_temp.eq((SELECT attempt_count || ':' || (visible_at - T) || ':' || (lock_token IS NULL) FROM __SCHEMA__.orchestrator_queue WHERE id = 2),
                       '1:1000:true', 'rejected row quarantined');
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 1));
    PERFORM pg_temp.ew(T, pg_temp.act('W', 1, 2));
    w := pg_temp.fw(T);
    w := pg_temp.fw(T, p_reject => w.token);
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 2::bigint, 'worker reject moves on');
    PERFORM pg_temp.eq((SELECT attempt_count || ':' || (visible_at - T) || ':' || (lock_token IS NULL) FROM __SCHEMA__.worker_queue WHERE activity_id = 1),
                       '1:1000:true', 'worker reject quarantines');
    RAISE NOTICE 'ok 12 quarantine';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 13. Capability filter (§5.1 step 1)
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
BEGIN
    PERFORM pg_temp.reset();
    PERFORM pg_temp.eo(T, pg_temp.start('V'));
    f := pg_temp.fo(T);
    PERFORM pg_temp.ok(pg_temp.ao(T, f.token, 1, ARRAY[pg_temp.started('V')], p_name => 'Proc', p_version => '1.0.0', p_pinned => ARRAY[1, 1000, 0]), 'seed 1.1000.0');
    PERFORM pg_temp.eo(T, pg_temp.ext('V', 'ping'));
    PERFORM pg_temp.eq((pg_temp.fo(T, 30000, ARRAY[]::bigint[])).found, false, 'empty range list: nothing');
    PERFORM pg_temp.eq((pg_temp.fo(T, 30000, ARRAY[2, 0, 0, 2, 0, 0])).found, false, '[2.0.0,2.0.0]');
    PERFORM pg_temp.eq((pg_temp.fo(T, 30000, ARRAY[1, 0, 0, 1, 999, 999])).found, false, '[1.0.0,1.999.999]');
    PERFORM pg_temp.eq((pg_temp.fo(T, 30000, ARRAY[2, 0, 0, 1, 0, 0])).found, false, 'inverted');
    PERFORM pg_temp.eq((SELECT attempt_count FROM __SCHEMA__.orchestrator_queue), 0, 'incompatible: attempts untouched');
    PERFORM pg_temp.eq((SELECT count(*) FROM __SCHEMA__.instance_locks), 0::bigint, 'incompatible: not locked');
    -- an incompatible instance does not hide a compatible one behind it
    PERFORM pg_temp.eo(T, pg_temp.start('N'));
    f := pg_temp.fo(T, 30000, ARRAY[5, 0, 0, 5, 0, 0]);
    PERFORM pg_temp.eq(f.instance, 'N', 'never-started instance is compatible');
    PERFORM __SCHEMA__.abandon_orchestration_item(T, f.token, NULL, true, NULL);
    f := pg_temp.fo(T, 30000, ARRAY[1, 0, 0, 1, 0, 0, 1, 1000, 0, 1, 1000, 0, 3, 0, 0, 3, 0, 0]);
    PERFORM pg_temp.eq(f.instance, 'V', 'second of three ranges matches exactly');
    RAISE NOTICE 'ok 13 capability filter';
END $$;

-- ---------------------------------------------------------------------------------------------
-- 14. Index usage of the hot paths on a larger queue
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    T bigint := 1700000000000;
    f pg_temp.fo_result;
    w pg_temp.fw_result;
    t0 timestamptz;
    ms double precision;
BEGIN
    PERFORM pg_temp.reset();
    -- 20 000 future timers and 2 000 tagged worker rows ahead of the real work
    INSERT INTO __SCHEMA__.orchestrator_queue (instance_id, work_item, visible_at, created_at)
    SELECT 'sleeper' || g, pg_temp.timer('sleeper' || g, 1, 1, T + 86400000), T + 86400000, T
      FROM generate_series(1, 20000) g;
    INSERT INTO __SCHEMA__.worker_queue (work_item, visible_at, created_at, instance_id, execution_id, activity_id, tag)
    SELECT pg_temp.act('gpu', 1, g, 'A', NULL, 'gpu'), T, T, 'gpu', 1, g, 'gpu' FROM generate_series(1, 2000) g;
    PERFORM pg_temp.eo(T, pg_temp.start('R'));
    PERFORM pg_temp.ew(T, pg_temp.act('R', 1, 1));
    ANALYZE __SCHEMA__.orchestrator_queue;
    ANALYZE __SCHEMA__.worker_queue;
    t0 := clock_timestamp();
    f := pg_temp.fo(T);
    w := pg_temp.fw(T);
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    PERFORM pg_temp.eq(f.instance, 'R', 'R behind 20k timers');
    PERFORM pg_temp.eq(pg_temp.act_id(w.item), 1::bigint, 'untagged behind 2k tagged rows');
    PERFORM pg_temp.ok(ms < 200, format('hot paths stay fast on a big queue (%s ms)', round(ms::numeric, 1)));
    f := pg_temp.fo(T);
    PERFORM pg_temp.eq(f.next_wake, T + 30000, 'wake at the lock expiry of R (before the timers)');
    RAISE NOTICE 'ok 14 big queue (fetch pair took % ms)', round(ms::numeric, 1);
END $$;

DO $$ BEGIN PERFORM pg_temp.reset(); END $$;
\echo core_functions.sql: all scenarios passed
