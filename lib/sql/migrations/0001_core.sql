-- duroxide-pg migration 0001: core schema and the server-side functions of the core Provider
-- operations (contract §4, §5.0-§5.12, §5.15, §7, §9). The exact calling contract for the C++ side
-- is lib/sql/README.md; this header records the design decisions.
--
-- TEMPLATE RULES
--   * Every object reference is qualified with the placeholder __SCHEMA__; the C++ side replaces it
--     with the quoted schema identifier before execution. The checksum is computed over this
--     unsubstituted text. Nothing depends on search_path.
--   * No server clock anywhere: every function takes p_now (epoch ms, application clock); every
--     timestamp column is a bigint written explicitly. Durations are ms bigints; a negative duration
--     counts as 0; now + duration saturates at 9223372036854775807 (sat_add).
--   * Idempotent: CREATE ... IF NOT EXISTS / CREATE OR REPLACE; safe to re-run inside one
--     transaction. Shapes of existing functions are never changed in place by later migrations (a
--     changed result shape gets a new function name).
--   * One provider operation = one function call = one implicit transaction (the C++ caller must
--     not wrap calls in BEGIN/COMMIT and must put a Sync after every call in pipeline mode).
--
-- WHAT IS DONE IN SQL AND WHAT IN C++
--   * JSON is never fully parsed in SQL. The C++ side passes the exact JSON text plus pre-extracted
--     routing columns (instance ids, ActivityExecute identity, session id, tag, TimerFired
--     fire_at_ms) and the variant name ("kind") of every work item it writes, and the event type of
--     every event. Everything payload-like that is interpreted by the provider (custom status, KV
--     mutations, execution metadata) is also pre-extracted by C++ and passed as parameters.
--   * Variant recognition at fetch time is done in SQL from the stored text itself
--     (work_item_kind(): the first key of the outer JSON object, read with an anchored regular
--     expression on the first 256 characters). This makes quarantine (§7.3: text that is not a
--     work item, or a variant that does not belong on that queue, including unknown variants) and
--     orphan classification (§7.2: QueueMessage vs other; §5.1 step 5c: StartOrchestration /
--     ContinueAsNew present) decidable inside the one fetch round trip, and it stays truthful when
--     a row's text is overwritten behind the provider's back (the conformance corruption hooks).
--   * C++ remains the authority on deserialisation. A message row whose text passes the SQL check
--     but still fails to deserialize (e.g. a known variant with missing fields) is reported back
--     by calling the same fetch function again with p_reject_token / p_reject_ids: the rejected
--     rows are quarantined, the rest of that claim is rolled back (tags cleared, attempt counts
--     restored, lock released) and the scan continues, all in that second call. Rare path: two
--     round trips instead of one.
--   * History is returned as text; C++ deserializes it. A failure becomes history_error (§5.1
--     step 5a) in C++: the lock is kept (already committed), no SQL is needed.
--   * Cascade step 5b (no instance row) looks for OrchestrationStarted via the event_type column;
--     C++ reads name/version from that event (meta_source = 'history'). Step 5c takes name/version
--     from the batch's first StartOrchestration/ContinueAsNew (meta_source = 'message',
--     seq = that message's id). Known deviation: when the latest execution has no row typed
--     OrchestrationStarted, SQL treats the history as "parses but has no OrchestrationStarted" and
--     does not return it, so a corrupted history in that (no instance row, no started event)
--     corner is not reported as history_error.
--   * Lock tokens: the caller may pass its own (UUIDv4 text); otherwise gen_random_uuid() (core
--     since PG 13) is used.
--
-- CONCURRENCY DESIGN (no head-of-line blocking, no false "nothing", no deadlocks)
--   * Orchestration fetch: candidate instances are read (no row locks) from two small windows of
--     the orchestrator queue in FIFO order: "immediate" rows (visible_at <= created_at, partial
--     index ready_idx on id) and "delayed" rows whose time has come (visible_at > created_at, i.e.
--     timers, abandon delays, deferrals, quarantine; partial index delayed_idx on visible_at).
--     Instances with a live lock, instances already tried in this call, and (with a capability
--     filter) incompatible instances are filtered inside the windows. Each candidate is then
--     claimed without ever waiting: a transaction-scoped advisory try-lock keyed by
--     (schema, instance) (losing means "someone is claiming it": skip), then the instance-lock row
--     with FOR UPDATE SKIP LOCKED (a row held by an in-flight ack/abandon/renew is skipped, never
--     waited for). The instance claim always precedes any queue-row lock (§14.2). Failed,
--     orphan and fully-quarantined candidates are excluded and the scan moves on in the same call.
--   * Lock order everywhere: instance-lock row -> that instance's orchestrator rows -> instances /
--     executions / history / kv of that instance -> worker rows (cancellations) -> inserts.
--     Worker side: worker row -> session row -> inserts. No function takes locks in the opposite
--     order, so the only waits are short single-direction waits (an ack waiting for a fetch that
--     holds the same instance-lock row; a session claim waiting for a concurrent claim of the same
--     session), which cannot form cycles.
--   * Worker fetch: candidate ids are read from FIFO windows (unlocked untagged rows, unlocked
--     rows per requested tag, expired-lock rows), each row is then locked with FOR UPDATE SKIP
--     LOCKED and re-checked; a lost session claim excludes that session and moves on.
--   * Both fetches return a 'none' row with next_wake_at when nothing is eligible (§6.2 item 2).
--
-- AMBIGUOUS COMMIT (§5.2): every successful ack (orchestration and worker) records its token in
-- committed_tokens in the same transaction (pruned opportunistically by later acks after 10 min,
-- SKIP LOCKED, never waiting). An ack called with p_is_retry = true whose token is no longer live
-- returns false (= "had already committed") instead of raising QD001 if that record exists.

-- ============================================================================================
-- Tables
-- ============================================================================================

