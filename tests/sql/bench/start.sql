-- enqueue_for_orchestrator(StartOrchestration) for a fresh instance (bench harness: the "app clock"
-- is read from the DB host clock here because pgbench has none; provider SQL itself never does).
\set r random(1, 2000000000)
SELECT __SCHEMA__.enqueue_for_orchestrator((extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    'bench-' || :client_id || '-' || :r, 'StartOrchestration',
    '{"StartOrchestration":{"instance":"bench-' || :client_id || '-' || :r || '","orchestration":"FanOut","input":"{\"n\":5}","version":"1.0.0","parent_instance":null,"parent_id":null,"execution_id":1}}',
    NULL, :orch_ch);
\if :post
SELECT __SCHEMA__.notify('bench_orch', '0');
\endif
