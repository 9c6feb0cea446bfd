-- duroxide-pg migration 0002: server functions of the management capability, ProviderAdmin
-- (contract §8, errors §9.2). Same template rules as 0001: every object qualified with
-- __SCHEMA__, no server clock (nothing here needs a time except filters, which are parameters),
-- CREATE OR REPLACE / IF NOT EXISTS, runs inside the migration's one transaction.
--
-- The single-statement admin reads (list_instances, get_instance_info, get_queue_depths, ...) are
-- prepared statements on the C++ side; this file holds the operations that need more than one
-- statement in one transaction, plus the recursive tree walk.
--
-- LOCK ORDER (extends 0001's): a deletion takes, for every listed instance in ascending key
-- order, the transaction-scoped advisory key that fetch_orchestration_item try-locks before
-- claiming an instance (so a deletion waits for an in-flight claim to commit and a fetch skips an
-- instance being deleted, never the reverse; only for sets of at most 64 ids, see
-- delete_instances_atomic), then the instance-lock rows, then the instance rows,
-- then deletes history / executions / queue rows / KV. An ack holding an instance-lock row makes
-- the deletion wait; once the deletion commits, the ack finds its token gone (QD001): that is the
-- zombie prevention of §8. Prune locks the instance row, then deletes history and executions of
-- that instance (the order an ack uses: instance row before execution/history rows).
--
-- ERRORS: QD003 instance not found ('not found'), QD005 deletion of a Running instance without
-- force ('still running'), QD006 direct deletion of a sub-orchestration ('sub-orchestration'),
-- QD007 orphan detected ('orphan', 'child', 'tree').

-- list_instances / list_instances_by_status / delete_instance_bulk order by creation time.
CREATE INDEX IF NOT EXISTS instances_created_idx
    ON __SCHEMA__.instances (created_at, instance_id);

-- ============================================================================================
-- Instance trees (§8 get_instance_tree): root first, then every descendant exactly once.
-- UNION (not UNION ALL) discards rows already produced, so a parent cycle terminates.
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.get_instance_tree(p_root text)
RETURNS TABLE (instance_id text)
LANGUAGE sql STABLE AS $fn$
    WITH RECURSIVE tree(id) AS (
        SELECT p_root
        UNION
        SELECT c.instance_id
          FROM __SCHEMA__.instances c
          JOIN tree t ON c.parent_instance_id = t.id
    )
    SELECT tree.id FROM tree ORDER BY (tree.id <> p_root), tree.id
$fn$;

-- The listed roots and all their descendants, each once (NULL elements ignored; cycle-safe).
CREATE OR REPLACE FUNCTION __SCHEMA__.instance_tree_closure(p_roots text[])
RETURNS text[]
LANGUAGE sql STABLE AS $fn$
    WITH RECURSIVE tree(id) AS (
        SELECT r.id FROM unnest(p_roots) AS r(id) WHERE r.id IS NOT NULL
        UNION
        SELECT c.instance_id
          FROM __SCHEMA__.instances c
          JOIN tree t ON c.parent_instance_id = t.id
    )
    SELECT coalesce(array_agg(tree.id ORDER BY tree.id), '{}'::text[]) FROM tree
$fn$;

-- ============================================================================================
-- delete_instances_atomic (§8): the primitive behind every deletion, one transaction.
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.delete_instances_atomic(p_ids text[], p_force boolean)
RETURNS TABLE (instances_deleted bigint, executions_deleted bigint, events_deleted bigint,
               queue_messages_deleted bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_ids     text[];
    v_id      text;
    v_parent  text;
    v_n       bigint;
    v_inst    bigint := 0;
    v_exec    bigint := 0;
    v_events  bigint := 0;
    v_queue   bigint := 0;
BEGIN
    -- 1. Distinct, non-NULL ids; none => all-zero result.
    SELECT coalesce(array_agg(DISTINCT u.id ORDER BY u.id), '{}'::text[]) INTO v_ids
      FROM unnest(p_ids) AS u(id)
     WHERE u.id IS NOT NULL;
    IF cardinality(v_ids) = 0 THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;

    -- 2. Serialise with in-flight fetch claims and overlapping deletions (ascending key order
    --    everywhere, so two deletions cannot deadlock), then lock the instance-lock rows and the
    --    instance rows. Advisory locks occupy the shared lock table (max_locks_per_transaction
    --    slots per connection), so large sets (bulk deletion) skip them and rely on the row locks
    --    alone: a deletion racing an in-flight fetch of the same instance may then end with a
    --    deadlock error (40P01, retryable) instead of waiting for it.
    IF cardinality(v_ids) <= 64 THEN
        PERFORM pg_advisory_xact_lock(k.key)
           FROM (SELECT DISTINCT hashtextextended(u.id, __SCHEMA__.advisory_seed()) AS key
                   FROM unnest(v_ids) AS u(id)
                  ORDER BY 1) k;
    END IF;
    PERFORM 1
       FROM __SCHEMA__.instance_locks l
      WHERE l.instance_id = ANY (v_ids)
      ORDER BY l.instance_id
        FOR UPDATE;
    PERFORM 1
       FROM __SCHEMA__.instances i
      WHERE i.instance_id = ANY (v_ids)
      ORDER BY i.instance_id
        FOR UPDATE;

    -- 3. Without force, a Running current execution refuses the whole deletion. The current
    --    execution is the instance row's, else (no instance row) the highest one; an instance
    --    without execution rows is not running.
    IF NOT coalesce(p_force, false) THEN
        SELECT u.id INTO v_id
          FROM unnest(v_ids) AS u(id)
          JOIN __SCHEMA__.executions e
            ON e.instance_id = u.id
           AND e.execution_id = coalesce(
                   (SELECT i.current_execution_id FROM __SCHEMA__.instances i
                     WHERE i.instance_id = u.id),
                   (SELECT max(x.execution_id) FROM __SCHEMA__.executions x
                     WHERE x.instance_id = u.id))
         WHERE e.status = 'Running'
         ORDER BY u.id
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'QD005',
                MESSAGE = format('Instance %s is still running; wait for it to finish or delete it with force', v_id);
        END IF;
    END IF;

    -- 4. Orphan guard: a child of a listed instance that is not listed itself.
    SELECT c.instance_id, c.parent_instance_id INTO v_id, v_parent
      FROM __SCHEMA__.instances c
     WHERE c.parent_instance_id = ANY (v_ids)
       AND NOT (c.instance_id = ANY (v_ids))
     ORDER BY c.instance_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QD007',
            MESSAGE = format('Orphan detected: child instance %s of %s is not part of the deletion '
                             '(a child was created after the instance tree was traversed); '
                             're-fetch the instance tree and retry', v_id, v_parent);
    END IF;

    -- 5. Count (ROW_COUNT of each delete) and delete.
    DELETE FROM __SCHEMA__.history h WHERE h.instance_id = ANY (v_ids);
    GET DIAGNOSTICS v_events = ROW_COUNT;
    DELETE FROM __SCHEMA__.executions e WHERE e.instance_id = ANY (v_ids);
    GET DIAGNOSTICS v_exec = ROW_COUNT;
    DELETE FROM __SCHEMA__.orchestrator_queue q WHERE q.instance_id = ANY (v_ids);
    GET DIAGNOSTICS v_queue = ROW_COUNT;
    DELETE FROM __SCHEMA__.worker_queue w WHERE w.instance_id = ANY (v_ids);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_queue := v_queue + v_n;
    DELETE FROM __SCHEMA__.instance_locks l WHERE l.instance_id = ANY (v_ids);
    DELETE FROM __SCHEMA__.kv_store s WHERE s.instance_id = ANY (v_ids);
    DELETE FROM __SCHEMA__.kv_delta d WHERE d.instance_id = ANY (v_ids);
    DELETE FROM __SCHEMA__.instances i WHERE i.instance_id = ANY (v_ids);
    GET DIAGNOSTICS v_inst = ROW_COUNT;

    RETURN QUERY SELECT v_inst, v_exec, v_events, v_queue;
END
$fn$;

-- ============================================================================================
-- delete_instance (§8): not found (QD003), sub-orchestration (QD006), else the whole tree.
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.delete_instance(p_id text, p_force boolean)
RETURNS TABLE (instances_deleted bigint, executions_deleted bigint, events_deleted bigint,
               queue_messages_deleted bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_parent text;
BEGIN
    SELECT i.parent_instance_id INTO v_parent
      FROM __SCHEMA__.instances i
     WHERE i.instance_id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QD003', MESSAGE = format('Instance %s not found', p_id);
    END IF;
    IF v_parent IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QD006',
            MESSAGE = format('Cannot delete sub-orchestration %s directly. Delete root instance instead.', p_id);
    END IF;
    -- The tree is read before delete_instances_atomic locks it; a child created in between is
    -- caught by its orphan guard (QD007).
    RETURN QUERY
        SELECT d.instances_deleted, d.executions_deleted, d.events_deleted, d.queue_messages_deleted
          FROM __SCHEMA__.delete_instances_atomic(
                   __SCHEMA__.instance_tree_closure(ARRAY[p_id]), p_force) d;
END
$fn$;

-- ============================================================================================
-- delete_instance_bulk (§8): up to p_limit terminal roots (oldest first), restricted by p_ids
-- (NULL = no restriction, empty = nothing) and current-execution completed_at < p_completed_before
-- (NULL = no restriction); their whole trees are deleted with force, set-based, in one
-- transaction (stronger than the contract's per-tree atomicity).
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.delete_instance_bulk(p_ids text[], p_completed_before bigint,
                                                          p_limit bigint)
RETURNS TABLE (instances_deleted bigint, executions_deleted bigint, events_deleted bigint,
               queue_messages_deleted bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_roots text[];
BEGIN
    SELECT coalesce(array_agg(r.instance_id), '{}'::text[]) INTO v_roots
      FROM (SELECT i.instance_id
              FROM __SCHEMA__.instances i
              JOIN __SCHEMA__.executions e
                ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
             WHERE i.parent_instance_id IS NULL
               AND e.status IN ('Completed', 'Failed', 'ContinuedAsNew')
               AND (p_ids IS NULL OR i.instance_id = ANY (p_ids))
               AND (p_completed_before IS NULL OR e.completed_at < p_completed_before)
             ORDER BY i.created_at, i.instance_id
             LIMIT greatest(coalesce(p_limit, 1000), 0)) r;
    IF cardinality(v_roots) = 0 THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT d.instances_deleted, d.executions_deleted, d.events_deleted, d.queue_messages_deleted
          FROM __SCHEMA__.delete_instances_atomic(__SCHEMA__.instance_tree_closure(v_roots), true) d;
END
$fn$;

-- ============================================================================================
-- prune (§8). Eligible executions of a locked instance: not the current one, not Running,
-- outside the greatest(keep_last, 1) highest execution ids, and (when given) completed_at <
-- p_completed_before (NULL completed_at excluded). KV is never touched.
-- ============================================================================================
CREATE OR REPLACE FUNCTION __SCHEMA__.prune_executions(p_instance_id text, p_keep_last bigint,
                                                      p_completed_before bigint)
RETURNS TABLE (instances_processed bigint, executions_deleted bigint, events_deleted bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_current bigint;
    v_exec    bigint;
    v_events  bigint;
BEGIN
    SELECT i.current_execution_id INTO v_current
      FROM __SCHEMA__.instances i
     WHERE i.instance_id = p_instance_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QD003', MESSAGE = format('Instance %s not found', p_instance_id);
    END IF;

    WITH ranked AS (
        SELECT e.execution_id, e.status, e.completed_at,
               row_number() OVER (ORDER BY e.execution_id DESC) AS pos
          FROM __SCHEMA__.executions e
         WHERE e.instance_id = p_instance_id),
    victims AS (
        SELECT r.execution_id
          FROM ranked r
         WHERE r.execution_id <> v_current
           AND r.status <> 'Running'
           AND r.pos > greatest(coalesce(p_keep_last, 1), 1)
           AND (p_completed_before IS NULL OR r.completed_at < p_completed_before)),
    dh AS (
        DELETE FROM __SCHEMA__.history h
         USING victims v
         WHERE h.instance_id = p_instance_id AND h.execution_id = v.execution_id
        RETURNING 1),
    de AS (
        DELETE FROM __SCHEMA__.executions x
         USING victims v
         WHERE x.instance_id = p_instance_id AND x.execution_id = v.execution_id
        RETURNING 1)
    SELECT (SELECT count(*) FROM de), (SELECT count(*) FROM dh) INTO v_exec, v_events;

    RETURN QUERY SELECT 1::bigint, v_exec, v_events;
END
$fn$;

-- prune_executions_bulk (§8): instances of any status selected by p_ids (NULL = all, empty =
-- none), current-execution completed_at < p_filter_completed_before, p_limit (oldest first); the
-- prune rule above applied to all of them set-based in one transaction. instances_processed =
-- instances selected (and still present once locked).
CREATE OR REPLACE FUNCTION __SCHEMA__.prune_executions_bulk(p_ids text[], p_filter_completed_before bigint,
                                                           p_limit bigint, p_keep_last bigint,
                                                           p_completed_before bigint)
RETURNS TABLE (instances_processed bigint, executions_deleted bigint, events_deleted bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_ids    text[];
    v_locked text[];
    v_exec   bigint;
    v_events bigint;
BEGIN
    SELECT coalesce(array_agg(s.instance_id), '{}'::text[]) INTO v_ids
      FROM (SELECT i.instance_id
              FROM __SCHEMA__.instances i
              LEFT JOIN __SCHEMA__.executions e
                ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
             WHERE (p_ids IS NULL OR i.instance_id = ANY (p_ids))
               AND (p_filter_completed_before IS NULL OR e.completed_at < p_filter_completed_before)
             ORDER BY i.created_at, i.instance_id
             LIMIT greatest(coalesce(p_limit, 1000), 0)) s;
    IF cardinality(v_ids) = 0 THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;

    SELECT coalesce(array_agg(l.instance_id), '{}'::text[]) INTO v_locked
      FROM (SELECT i.instance_id
              FROM __SCHEMA__.instances i
             WHERE i.instance_id = ANY (v_ids)
             ORDER BY i.instance_id
               FOR UPDATE) l;

    -- New statement, new snapshot: current_execution_id as of the locks.
    WITH ranked AS (
        SELECT e.instance_id, e.execution_id, e.status, e.completed_at, i.current_execution_id,
               row_number() OVER (PARTITION BY e.instance_id ORDER BY e.execution_id DESC) AS pos
          FROM __SCHEMA__.executions e
          JOIN __SCHEMA__.instances i ON i.instance_id = e.instance_id
         WHERE e.instance_id = ANY (v_locked)),
    victims AS (
        SELECT r.instance_id, r.execution_id
          FROM ranked r
         WHERE r.execution_id <> r.current_execution_id
           AND r.status <> 'Running'
           AND r.pos > greatest(coalesce(p_keep_last, 1), 1)
           AND (p_completed_before IS NULL OR r.completed_at < p_completed_before)),
    dh AS (
        DELETE FROM __SCHEMA__.history h
         USING victims v
         WHERE h.instance_id = v.instance_id AND h.execution_id = v.execution_id
        RETURNING 1),
    de AS (
        DELETE FROM __SCHEMA__.executions x
         USING victims v
         WHERE x.instance_id = v.instance_id AND x.execution_id = v.execution_id
        RETURNING 1)
    SELECT (SELECT count(*) FROM de), (SELECT count(*) FROM dh) INTO v_exec, v_events;

    RETURN QUERY SELECT cardinality(v_locked)::bigint, v_exec, v_events;
END
$fn$;