CREATE TABLE IF NOT EXISTS __SCHEMA__.instances (
    instance_id           text   PRIMARY KEY,
    orchestration_name    text   NOT NULL,
    orchestration_version text,
    current_execution_id  bigint NOT NULL CHECK (current_execution_id >= 1),
    parent_instance_id    text,
    custom_status         bytea,                -- payload: may contain U+0000, stored as UTF-8 bytes
    custom_status_version bigint NOT NULL DEFAULT 0,
    created_at            bigint NOT NULL,
    updated_at            bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_parent_idx
    ON __SCHEMA__.instances (parent_instance_id) WHERE parent_instance_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS __SCHEMA__.executions (
    instance_id   text   NOT NULL,
    execution_id  bigint NOT NULL CHECK (execution_id >= 1),
    status        text   NOT NULL,
    output        bytea,                        -- payload: may contain U+0000
    started_at    bigint NOT NULL,
    completed_at  bigint,
    pinned_major  bigint,
    pinned_minor  bigint,
    pinned_patch  bigint,
    PRIMARY KEY (instance_id, execution_id),
    CHECK ((pinned_major IS NULL) = (pinned_minor IS NULL)
           AND (pinned_major IS NULL) = (pinned_patch IS NULL))
);

CREATE TABLE IF NOT EXISTS __SCHEMA__.history (
    instance_id  text   NOT NULL,
    execution_id bigint NOT NULL CHECK (execution_id >= 1),
    event_id     bigint NOT NULL CHECK (event_id >= 1),
    event_type   text   NOT NULL,               -- the JSON "type" string (§3.6)
    event_data   text   NOT NULL,               -- exact JSON text of the event
    created_at   bigint NOT NULL,
    PRIMARY KEY (instance_id, execution_id, event_id)
);

CREATE TABLE IF NOT EXISTS __SCHEMA__.orchestrator_queue (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- FIFO enqueue sequence
    instance_id   text    NOT NULL,             -- routing instance (§3.1)
    work_item     text    NOT NULL,             -- exact JSON text of the WorkItem
    visible_at    bigint  NOT NULL,
    lock_token    text,                         -- batch tag of the fetch that claimed it
    attempt_count integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    created_at    bigint  NOT NULL              -- enqueue time (orphan deferral age)
);
-- Tagging, ack deletion, orphan handling and deletion by instance, in FIFO order.
CREATE INDEX IF NOT EXISTS orchestrator_queue_instance_idx
    ON __SCHEMA__.orchestrator_queue (instance_id, id);
-- Rows that were visible when written (the common case): FIFO scan without skipping timers.
CREATE INDEX IF NOT EXISTS orchestrator_queue_ready_idx
    ON __SCHEMA__.orchestrator_queue (id) WHERE visible_at <= created_at;
-- Rows written with a future visibility (timers, delays, deferrals, quarantine).
CREATE INDEX IF NOT EXISTS orchestrator_queue_delayed_idx
    ON __SCHEMA__.orchestrator_queue (visible_at) WHERE visible_at > created_at;
-- The same rows in FIFO order, for the fetch's window over them. Without it that window walked the
-- primary key through the whole queue (every ready row fails its filter): O(queue) per fetch.
CREATE INDEX IF NOT EXISTS orchestrator_queue_delayed_fifo_idx
    ON __SCHEMA__.orchestrator_queue (id) WHERE visible_at > created_at;

CREATE TABLE IF NOT EXISTS __SCHEMA__.worker_queue (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- FIFO enqueue sequence
    work_item     text    NOT NULL,             -- exact JSON text of the ActivityExecute
    visible_at    bigint  NOT NULL,
    lock_token    text,
    locked_until  bigint,
    attempt_count integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    created_at    bigint  NOT NULL,
    instance_id   text    NOT NULL,             -- identity, copied from the ActivityExecute
    execution_id  bigint  NOT NULL,
    activity_id   bigint  NOT NULL,
    session_id    text,
    tag           text,
    CHECK ((lock_token IS NULL) = (locked_until IS NULL))
);
-- Unlocked untagged rows in FIFO order (DefaultOnly / DefaultAnd / Any).
CREATE INDEX IF NOT EXISTS worker_queue_untagged_idx
    ON __SCHEMA__.worker_queue (id) WHERE lock_token IS NULL AND tag IS NULL;
-- Unlocked tagged rows, per tag in FIFO order (Tags / DefaultAnd / Any).
CREATE INDEX IF NOT EXISTS worker_queue_tagged_idx
    ON __SCHEMA__.worker_queue (tag, id) WHERE lock_token IS NULL AND tag IS NOT NULL;
-- Locked rows by expiry: lock-expiry recovery and the long-poll wake-up instant.
CREATE INDEX IF NOT EXISTS worker_queue_locked_idx
    ON __SCHEMA__.worker_queue (locked_until) WHERE lock_token IS NOT NULL;
-- Ack / renew / abandon by token.
CREATE UNIQUE INDEX IF NOT EXISTS worker_queue_token_idx
    ON __SCHEMA__.worker_queue (lock_token) WHERE lock_token IS NOT NULL;
-- Cancellation ("lock stealing") and deletion by identity.
CREATE INDEX IF NOT EXISTS worker_queue_identity_idx
    ON __SCHEMA__.worker_queue (instance_id, execution_id, activity_id);
-- Session cleanup (references from queue rows).
CREATE INDEX IF NOT EXISTS worker_queue_session_idx
    ON __SCHEMA__.worker_queue (session_id) WHERE session_id IS NOT NULL;
-- Unlocked rows delayed by abandon/quarantine: long-poll wake-up instant.
CREATE INDEX IF NOT EXISTS worker_queue_delayed_idx
    ON __SCHEMA__.worker_queue (visible_at) WHERE lock_token IS NULL AND visible_at > created_at;

CREATE TABLE IF NOT EXISTS __SCHEMA__.instance_locks (
    instance_id  text   PRIMARY KEY,
    lock_token   text   NOT NULL UNIQUE,
    locked_until bigint NOT NULL,
    locked_at    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS __SCHEMA__.sessions (
    session_id       text   PRIMARY KEY,
    worker_id        text   NOT NULL,
    locked_until     bigint NOT NULL,
    last_activity_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_worker_idx ON __SCHEMA__.sessions (worker_id);

CREATE TABLE IF NOT EXISTS __SCHEMA__.kv_store (
    instance_id        text   NOT NULL,
    key                text   NOT NULL,
    value              bytea  NOT NULL,          -- payload: may contain U+0000
    last_updated_at_ms bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, key)
);

CREATE TABLE IF NOT EXISTS __SCHEMA__.kv_delta (
    instance_id        text   NOT NULL,
    key                text   NOT NULL,
    value              bytea,                    -- NULL = tombstone
    last_updated_at_ms bigint NOT NULL,
    PRIMARY KEY (instance_id, key)
);

-- Tokens of committed acks, for the ambiguous-commit retry rule (§5.2, §5.10).
CREATE TABLE IF NOT EXISTS __SCHEMA__.committed_tokens (
    lock_token   text   PRIMARY KEY,
    instance_id  text   NOT NULL,
    kind         "char" NOT NULL,                -- 'o' orchestration ack, 'w' work-item ack
    committed_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS committed_tokens_at_idx ON __SCHEMA__.committed_tokens (committed_at);

-- ============================================================================================
-- Helpers (IMMUTABLE, inlinable)
-- ============================================================================================

-- now + duration, negative durations count as 0, saturating at int8 max.
CREATE OR REPLACE FUNCTION __SCHEMA__.sat_add(p_at bigint, p_duration_ms bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE
        WHEN p_duration_ms IS NULL OR p_duration_ms <= 0 THEN p_at
        WHEN p_at > 9223372036854775807 - p_duration_ms THEN 9223372036854775807
        ELSE p_at + p_duration_ms
    END
$fn$;

-- Variant name of a stored WorkItem text (first key of the outer object, whose value must be an
-- object), or NULL when the text does not look like an externally tagged work item.
CREATE OR REPLACE FUNCTION __SCHEMA__.work_item_kind(p_text text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT substring(left(p_text, 256) FROM '^\s*\{\s*"([A-Za-z0-9_]+)"\s*:\s*\{')
$fn$;

-- Variants that belong on the orchestrator queue (§3.1).
CREATE OR REPLACE FUNCTION __SCHEMA__.orchestrator_kinds()
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT '{StartOrchestration,ActivityCompleted,ActivityFailed,TimerFired,ExternalRaised,SubOrchCompleted,SubOrchFailed,CancelInstance,ContinueAsNew,QueueMessage}'::text[]
$fn$;

CREATE OR REPLACE FUNCTION __SCHEMA__.is_orchestrator_kind(p_kind text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT coalesce(p_kind = ANY (__SCHEMA__.orchestrator_kinds()), false)
$fn$;

-- Quarantine backoff after the n-th quarantine pass: min(base * 2^(n-1), cap) (§7.3).
CREATE OR REPLACE FUNCTION __SCHEMA__.quarantine_delay(p_n integer, p_base_ms bigint, p_max_ms bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT least(greatest(p_max_ms, 0)::numeric,
                 greatest(p_base_ms, 0)::numeric
                     * power(2::numeric, least(greatest(p_n - 1, 0), 62)))::bigint
$fn$;

-- Capability filter (§5.1 step 1): ranges flattened as [min_major, min_minor, min_patch,
-- max_major, max_minor, max_patch, ...]; inclusive, exact lexicographic triple comparison.
-- A NULL pinned version is always compatible.
CREATE OR REPLACE FUNCTION __SCHEMA__.version_in_ranges(p_major bigint, p_minor bigint, p_patch bigint,
                                                        p_ranges bigint[])
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
-- (plpgsql on purpose: a non-inlinable SQL function with a subquery costs ~30 us per call)
DECLARE
    i integer := 1;
    n integer := coalesce(cardinality(p_ranges), 0);
BEGIN
    IF p_major IS NULL THEN
        RETURN true;
    END IF;
    WHILE i + 5 <= n LOOP
        IF (p_major, p_minor, p_patch) >= (p_ranges[i], p_ranges[i + 1], p_ranges[i + 2])
           AND (p_major, p_minor, p_patch) <= (p_ranges[i + 3], p_ranges[i + 4], p_ranges[i + 5]) THEN
            RETURN true;
        END IF;
        i := i + 6;
    END LOOP;
    RETURN false;
END
$fn$;

-- advisory_seed(): a constant derived from the schema's exact name, mixed into the 64-bit
-- advisory-lock keys of instances so that keys never collide across schemas (§11.3, §14.2).
-- Created dynamically from the catalog (the name is only ever handled as data here, quoted with
-- %I), so the template does not need the schema name as a string literal.
DO $do$
DECLARE
    v_name text;
BEGIN
    SELECT n.nspname INTO STRICT v_name
      FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE t.oid = pg_catalog.pg_typeof(NULL::__SCHEMA__.instance_locks)::oid;
    EXECUTE format('CREATE OR REPLACE FUNCTION %I.advisory_seed() RETURNS bigint '
                   'LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                   v_name,
                   format('SELECT %s::bigint',
                          pg_catalog.hashtextextended('duroxide-pg/instance/' || v_name, 0)));
END
$do$;

-- ============================================================================================
-- Commit durability. Every transaction that records an outcome (enqueues, acks of orchestration
-- turns, appends, admin changes) commits synchronously: it returns only once its WAL is flushed.
-- Transactions that only take, extend or give back a lease (the fetches, renewals, abandons) set
-- synchronous_commit = off for themselves. Losing one in a server crash puts the queue back into
-- the state before it, which is what an expired lease does anyway, and nothing durable can depend
-- on it: a later synchronous commit (the ack that uses the lease) flushes the WAL, which is
-- sequential, through the lease's commit record too. It saves one WAL flush per fetch.
-- ============================================================================================
-- notify (§6.4): post-commit notification helper
-- ============================================================================================
-- PostgreSQL serializes the commits of all transactions that NOTIFY (PreCommit_Notify holds a
-- database-wide lock until the commit record is flushed), so a pg_notify inside every write
-- transaction caps the whole cluster at about one fsync per write (measured: 7x fewer enqueues/s
-- than without, see README). Every notifying function therefore takes its channel(s) as
-- parameters: non-NULL = notify inside the same transaction (contract-exact), NULL = no
-- notification, in which case the caller sends the hint with this function as the next
-- pipelined statement, in its own implicit transaction (own Sync) right after the write. That
-- transaction has no data changes, so it commits asynchronously and holds the lock for
-- microseconds. A NULL channel is skipped. The payload is a hint (epoch ms as text).
CREATE OR REPLACE FUNCTION __SCHEMA__.notify(
    p_orch_channel   text,
    p_orch_payload   text,
    p_worker_channel text DEFAULT NULL,
    p_worker_payload text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);   -- this transaction only
    IF p_orch_channel IS NOT NULL THEN
        PERFORM pg_notify(p_orch_channel, coalesce(p_orch_payload, ''));
    END IF;
    IF p_worker_channel IS NOT NULL THEN
        PERFORM pg_notify(p_worker_channel, coalesce(p_worker_payload, ''));
    END IF;
END
$fn$;

-- ============================================================================================
-- enqueue_for_orchestrator (§5.15)
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.enqueue_for_orchestrator(
    p_now         bigint,
    p_instance_id text,      -- routing instance (parent_instance for SubOrch*)
    p_kind        text,      -- WorkItem variant name
    p_work_item   text,      -- exact JSON text
    p_delay_ms    bigint DEFAULT NULL,
    p_channel     text   DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_visible bigint := __SCHEMA__.sat_add(p_now, p_delay_ms);
    v_id      bigint;
BEGIN
    IF NOT __SCHEMA__.is_orchestrator_kind(p_kind) THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008',
            MESSAGE = format('Invalid work item type: %s cannot be enqueued to the orchestrator queue',
                             coalesce(p_kind, '<null>'));
    END IF;
    INSERT INTO __SCHEMA__.orchestrator_queue (instance_id, work_item, visible_at, created_at)
    VALUES (p_instance_id, p_work_item, v_visible, p_now)
    RETURNING id INTO v_id;
    IF p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, v_visible::text);
    END IF;
    RETURN v_id;
END
$fn$;

-- ============================================================================================
-- enqueue_for_worker (§5.8)
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.enqueue_for_worker(
    p_now          bigint,
    p_kind         text,     -- must be 'ActivityExecute'
    p_work_item    text,
    p_instance_id  text,
    p_execution_id bigint,
    p_activity_id  bigint,
    p_session_id   text DEFAULT NULL,
    p_tag          text DEFAULT NULL,
    p_channel      text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_id bigint;
BEGIN
    IF p_kind IS DISTINCT FROM 'ActivityExecute' THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008',
            MESSAGE = format('Invalid work item type: %s cannot be enqueued to the worker queue',
                             coalesce(p_kind, '<null>'));
    END IF;
    INSERT INTO __SCHEMA__.worker_queue (work_item, visible_at, created_at, instance_id,
                                        execution_id, activity_id, session_id, tag)
    VALUES (p_work_item, p_now, p_now, p_instance_id, p_execution_id, p_activity_id,
            p_session_id, p_tag)
    RETURNING id INTO v_id;
    IF p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, p_now::text);
    END IF;
    RETURN v_id;
END
$fn$;

-- ============================================================================================
-- fetch_orchestration_item (§5.1, §7)
-- ============================================================================================
-- Result rows, in this order (zero rows never happen):
--   'none'    nothing eligible; next_wake_at = earliest instant time alone may make work eligible
--             (NULL: none known). No lock is held.
--   'item'    header: instance_id, execution_id, orchestration_name, orchestration_version,
--             meta_source ('instance' | 'history' | 'message'), lock_token, attempt_count (max over
--             the batch), seq (meta_source = 'message': id of the message to take name/version from)
--   'message' one per batch message in enqueue order: seq = queue id, body = WorkItem JSON,
--             attempt_count = that row's count
--   'history' one per event of execution_id in event_id order: seq = event_id, body = Event JSON
--             (absent when meta_source = 'message')
--   'kv'      one per kv_store row of the instance: body = key, kv_value, kv_updated_at
CREATE OR REPLACE FUNCTION __SCHEMA__.fetch_orchestration_item(
    p_now                bigint,
    p_lock_timeout_ms    bigint,
    p_version_ranges     bigint[] DEFAULT NULL,   -- NULL: no filter; flattened 6 per range
    p_lock_token         text     DEFAULT NULL,   -- NULL: generated
    p_reject_token       text     DEFAULT NULL,   -- token of a previous claim with bad rows
    p_reject_ids         bigint[] DEFAULT NULL,   -- queue ids of that claim that failed to parse
    p_orphan_min_ms      bigint   DEFAULT 1000,
    p_orphan_max_ms      bigint   DEFAULT 60000,
    p_quarantine_base_ms bigint   DEFAULT 1000,
    p_quarantine_max_ms  bigint   DEFAULT 60000,
    p_channel            text     DEFAULT NULL)   -- orchestrator notification channel
RETURNS TABLE (row_type text, instance_id text, execution_id bigint, orchestration_name text,
               orchestration_version text, meta_source text, lock_token text,
               attempt_count integer, seq bigint, body text, kv_value bytea,
               kv_updated_at bigint, next_wake_at bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    k_window     CONSTANT integer := 8;
    v_token      text   := coalesce(p_lock_token, gen_random_uuid()::text);
    v_until      bigint := __SCHEMA__.sat_add(p_now, p_lock_timeout_ms);
    v_excl       text[] := '{}';
    v_cands      text[];
    v_inst       text;
    v_prev_token text;
    v_prev_until bigint;
    v_prev_at    bigint;
    v_had_prev   boolean;
    v_ids        bigint[];
    v_items      text[];
    v_attempts   integer[];
    v_kinds      text[];
    v_bad        bigint[];
    v_max_attempt integer;
    v_meta_id    bigint;
    v_name       text;
    v_version    text;
    v_exec       bigint;
    v_source     text;
    v_notify_at  bigint;
    v_at         bigint;
    v_wake       bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- a lease only: see "Commit durability"
    IF p_version_ranges IS NOT NULL AND cardinality(p_version_ranges) < 6 THEN
        -- an empty range list supports nothing (the C++ side normally short-circuits this)
        RETURN QUERY SELECT 'none'::text, NULL::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::integer, NULL::bigint, NULL::text,
                            NULL::bytea, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;

    -- Rejected rows of a previous claim (C++ could not deserialize them): quarantine those,
    -- roll the rest of that claim back, release its lock, then scan normally.
    IF p_reject_token IS NOT NULL THEN
        SELECT l.instance_id INTO v_inst
          FROM __SCHEMA__.instance_locks l
         WHERE l.lock_token = p_reject_token
           FOR UPDATE;
        IF FOUND THEN
            WITH upd AS (
                UPDATE __SCHEMA__.orchestrator_queue q
                   SET lock_token = NULL,
                       visible_at = CASE WHEN q.id = ANY (p_reject_ids)
                                         THEN __SCHEMA__.sat_add(p_now,
                                                  __SCHEMA__.quarantine_delay(q.attempt_count,
                                                      p_quarantine_base_ms, p_quarantine_max_ms))
                                         ELSE q.visible_at END,
                       attempt_count = CASE WHEN q.id = ANY (p_reject_ids) THEN q.attempt_count
                                            ELSE greatest(q.attempt_count - 1, 0) END
                 WHERE q.instance_id = v_inst AND q.lock_token = p_reject_token
                RETURNING q.visible_at)
            SELECT min(upd.visible_at) INTO v_notify_at FROM upd;
            DELETE FROM __SCHEMA__.instance_locks l WHERE l.lock_token = p_reject_token;
            v_notify_at := least(v_notify_at, p_now);
        END IF;
    END IF;

    <<scan>>
    LOOP
        -- Candidate instances in FIFO order of their oldest visible row (see header).
        SELECT array_agg(c.instance_id ORDER BY c.first_id) INTO v_cands
          FROM (SELECT w.instance_id, min(w.id) AS first_id
                  FROM ((SELECT q.id, q.instance_id
                           FROM __SCHEMA__.orchestrator_queue q
                          WHERE q.visible_at <= q.created_at
                            AND q.visible_at <= p_now
                            AND q.instance_id <> ALL (v_excl)
                            AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l
                                             WHERE l.instance_id = q.instance_id
                                               AND l.locked_until > p_now)
                            -- correlated scalar lookup (PK probes) on purpose: a NOT EXISTS
                            -- here may become a hashed subplan over all executions
                            AND (p_version_ranges IS NULL OR coalesce((
                                    SELECT __SCHEMA__.version_in_ranges(e.pinned_major,
                                               e.pinned_minor, e.pinned_patch, p_version_ranges)
                                      FROM __SCHEMA__.instances i
                                      JOIN __SCHEMA__.executions e
                                        ON e.instance_id = i.instance_id
                                       AND e.execution_id = i.current_execution_id
                                     WHERE i.instance_id = q.instance_id), true))
                          ORDER BY q.id
                          LIMIT k_window)
                        UNION ALL
                        (SELECT q.id, q.instance_id
                           FROM __SCHEMA__.orchestrator_queue q
                          WHERE q.visible_at > q.created_at
                            AND q.visible_at <= p_now
                            AND q.instance_id <> ALL (v_excl)
                            AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l
                                             WHERE l.instance_id = q.instance_id
                                               AND l.locked_until > p_now)
                            -- correlated scalar lookup (PK probes) on purpose: a NOT EXISTS
                            -- here may become a hashed subplan over all executions
                            AND (p_version_ranges IS NULL OR coalesce((
                                    SELECT __SCHEMA__.version_in_ranges(e.pinned_major,
                                               e.pinned_minor, e.pinned_patch, p_version_ranges)
                                      FROM __SCHEMA__.instances i
                                      JOIN __SCHEMA__.executions e
                                        ON e.instance_id = i.instance_id
                                       AND e.execution_id = i.current_execution_id
                                     WHERE i.instance_id = q.instance_id), true))
                          ORDER BY q.id
                          LIMIT k_window)) w
                 GROUP BY w.instance_id) c;

        EXIT scan WHEN v_cands IS NULL;

        <<candidates>>
        FOREACH v_inst IN ARRAY v_cands LOOP
            v_excl := v_excl || v_inst;

            -- 1. Never wait: somebody else claiming this instance right now => taken.
            CONTINUE candidates WHEN NOT pg_try_advisory_xact_lock(
                hashtextextended(v_inst, __SCHEMA__.advisory_seed()));

            -- 2. Acquire the instance lock (single-statement claims, no waiting). The common case,
            -- no lock row at all (acks delete it), is one statement. Every fetcher holds the
            -- advisory lock above, so no uncommitted insert of this key can exist for the INSERT
            -- to wait on; a row this snapshot sees (perhaps being deleted by an in-flight ack)
            -- means: go through the row-lock path below.
            INSERT INTO __SCHEMA__.instance_locks (instance_id, lock_token, locked_until, locked_at)
            SELECT v_inst, v_token, v_until, p_now
             WHERE NOT EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l WHERE l.instance_id = v_inst)
            ON CONFLICT (instance_id) DO NOTHING;
            IF FOUND THEN
                v_had_prev := false;
            ELSE
                SELECT l.lock_token, l.locked_until, l.locked_at
                  INTO v_prev_token, v_prev_until, v_prev_at
                  FROM __SCHEMA__.instance_locks l
                 WHERE l.instance_id = v_inst
                   FOR UPDATE SKIP LOCKED;
                -- no row (deleted meanwhile: a later scan finds the instance), a row held by an
                -- in-flight ack/abandon/renew, or a live lock: taken
                CONTINUE candidates WHEN NOT FOUND OR v_prev_until > p_now;
                UPDATE __SCHEMA__.instance_locks l
                   SET lock_token = v_token, locked_until = v_until, locked_at = p_now
                 WHERE l.instance_id = v_inst;
                v_had_prev := true;
            END IF;

            -- 3. Tag every visible row of the instance (stale tags included); 4. classify.
            WITH t AS (
                UPDATE __SCHEMA__.orchestrator_queue q
                   SET lock_token = v_token, attempt_count = q.attempt_count + 1
                 WHERE q.instance_id = v_inst AND q.visible_at <= p_now
                RETURNING q.id, q.work_item, q.attempt_count,
                          __SCHEMA__.work_item_kind(q.work_item) AS kind),
            c AS (SELECT t.*, __SCHEMA__.is_orchestrator_kind(t.kind) AS ok FROM t)
            SELECT array_agg(c.id ORDER BY c.id) FILTER (WHERE c.ok),
                   array_agg(c.work_item ORDER BY c.id) FILTER (WHERE c.ok),
                   array_agg(c.attempt_count ORDER BY c.id) FILTER (WHERE c.ok),
                   array_agg(c.kind ORDER BY c.id) FILTER (WHERE c.ok),
                   array_agg(c.id) FILTER (WHERE NOT c.ok),
                   max(c.attempt_count) FILTER (WHERE c.ok)
              INTO v_ids, v_items, v_attempts, v_kinds, v_bad, v_max_attempt
              FROM c;

            IF v_bad IS NOT NULL THEN
                -- Quarantine (§7.3): keep the claim's increment, untag, back off.
                WITH qu AS (
                    UPDATE __SCHEMA__.orchestrator_queue q
                       SET lock_token = NULL,
                           visible_at = __SCHEMA__.sat_add(p_now,
                               __SCHEMA__.quarantine_delay(q.attempt_count,
                                   p_quarantine_base_ms, p_quarantine_max_ms))
                     WHERE q.id = ANY (v_bad)
                    RETURNING q.visible_at)
                SELECT min(qu.visible_at) INTO v_at FROM qu;
                v_notify_at := least(v_notify_at, v_at);
            END IF;

            v_source := NULL;
            v_meta_id := NULL;
            IF v_ids IS NOT NULL THEN
                -- 5. Who is this instance?
                SELECT i.orchestration_name, coalesce(i.orchestration_version, 'unknown'),
                       i.current_execution_id
                  INTO v_name, v_version, v_exec
                  FROM __SCHEMA__.instances i
                 WHERE i.instance_id = v_inst;
                IF FOUND THEN
                    v_source := 'instance';                                   -- 5a
                ELSE
                    v_name := NULL;
                    v_version := NULL;
                    SELECT max(e.execution_id) INTO v_exec
                      FROM __SCHEMA__.executions e
                     WHERE e.instance_id = v_inst;
                    IF v_exec IS NOT NULL AND EXISTS (
                           SELECT 1 FROM __SCHEMA__.history h
                            WHERE h.instance_id = v_inst AND h.execution_id = v_exec
                              AND h.event_type = 'OrchestrationStarted') THEN
                        v_source := 'history';                                -- 5b
                    ELSE
                        SELECT u.id INTO v_meta_id
                          FROM unnest(v_ids, v_kinds) AS u(id, kind)
                         WHERE u.kind IN ('StartOrchestration', 'ContinueAsNew')
                         ORDER BY u.id
                         LIMIT 1;
                        IF v_meta_id IS NOT NULL THEN
                            v_source := 'message';                            -- 5c
                            v_exec := 1;
                        ELSE
                            -- 5d orphan batch (§7.2): drop QueueMessages, defer the rest.
                            DELETE FROM __SCHEMA__.orchestrator_queue q
                             WHERE q.id IN (SELECT u.id FROM unnest(v_ids, v_kinds) AS u(id, kind)
                                             WHERE u.kind = 'QueueMessage');
                            WITH d AS (
                                UPDATE __SCHEMA__.orchestrator_queue q
                                   SET lock_token = NULL,
                                       attempt_count = greatest(q.attempt_count - 1, 0),
                                       visible_at = __SCHEMA__.sat_add(p_now,
                                           least(greatest((p_now - q.created_at) / 2,
                                                          p_orphan_min_ms),
                                                 p_orphan_max_ms))
                                 WHERE q.id IN (SELECT u.id
                                                  FROM unnest(v_ids, v_kinds) AS u(id, kind)
                                                 WHERE u.kind <> 'QueueMessage')
                                RETURNING q.visible_at)
                            SELECT min(d.visible_at) INTO v_at FROM d;
                            v_notify_at := least(v_notify_at, v_at);
                        END IF;
                    END IF;
                END IF;
            END IF;

            IF v_source IS NULL THEN
                -- Nothing processable: give the instance lock back exactly as it was.
                IF v_had_prev THEN
                    UPDATE __SCHEMA__.instance_locks l
                       SET lock_token = v_prev_token, locked_until = v_prev_until,
                           locked_at = v_prev_at
                     WHERE l.instance_id = v_inst;
                ELSE
                    DELETE FROM __SCHEMA__.instance_locks l WHERE l.instance_id = v_inst;
                END IF;
                CONTINUE candidates;
            END IF;

            -- 6./7. Success: header, messages, history, kv snapshot.
            IF v_notify_at IS NOT NULL AND p_channel IS NOT NULL THEN
                PERFORM pg_notify(p_channel, v_notify_at::text);
            END IF;
            -- next_wake_at of the item row: p_now when other instances had work visible to this
            -- scan (another fetcher may find some now), NULL when this was the last candidate
            -- (candidates are distinct instances, in scan order).
            -- (RETURN NEXT of the output variables needs no executor run, RETURN QUERY does)
            row_type := 'item'; instance_id := v_inst; execution_id := v_exec;
            orchestration_name := v_name; orchestration_version := v_version;
            meta_source := v_source; lock_token := v_token; seq := v_meta_id; body := NULL;
            kv_value := NULL; kv_updated_at := NULL;
            attempt_count := v_max_attempt;
            next_wake_at := CASE WHEN v_inst <> v_cands[cardinality(v_cands)] THEN p_now END;
            RETURN NEXT;
            RETURN QUERY
                SELECT 'message'::text, NULL::text, NULL::bigint, NULL::text, NULL::text,
                       NULL::text, NULL::text, u.attempt, u.id, u.item, NULL::bytea,
                       NULL::bigint, NULL::bigint
                  FROM unnest(v_ids, v_items, v_attempts) WITH ORDINALITY AS u(id, item, attempt, ord)
                 ORDER BY u.ord;
            IF v_source <> 'message' THEN
                RETURN QUERY
                    SELECT 'history'::text, NULL::text, NULL::bigint, NULL::text, NULL::text,
                           NULL::text, NULL::text, NULL::integer, h.event_id, h.event_data,
                           NULL::bytea, NULL::bigint, NULL::bigint
                      FROM __SCHEMA__.history h
                     WHERE h.instance_id = v_inst AND h.execution_id = v_exec
                     ORDER BY h.event_id;
            END IF;
            RETURN QUERY
                SELECT 'kv'::text, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text,
                       NULL::text, NULL::integer, NULL::bigint, k.key, k.value,
                       k.last_updated_at_ms, NULL::bigint
                  FROM __SCHEMA__.kv_store k
                 WHERE k.instance_id = v_inst
                 ORDER BY k.key;
            RETURN;
        END LOOP candidates;
    END LOOP scan;

    -- Nothing eligible: earliest instant at which time alone can change that (may be early).
    SELECT least(
               (SELECT min(q.visible_at) FROM __SCHEMA__.orchestrator_queue q
                 WHERE q.visible_at > q.created_at AND q.visible_at > p_now),
               (SELECT min(q.visible_at) FROM __SCHEMA__.orchestrator_queue q
                 WHERE q.visible_at <= q.created_at AND q.visible_at > p_now),  -- clock skew only
               (SELECT min(l.locked_until) FROM __SCHEMA__.instance_locks l
                 WHERE l.locked_until > p_now))
      INTO v_wake;
    IF v_notify_at IS NOT NULL AND p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, v_notify_at::text);
    END IF;
    RETURN QUERY SELECT 'none'::text, NULL::text, NULL::bigint, NULL::text, NULL::text,
                        NULL::text, NULL::text, NULL::integer, NULL::bigint, NULL::text,
                        NULL::bytea, NULL::bigint, v_wake;
END
$fn$;

-- ============================================================================================
-- ack_orchestration_item (§5.2)
-- ============================================================================================
-- Returns true when applied now, false when p_is_retry and the token had already been committed
-- by an earlier attempt (ambiguous commit): nothing is applied a second time.
CREATE OR REPLACE FUNCTION __SCHEMA__.ack_orchestration_item(
    p_now                  bigint,
    p_lock_token           text,
    p_execution_id         bigint,
    -- history delta (parallel arrays, delta order)
    p_event_ids            bigint[],
    p_event_types          text[],
    p_event_datas          text[],
    -- worker items (parallel arrays, list order)
    p_worker_kinds         text[],
    p_worker_items         text[],
    p_worker_instances     text[],
    p_worker_execution_ids bigint[],
    p_worker_activity_ids  bigint[],
    p_worker_session_ids   text[],
    p_worker_tags          text[],
    -- orchestrator items (parallel arrays, list order)
    p_orch_kinds           text[],
    p_orch_items           text[],
    p_orch_instances       text[],   -- routing instance (parent_instance for SubOrch*)
    p_orch_fire_at         bigint[], -- TimerFired.fire_at_ms, NULL for other kinds
    -- execution metadata
    p_meta_name            text,
    p_meta_version         text,
    p_meta_parent          text,
    p_meta_status          text,
    p_meta_output          bytea,
    p_pinned_major         bigint,
    p_pinned_minor         bigint,
    p_pinned_patch         bigint,
    -- cancelled activities (parallel arrays)
    p_cancel_instances     text[],
    p_cancel_execution_ids bigint[],
    p_cancel_activity_ids  bigint[],
    -- last CustomStatusUpdated of the delta
    p_custom_status_set    boolean,
    p_custom_status        bytea,
    -- KV mutations of the delta, in delta order: op 'set' | 'clear' | 'clear_all'
    p_kv_ops               text[],
    p_kv_keys              text[],
    p_kv_values            bytea[],
    p_kv_updated_at        bigint[],
    -- misc
    p_is_retry             boolean DEFAULT false,
    p_orch_channel         text    DEFAULT NULL,
    p_worker_channel       text    DEFAULT NULL,
    -- applied: false for an ambiguous-commit retry whose first attempt had committed.
    -- wake_orchestrators: fetchers may now find orchestrator work they could not before (this turn
    -- enqueued some, or messages for the instance arrived while it was locked).
    OUT applied            boolean,
    OUT wake_orchestrators boolean)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_inst        text;
    v_until       bigint;
    v_n           integer;
    v_cs_set      boolean := coalesce(p_custom_status_set, false);
    v_terminal    boolean := p_meta_status IN ('Completed', 'Failed', 'ContinuedAsNew');
    v_last_clear  bigint;
    v_kv_n        integer := coalesce(cardinality(p_kv_ops), 0);
BEGIN
    -- 1. Lock and validate the token before any other effect.
    SELECT l.instance_id, l.locked_until INTO v_inst, v_until
      FROM __SCHEMA__.instance_locks l
     WHERE l.lock_token = p_lock_token
       FOR UPDATE;
    IF NOT FOUND THEN
        IF p_is_retry AND EXISTS (SELECT 1 FROM __SCHEMA__.committed_tokens c
                                   WHERE c.lock_token = p_lock_token AND c.kind = 'o') THEN
            -- (the first attempt's after-commit wake-up may never have been sent)
            applied := false;
            wake_orchestrators := true;
            RETURN;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'QD001',
            MESSAGE = 'Invalid lock token: not held (never issued, already acked or abandoned, taken over after expiry, or instance deleted)';
    END IF;
    IF v_until <= p_now THEN
        RAISE EXCEPTION USING ERRCODE = 'QD002',
            MESSAGE = 'Invalid lock token: the instance lock has expired';
    END IF;

    -- Argument validation (all or nothing; the lock stays held on failure).
    IF p_execution_id IS NULL OR p_execution_id < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: execution_id must be >= 1';
    END IF;
    v_n := coalesce(cardinality(p_event_ids), 0);
    IF coalesce(cardinality(p_event_types), 0) <> v_n OR coalesce(cardinality(p_event_datas), 0) <> v_n THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: history delta arrays differ in length';
    END IF;
    -- (the element checks are written without subqueries: plpgsql evaluates such expressions
    -- directly instead of starting an executor for each)
    IF p_event_ids IS NOT NULL AND NOT coalesce(1 <= ALL (p_event_ids), false) THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: event_id must be >= 1';
    END IF;
    v_n := coalesce(cardinality(p_worker_items), 0);
    IF coalesce(cardinality(p_worker_kinds), 0) <> v_n
       OR coalesce(cardinality(p_worker_instances), 0) <> v_n
       OR coalesce(cardinality(p_worker_execution_ids), 0) <> v_n
       OR coalesce(cardinality(p_worker_activity_ids), 0) <> v_n
       OR coalesce(cardinality(p_worker_session_ids), v_n) <> v_n
       OR coalesce(cardinality(p_worker_tags), v_n) <> v_n THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: worker item arrays differ in length';
    END IF;
    IF p_worker_kinds IS NOT NULL AND NOT coalesce('ActivityExecute' = ALL (p_worker_kinds), false) THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008',
            MESSAGE = 'Invalid work item type: worker_items may only contain ActivityExecute';
    END IF;
    v_n := coalesce(cardinality(p_orch_items), 0);
    IF coalesce(cardinality(p_orch_kinds), 0) <> v_n
       OR coalesce(cardinality(p_orch_instances), 0) <> v_n
       OR coalesce(cardinality(p_orch_fire_at), v_n) <> v_n THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: orchestrator item arrays differ in length';
    END IF;
    IF p_orch_kinds IS NOT NULL AND NOT coalesce(p_orch_kinds <@ __SCHEMA__.orchestrator_kinds(), false) THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008',
            MESSAGE = 'Invalid work item type: orchestrator_items may not contain ActivityExecute or unknown variants';
    END IF;
    v_n := coalesce(cardinality(p_cancel_instances), 0);
    IF coalesce(cardinality(p_cancel_execution_ids), 0) <> v_n
       OR coalesce(cardinality(p_cancel_activity_ids), 0) <> v_n THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: cancelled activity arrays differ in length';
    END IF;
    IF coalesce(cardinality(p_kv_keys), 0) <> v_kv_n
       OR coalesce(cardinality(p_kv_values), v_kv_n) <> v_kv_n
       OR coalesce(cardinality(p_kv_updated_at), v_kv_n) <> v_kv_n
       OR (p_kv_ops IS NOT NULL AND NOT coalesce(p_kv_ops <@ '{set,clear,clear_all}'::text[], false)) THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: malformed KV mutation arrays';
    END IF;

    -- 3./6./9. Instance row: create/update from metadata, move the pointer, custom status.
    IF p_meta_name IS NOT NULL AND p_meta_version IS NOT NULL THEN
        INSERT INTO __SCHEMA__.instances AS i
               (instance_id, orchestration_name, orchestration_version, current_execution_id,
                parent_instance_id, custom_status, custom_status_version, created_at, updated_at)
        VALUES (v_inst, p_meta_name, p_meta_version, p_execution_id, p_meta_parent,
                CASE WHEN v_cs_set THEN p_custom_status END, CASE WHEN v_cs_set THEN 1 ELSE 0 END,
                p_now, p_now)
        ON CONFLICT (instance_id) DO UPDATE
           SET orchestration_name    = excluded.orchestration_name,
               orchestration_version = excluded.orchestration_version,
               parent_instance_id    = coalesce(i.parent_instance_id, excluded.parent_instance_id),
               current_execution_id  = greatest(i.current_execution_id, excluded.current_execution_id),
               custom_status         = CASE WHEN v_cs_set THEN p_custom_status ELSE i.custom_status END,
               custom_status_version = i.custom_status_version + CASE WHEN v_cs_set THEN 1 ELSE 0 END,
               updated_at            = p_now;
    ELSE
        UPDATE __SCHEMA__.instances i
           SET current_execution_id  = greatest(i.current_execution_id, p_execution_id),
               custom_status         = CASE WHEN v_cs_set THEN p_custom_status ELSE i.custom_status END,
               custom_status_version = i.custom_status_version + CASE WHEN v_cs_set THEN 1 ELSE 0 END,
               updated_at            = p_now
         WHERE i.instance_id = v_inst;
    END IF;

    -- 4./5./8. Execution row: insert-if-absent, pinned version when told, status/output.
    INSERT INTO __SCHEMA__.executions AS e
           (instance_id, execution_id, status, output, started_at, completed_at,
            pinned_major, pinned_minor, pinned_patch)
    VALUES (v_inst, p_execution_id, coalesce(p_meta_status, 'Running'),
            CASE WHEN p_meta_status IS NOT NULL THEN p_meta_output END,
            p_now, CASE WHEN v_terminal THEN p_now END,
            p_pinned_major, p_pinned_minor, p_pinned_patch)
    ON CONFLICT (instance_id, execution_id) DO UPDATE
       SET status       = CASE WHEN p_meta_status IS NOT NULL THEN p_meta_status ELSE e.status END,
           output       = CASE WHEN p_meta_status IS NOT NULL THEN p_meta_output ELSE e.output END,
           completed_at = CASE WHEN p_meta_status IS NULL THEN e.completed_at
                               WHEN v_terminal THEN p_now END,
           pinned_major = CASE WHEN p_pinned_major IS NOT NULL THEN p_pinned_major ELSE e.pinned_major END,
           pinned_minor = CASE WHEN p_pinned_major IS NOT NULL THEN p_pinned_minor ELSE e.pinned_minor END,
           pinned_patch = CASE WHEN p_pinned_major IS NOT NULL THEN p_pinned_patch ELSE e.pinned_patch END
     WHERE p_meta_status IS NOT NULL OR p_pinned_major IS NOT NULL;

    -- 7. Append history (append-only; a duplicate key fails the whole ack with 23505).
    IF coalesce(cardinality(p_event_ids), 0) > 0 THEN
        INSERT INTO __SCHEMA__.history (instance_id, execution_id, event_id, event_type, event_data, created_at)
        SELECT v_inst, p_execution_id, u.id, u.typ, u.data, p_now
          FROM unnest(p_event_ids, p_event_types, p_event_datas) AS u(id, typ, data);
    END IF;

    -- 10. KV delta (set-based; the last mutation of each key wins, clear_all in order).
    IF v_kv_n > 0 THEN
        SELECT max(u.ord) INTO v_last_clear
          FROM unnest(p_kv_ops) WITH ORDINALITY AS u(op, ord)
         WHERE u.op = 'clear_all';
        IF v_last_clear IS NOT NULL THEN
            UPDATE __SCHEMA__.kv_delta d
               SET value = NULL, last_updated_at_ms = p_now
             WHERE d.instance_id = v_inst;
            INSERT INTO __SCHEMA__.kv_delta (instance_id, key, value, last_updated_at_ms)
            SELECT v_inst, s.key, NULL::bytea, p_now
              FROM __SCHEMA__.kv_store s
             WHERE s.instance_id = v_inst
            UNION
            SELECT v_inst, u.key, NULL::bytea, p_now
              FROM unnest(p_kv_ops, p_kv_keys) WITH ORDINALITY AS u(op, key, ord)
             WHERE u.ord < v_last_clear AND u.op <> 'clear_all'
            ON CONFLICT (instance_id, key) DO NOTHING;
        END IF;
        INSERT INTO __SCHEMA__.kv_delta AS d (instance_id, key, value, last_updated_at_ms)
        SELECT DISTINCT ON (u.key) v_inst, u.key,
               CASE WHEN u.op = 'set' THEN u.val END,
               CASE WHEN u.op = 'set' THEN coalesce(u.ts, 0) ELSE p_now END
          FROM unnest(p_kv_ops, p_kv_keys, p_kv_values, p_kv_updated_at)
               WITH ORDINALITY AS u(op, key, val, ts, ord)
         WHERE u.ord > coalesce(v_last_clear, 0) AND u.op <> 'clear_all'
         ORDER BY u.key, u.ord DESC
        ON CONFLICT (instance_id, key) DO UPDATE
           SET value = excluded.value, last_updated_at_ms = excluded.last_updated_at_ms;
    END IF;
    IF v_terminal THEN
        -- Terminal turn: merge the delta into the store and clear it.
        DELETE FROM __SCHEMA__.kv_store s
         USING __SCHEMA__.kv_delta d
         WHERE s.instance_id = v_inst AND d.instance_id = v_inst
           AND d.key = s.key AND d.value IS NULL;
        INSERT INTO __SCHEMA__.kv_store AS s (instance_id, key, value, last_updated_at_ms)
        SELECT d.instance_id, d.key, d.value, d.last_updated_at_ms
          FROM __SCHEMA__.kv_delta d
         WHERE d.instance_id = v_inst AND d.value IS NOT NULL
        ON CONFLICT (instance_id, key) DO UPDATE
           SET value = excluded.value, last_updated_at_ms = excluded.last_updated_at_ms;
        DELETE FROM __SCHEMA__.kv_delta d WHERE d.instance_id = v_inst;
    END IF;

    -- 11. Worker items, in list order.
    IF coalesce(cardinality(p_worker_items), 0) > 0 THEN
        INSERT INTO __SCHEMA__.worker_queue (work_item, visible_at, created_at, instance_id,
                                            execution_id, activity_id, session_id, tag)
        SELECT u.item, p_now, p_now, u.inst, u.exec, u.act, u.sess, u.tag
          FROM unnest(p_worker_items, p_worker_instances, p_worker_execution_ids,
                      p_worker_activity_ids, p_worker_session_ids, p_worker_tags)
               WITH ORDINALITY AS u(item, inst, exec, act, sess, tag, ord)
         ORDER BY u.ord;
    END IF;

    -- 12. Cancelled activities, after the inserts (same-turn schedule + cancel nets to nothing).
    IF coalesce(cardinality(p_cancel_instances), 0) > 0 THEN
        DELETE FROM __SCHEMA__.worker_queue w
         USING unnest(p_cancel_instances, p_cancel_execution_ids, p_cancel_activity_ids)
               AS c(inst, exec, act)
         WHERE w.instance_id = c.inst AND w.execution_id = c.exec AND w.activity_id = c.act;
    END IF;

    -- 13. Orchestrator items, in list order; TimerFired visible at fire_at_ms.
    IF coalesce(cardinality(p_orch_items), 0) > 0 THEN
        INSERT INTO __SCHEMA__.orchestrator_queue (instance_id, work_item, visible_at, created_at)
        SELECT u.inst, u.item,
               CASE WHEN u.kind = 'TimerFired' THEN coalesce(u.fire_at, p_now) ELSE p_now END,
               p_now
          FROM unnest(p_orch_kinds, p_orch_items, p_orch_instances, p_orch_fire_at)
               WITH ORDINALITY AS u(kind, item, inst, fire_at, ord)
         ORDER BY u.ord;
    END IF;

    -- 2./14. Delete the messages of this turn (rows tagged with this token), release the lock,
    -- remember the token (ambiguous commit) and prune old records, in one statement. Only rows
    -- with this token are deleted, so the rows step 13 inserted are untouched whatever the order.
    WITH m AS (
        DELETE FROM __SCHEMA__.orchestrator_queue q
         WHERE q.instance_id = v_inst AND q.lock_token = p_lock_token),
    l AS (
        DELETE FROM __SCHEMA__.instance_locks l WHERE l.instance_id = v_inst),
    g AS (   -- prune ambiguous-commit records past their 10 minutes, a few per ack
        DELETE FROM __SCHEMA__.committed_tokens c
         WHERE c.lock_token IN (SELECT o.lock_token FROM __SCHEMA__.committed_tokens o
                                 WHERE o.committed_at < p_now - 600000
                                 ORDER BY o.committed_at
                                 LIMIT 4
                                   FOR UPDATE SKIP LOCKED))
    INSERT INTO __SCHEMA__.committed_tokens (lock_token, instance_id, kind, committed_at)
    VALUES (p_lock_token, v_inst, 'o', p_now)
    ON CONFLICT (lock_token) DO NOTHING;
    -- Waking every orchestration fetcher after every turn cost one empty scan per turn; wake
    -- them only when this turn made orchestrator work fetchable (rows consumed by the turn are
    -- deleted above, so any visible row left for the instance arrived while it was locked).
    wake_orchestrators := coalesce(cardinality(p_orch_items), 0) > 0
                          OR EXISTS (SELECT 1 FROM __SCHEMA__.orchestrator_queue q
                                      WHERE q.instance_id = v_inst AND q.visible_at <= p_now);
    IF p_orch_channel IS NOT NULL AND wake_orchestrators THEN
        PERFORM pg_notify(p_orch_channel, p_now::text);
    END IF;
    IF p_worker_channel IS NOT NULL AND coalesce(cardinality(p_worker_items), 0) > 0 THEN
        PERFORM pg_notify(p_worker_channel, p_now::text);
    END IF;
    applied := true;
END
$fn$;

-- ============================================================================================
-- abandon_orchestration_item (§5.3)
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.abandon_orchestration_item(
    p_now            bigint,
    p_lock_token     text,
    p_delay_ms       bigint  DEFAULT NULL,
    p_ignore_attempt boolean DEFAULT false,
    p_channel        text    DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_inst    text;
    v_visible bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- a lease only: see "Commit durability"
    SELECT l.instance_id INTO v_inst
      FROM __SCHEMA__.instance_locks l
     WHERE l.lock_token = p_lock_token
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QD001',
            MESSAGE = 'Invalid lock token: not held (never issued, already acked or abandoned, or taken over after expiry)';
    END IF;
    IF coalesce(p_delay_ms, 0) > 0 THEN
        v_visible := __SCHEMA__.sat_add(p_now, p_delay_ms);
    END IF;
    UPDATE __SCHEMA__.orchestrator_queue q
       SET attempt_count = CASE WHEN p_ignore_attempt AND q.lock_token = p_lock_token
                                THEN greatest(q.attempt_count - 1, 0) ELSE q.attempt_count END,
           visible_at    = CASE WHEN v_visible IS NOT NULL AND q.visible_at <= p_now
                                THEN v_visible ELSE q.visible_at END,
           lock_token    = CASE WHEN q.lock_token = p_lock_token THEN NULL ELSE q.lock_token END
     WHERE q.instance_id = v_inst
       AND (q.lock_token = p_lock_token OR (v_visible IS NOT NULL AND q.visible_at <= p_now));
    DELETE FROM __SCHEMA__.instance_locks l WHERE l.instance_id = v_inst;
    IF p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, coalesce(v_visible, p_now)::text);
    END IF;
END
$fn$;

-- ============================================================================================
-- renew_orchestration_item_lock (§5.4)
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.renew_orchestration_item_lock(
    p_now        bigint,
    p_lock_token text,
    p_extend_ms  bigint)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- a lease only: see "Commit durability"
    UPDATE __SCHEMA__.instance_locks l
       SET locked_until = __SCHEMA__.sat_add(p_now, p_extend_ms)
     WHERE l.lock_token = p_lock_token AND l.locked_until > p_now;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l WHERE l.lock_token = p_lock_token) THEN
            RAISE EXCEPTION USING ERRCODE = 'QD002',
                MESSAGE = 'Invalid lock token: the instance lock has expired';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'QD001',
            MESSAGE = 'Invalid lock token: not held (never issued, acked, abandoned, or taken over)';
    END IF;
END
$fn$;

-- ============================================================================================
-- read / read_with_execution / append_with_execution (§5.5-§5.7)
-- ============================================================================================
-- Latest execution = highest execution row, else 1. Rows in event_id order; C++ deserializes and
-- turns any failure into a permanent error.
CREATE OR REPLACE FUNCTION __SCHEMA__.read_history(p_instance_id text)
RETURNS TABLE (execution_id bigint, event_id bigint, event_data text)
LANGUAGE sql STABLE AS $fn$
    SELECT h.execution_id, h.event_id, h.event_data
      FROM __SCHEMA__.history h
     WHERE h.instance_id = p_instance_id
       AND h.execution_id = coalesce((SELECT max(e.execution_id) FROM __SCHEMA__.executions e
                                       WHERE e.instance_id = p_instance_id), 1)
     ORDER BY h.event_id
$fn$;

CREATE OR REPLACE FUNCTION __SCHEMA__.read_history_with_execution(p_instance_id text, p_execution_id bigint)
RETURNS TABLE (execution_id bigint, event_id bigint, event_data text)
LANGUAGE sql STABLE AS $fn$
    SELECT h.execution_id, h.event_id, h.event_data
      FROM __SCHEMA__.history h
     WHERE h.instance_id = p_instance_id AND h.execution_id = p_execution_id
     ORDER BY h.event_id
$fn$;

CREATE OR REPLACE FUNCTION __SCHEMA__.append_with_execution(
    p_now          bigint,
    p_instance_id  text,
    p_execution_id bigint,
    p_event_ids    bigint[],
    p_event_types  text[],
    p_event_datas  text[])
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_n integer := coalesce(cardinality(p_event_ids), 0);
BEGIN
    IF p_execution_id IS NULL OR p_execution_id < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: execution_id must be >= 1';
    END IF;
    IF coalesce(cardinality(p_event_types), 0) <> v_n OR coalesce(cardinality(p_event_datas), 0) <> v_n THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: event arrays differ in length';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_event_ids) AS e(id) WHERE e.id IS NULL OR e.id < 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: event_id must be >= 1';
    END IF;
    INSERT INTO __SCHEMA__.history (instance_id, execution_id, event_id, event_type, event_data, created_at)
    SELECT p_instance_id, p_execution_id, u.id, u.typ, u.data, p_now
      FROM unnest(p_event_ids, p_event_types, p_event_datas) AS u(id, typ, data);
END
$fn$;

-- ============================================================================================
-- fetch_work_item (§5.9, §7.3)
-- ============================================================================================
-- p_tag_mode: 'default_only' | 'tags' | 'default_and' | 'any' | 'none'. An empty/NULL p_tags makes
-- 'tags' match nothing and 'default_and' behave as 'default_only'.
-- p_session_owner NULL = no session config (only session-less rows); otherwise rows of sessions
-- with a live lease owned by p_session_owner, or with no live lease, are eligible too and the
-- session is claimed for p_session_lock_timeout_ms.
-- Result: exactly one row: 'item' (id, work_item, lock_token, attempt_count) or 'none'
-- (next_wake_at).
CREATE OR REPLACE FUNCTION __SCHEMA__.fetch_work_item(
    p_now                     bigint,
    p_lock_timeout_ms         bigint,
    p_tag_mode                text     DEFAULT 'default_only',
    p_tags                    text[]   DEFAULT NULL,
    p_session_owner           text     DEFAULT NULL,
    p_session_lock_timeout_ms bigint   DEFAULT NULL,
    p_lock_token              text     DEFAULT NULL,
    p_reject_token            text     DEFAULT NULL,   -- token of a previous fetch whose row failed to parse
    p_quarantine_base_ms      bigint   DEFAULT 1000,
    p_quarantine_max_ms       bigint   DEFAULT 60000,
    p_channel                 text     DEFAULT NULL)   -- worker notification channel
RETURNS TABLE (row_type text, id bigint, work_item text, lock_token text, attempt_count integer,
               next_wake_at bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    k_window      CONSTANT integer := 8;
    v_token       text   := coalesce(p_lock_token, gen_random_uuid()::text);
    v_until       bigint := __SCHEMA__.sat_add(p_now, p_lock_timeout_ms);
    v_untagged    boolean;
    v_any         boolean;
    v_tags        text[];
    v_excl        bigint[] := '{}';
    v_excl_sess   text[]   := '{}';
    v_cands       bigint[];
    v_id          bigint;
    v_item        text;
    v_session     text;
    v_attempt     integer;
    v_notify_at   bigint;
    v_at          bigint;
    v_wake        bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- a lease only: see "Commit durability"
    v_untagged := p_tag_mode IN ('default_only', 'default_and', 'any');
    v_any      := p_tag_mode = 'any';
    v_tags     := '{}';
    IF p_tag_mode IN ('tags', 'default_and') THEN   -- (a subquery: only run it when needed)
        v_tags := ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t WHERE t IS NOT NULL);
    END IF;
    IF p_tag_mode IS NULL OR p_tag_mode NOT IN ('default_only', 'tags', 'default_and', 'any', 'none') THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008', MESSAGE = 'Invalid argument: unknown tag filter mode';
    END IF;

    IF p_reject_token IS NOT NULL THEN
        -- The row claimed by that token could not be deserialized: quarantine it (§7.3).
        UPDATE __SCHEMA__.worker_queue w
           SET lock_token = NULL, locked_until = NULL,
               visible_at = __SCHEMA__.sat_add(p_now, __SCHEMA__.quarantine_delay(w.attempt_count,
                                p_quarantine_base_ms, p_quarantine_max_ms))
         WHERE w.lock_token = p_reject_token
        RETURNING w.visible_at INTO v_notify_at;
    END IF;

    -- Fast path for the common fetcher (untagged work only, no sessions): one statement claims
    -- the oldest eligible row. It applies only while no lease has expired, since expired rows
    -- may be older and must be redelivered first; anything unusual (a row that is not an
    -- ActivityExecute) falls through to the general scan below.
    IF p_reject_token IS NULL AND p_tag_mode = 'default_only' AND p_session_owner IS NULL THEN
        -- The pick must be a scalar subquery (an InitPlan, run once). As a joined FROM item it can
        -- be rescanned once per outer row of a nested loop; each rescan skips the row this very
        -- statement already updated and picks the next, so one fetch would lease several rows
        -- under one token (seen under load as a unique violation on worker_queue_token_idx).
        -- The no-expired-lease condition is part of the same statement (one executor run per
        -- fetch); when it fails nothing is claimed and the general scan below decides.
        UPDATE __SCHEMA__.worker_queue w
           SET lock_token = v_token, locked_until = v_until, attempt_count = w.attempt_count + 1
         WHERE w.id = (SELECT c.id FROM __SCHEMA__.worker_queue c
                        WHERE c.lock_token IS NULL AND c.tag IS NULL AND c.session_id IS NULL
                          AND c.visible_at <= p_now
                        ORDER BY c.id
                        LIMIT 1
                          FOR UPDATE SKIP LOCKED)
           AND __SCHEMA__.work_item_kind(w.work_item) = 'ActivityExecute'
           -- (min() reads one end of worker_queue_locked_idx; a plain NOT EXISTS got a generic
           -- plan that scanned the heap with every dead row the queue left since the last vacuum)
           AND coalesce((SELECT min(e.locked_until) FROM __SCHEMA__.worker_queue e
                          WHERE e.lock_token IS NOT NULL) > p_now, true)
        RETURNING w.id, w.work_item, w.attempt_count INTO v_id, v_item, v_attempt;
        IF FOUND THEN
            -- (RETURN NEXT of the output variables needs no executor run, RETURN QUERY does)
            row_type := 'item'; id := v_id; work_item := v_item; lock_token := v_token;
            attempt_count := v_attempt; next_wake_at := NULL;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    IF p_tag_mode <> 'none' AND (v_untagged OR cardinality(v_tags) > 0) THEN
        <<scan>>
        LOOP
            SELECT array_agg(s.id ORDER BY s.id) INTO v_cands
              FROM (SELECT DISTINCT x.id
                      FROM ((SELECT w.id FROM __SCHEMA__.worker_queue w
                              WHERE v_untagged
                                AND w.lock_token IS NULL AND w.tag IS NULL
                                AND w.visible_at <= p_now
                                AND w.id <> ALL (v_excl)
                                AND (w.session_id IS NULL
                                     OR (p_session_owner IS NOT NULL
                                         AND w.session_id <> ALL (v_excl_sess)
                                         AND coalesce((SELECT s.locked_until <= p_now OR s.worker_id = p_session_owner FROM __SCHEMA__.sessions s WHERE s.session_id = w.session_id), true)))
                              ORDER BY w.id
                              LIMIT k_window)
                            UNION ALL
                            (SELECT tw.id
                               FROM unnest(v_tags) AS tg(tag)
                               CROSS JOIN LATERAL (
                                   SELECT w.id FROM __SCHEMA__.worker_queue w
                                    WHERE w.lock_token IS NULL AND w.tag = tg.tag
                                      AND w.visible_at <= p_now
                                      AND w.id <> ALL (v_excl)
                                      AND (w.session_id IS NULL
                                           OR (p_session_owner IS NOT NULL
                                               AND w.session_id <> ALL (v_excl_sess)
                                               AND coalesce((SELECT s.locked_until <= p_now OR s.worker_id = p_session_owner FROM __SCHEMA__.sessions s WHERE s.session_id = w.session_id), true)))
                                    ORDER BY w.id
                                    LIMIT k_window) tw)
                            UNION ALL
                            (SELECT w.id FROM __SCHEMA__.worker_queue w
                              WHERE v_any
                                AND w.lock_token IS NULL AND w.tag IS NOT NULL
                                AND w.visible_at <= p_now
                                AND w.id <> ALL (v_excl)
                                AND (w.session_id IS NULL
                                     OR (p_session_owner IS NOT NULL
                                         AND w.session_id <> ALL (v_excl_sess)
                                         AND coalesce((SELECT s.locked_until <= p_now OR s.worker_id = p_session_owner FROM __SCHEMA__.sessions s WHERE s.session_id = w.session_id), true)))
                              ORDER BY w.id
                              LIMIT k_window)
                            UNION ALL
                            (SELECT w.id FROM __SCHEMA__.worker_queue w
                              WHERE w.lock_token IS NOT NULL AND w.locked_until <= p_now
                                AND w.visible_at <= p_now
                                AND (v_any OR (v_untagged AND w.tag IS NULL) OR w.tag = ANY (v_tags))
                                AND w.id <> ALL (v_excl)
                                AND (w.session_id IS NULL
                                     OR (p_session_owner IS NOT NULL
                                         AND w.session_id <> ALL (v_excl_sess)
                                         AND coalesce((SELECT s.locked_until <= p_now OR s.worker_id = p_session_owner FROM __SCHEMA__.sessions s WHERE s.session_id = w.session_id), true)))
                              ORDER BY w.id
                              LIMIT k_window)) x
                     ORDER BY x.id
                     LIMIT k_window) s;

            EXIT scan WHEN v_cands IS NULL;

            <<candidates>>
            FOREACH v_id IN ARRAY v_cands LOOP
                v_excl := v_excl || v_id;
                -- Lock the row without waiting; re-check eligibility on the latest version.
                SELECT w.work_item, w.session_id INTO v_item, v_session
                  FROM __SCHEMA__.worker_queue w
                 WHERE w.id = v_id AND w.visible_at <= p_now
                   AND (w.lock_token IS NULL OR w.locked_until <= p_now)
                   FOR UPDATE SKIP LOCKED;
                CONTINUE candidates WHEN NOT FOUND;

                IF __SCHEMA__.work_item_kind(v_item) IS DISTINCT FROM 'ActivityExecute' THEN
                    -- Quarantine (§7.3): count the pass, untag, back off; move on.
                    UPDATE __SCHEMA__.worker_queue w
                       SET lock_token = NULL, locked_until = NULL,
                           attempt_count = w.attempt_count + 1,
                           visible_at = __SCHEMA__.sat_add(p_now,
                               __SCHEMA__.quarantine_delay(w.attempt_count + 1,
                                   p_quarantine_base_ms, p_quarantine_max_ms))
                     WHERE w.id = v_id
                    RETURNING w.visible_at INTO v_at;
                    v_notify_at := least(v_notify_at, v_at);
                    CONTINUE candidates;
                END IF;

                IF v_session IS NOT NULL THEN
                    CONTINUE candidates WHEN p_session_owner IS NULL OR v_session = ANY (v_excl_sess);
                    INSERT INTO __SCHEMA__.sessions AS s (session_id, worker_id, locked_until, last_activity_at)
                    VALUES (v_session, p_session_owner,
                            __SCHEMA__.sat_add(p_now, p_session_lock_timeout_ms), p_now)
                    ON CONFLICT (session_id) DO UPDATE
                       SET worker_id = excluded.worker_id,
                           locked_until = excluded.locked_until,
                           last_activity_at = excluded.last_activity_at
                     WHERE s.locked_until <= p_now OR s.worker_id = p_session_owner;
                    IF NOT FOUND THEN
                        -- another owner holds the session: skip it for the rest of this call
                        v_excl_sess := v_excl_sess || v_session;
                        CONTINUE candidates;
                    END IF;
                END IF;

                UPDATE __SCHEMA__.worker_queue w
                   SET lock_token = v_token, locked_until = v_until,
                       attempt_count = w.attempt_count + 1
                 WHERE w.id = v_id
                RETURNING w.attempt_count INTO v_attempt;

                IF v_notify_at IS NOT NULL AND p_channel IS NOT NULL THEN
                    PERFORM pg_notify(p_channel, v_notify_at::text);
                END IF;
                RETURN QUERY SELECT 'item'::text, v_id, v_item, v_token, v_attempt, NULL::bigint;
                RETURN;
            END LOOP candidates;
        END LOOP scan;
    END IF;

    -- Nothing eligible: earliest instant at which time alone can change that (may be early).
    SELECT least(
               (SELECT min(w.visible_at) FROM __SCHEMA__.worker_queue w
                 WHERE w.lock_token IS NULL AND w.visible_at > w.created_at AND w.visible_at > p_now),
               (SELECT min(w.locked_until) FROM __SCHEMA__.worker_queue w
                 WHERE w.lock_token IS NOT NULL AND w.locked_until > p_now),
               (SELECT min(s.locked_until) FROM __SCHEMA__.sessions s
                 WHERE p_session_owner IS NOT NULL AND s.locked_until > p_now
                   AND s.worker_id <> p_session_owner))
      INTO v_wake;
    IF p_tag_mode = 'none' OR NOT (v_untagged OR cardinality(v_tags) > 0) THEN
        v_wake := NULL;
    END IF;
    IF v_notify_at IS NOT NULL AND p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, v_notify_at::text);
    END IF;
    RETURN QUERY SELECT 'none'::text, NULL::bigint, NULL::text, NULL::text, NULL::integer, v_wake;
END
$fn$;

-- ============================================================================================
-- ack_work_item (§5.10)
-- ============================================================================================
-- Returns true when applied now, false for an ambiguous-commit retry that had already committed.
CREATE OR REPLACE FUNCTION __SCHEMA__.ack_work_item(
    p_now                 bigint,
    p_lock_token          text,
    p_completion_kind     text    DEFAULT NULL,   -- 'ActivityCompleted' | 'ActivityFailed' | NULL
    p_completion          text    DEFAULT NULL,   -- exact JSON text, NULL = no completion
    p_completion_instance text    DEFAULT NULL,   -- routing instance of the completion
    p_is_retry            boolean DEFAULT false,
    p_channel             text    DEFAULT NULL)   -- orchestrator notification channel
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_session text;
    v_inst    text;
BEGIN
    IF p_completion IS NOT NULL
       AND p_completion_kind IS DISTINCT FROM 'ActivityCompleted'
       AND p_completion_kind IS DISTINCT FROM 'ActivityFailed' THEN
        RAISE EXCEPTION USING ERRCODE = 'QD008',
            MESSAGE = format('Invalid work item type: %s is not an activity completion',
                             coalesce(p_completion_kind, '<null>'));
    END IF;
    -- Delete the row, enqueue the completion, remember the token and prune old records in one
    -- statement (data-modifying CTEs run to completion even when the final SELECT ignores them).
    WITH d AS (
        DELETE FROM __SCHEMA__.worker_queue w
         WHERE w.lock_token = p_lock_token AND w.locked_until > p_now
        RETURNING w.session_id, w.instance_id),
    e AS (
        INSERT INTO __SCHEMA__.orchestrator_queue (instance_id, work_item, visible_at, created_at)
        SELECT p_completion_instance, p_completion, p_now, p_now
          FROM d
         WHERE p_completion IS NOT NULL),
    g AS (   -- prune ambiguous-commit records past their 10 minutes, a few per ack
        DELETE FROM __SCHEMA__.committed_tokens c
         WHERE c.lock_token IN (SELECT o.lock_token FROM __SCHEMA__.committed_tokens o
                                 WHERE o.committed_at < p_now - 600000
                                 ORDER BY o.committed_at
                                 LIMIT 4
                                   FOR UPDATE SKIP LOCKED)),
    t AS (
        INSERT INTO __SCHEMA__.committed_tokens (lock_token, instance_id, kind, committed_at)
        SELECT p_lock_token, d.instance_id, 'w', p_now
          FROM d
        ON CONFLICT (lock_token) DO NOTHING)
    SELECT d.session_id, d.instance_id INTO v_session, v_inst FROM d;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM __SCHEMA__.worker_queue w WHERE w.lock_token = p_lock_token) THEN
            RAISE EXCEPTION USING ERRCODE = 'QD002',
                MESSAGE = 'Invalid lock token: the work item lock has expired';
        END IF;
        IF p_is_retry AND EXISTS (SELECT 1 FROM __SCHEMA__.committed_tokens c
                                   WHERE c.lock_token = p_lock_token AND c.kind = 'w') THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'QD001',
            MESSAGE = 'Invalid lock token: no such locked work item (cancelled, acked, taken over after expiry, or deleted)';
    END IF;
    IF v_session IS NOT NULL THEN
        UPDATE __SCHEMA__.sessions s
           SET last_activity_at = p_now
         WHERE s.session_id = v_session AND s.locked_until > p_now;
    END IF;
    IF p_completion IS NOT NULL AND p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, p_now::text);
    END IF;
    RETURN true;
END
$fn$;

-- ============================================================================================
-- renew_work_item_lock (§5.11)
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.renew_work_item_lock(
    p_now        bigint,
    p_lock_token text,
    p_extend_ms  bigint)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_session text;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- a lease only: see "Commit durability"
    UPDATE __SCHEMA__.worker_queue w
       SET locked_until = __SCHEMA__.sat_add(p_now, p_extend_ms)
     WHERE w.lock_token = p_lock_token AND w.locked_until > p_now
    RETURNING w.session_id INTO v_session;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM __SCHEMA__.worker_queue w WHERE w.lock_token = p_lock_token) THEN
            RAISE EXCEPTION USING ERRCODE = 'QD002',
                MESSAGE = 'Invalid lock token: the work item lock has expired';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'QD001',
            MESSAGE = 'Invalid lock token: no such locked work item (cancelled, acked, taken over after expiry, or deleted)';
    END IF;
    IF v_session IS NOT NULL THEN
        UPDATE __SCHEMA__.sessions s
           SET last_activity_at = p_now
         WHERE s.session_id = v_session AND s.locked_until > p_now;
    END IF;
END
$fn$;

-- ============================================================================================
-- abandon_work_item (§5.12)
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.abandon_work_item(
    p_now            bigint,
    p_lock_token     text,
    p_delay_ms       bigint  DEFAULT NULL,
    p_ignore_attempt boolean DEFAULT false,
    p_channel        text    DEFAULT NULL)   -- worker notification channel
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_visible bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);  -- a lease only: see "Commit durability"
    UPDATE __SCHEMA__.worker_queue w
       SET lock_token = NULL, locked_until = NULL,
           visible_at = __SCHEMA__.sat_add(p_now, p_delay_ms),
           attempt_count = CASE WHEN p_ignore_attempt THEN greatest(w.attempt_count - 1, 0)
                                ELSE w.attempt_count END
     WHERE w.lock_token = p_lock_token
    RETURNING w.visible_at INTO v_visible;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QD001',
            MESSAGE = 'Invalid lock token: no such locked work item (already acked or abandoned, taken over, cancelled or deleted)';
    END IF;
    IF p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, v_visible::text);
    END IF;
END
$fn$;
