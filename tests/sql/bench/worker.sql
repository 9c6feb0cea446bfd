-- One worker-dispatcher iteration: fetch an activity, ack it with an ActivityCompleted.
SELECT count(*) FILTER (WHERE row_type = 'item') AS got,
       coalesce(max(lock_token), '') AS tok,
       coalesce(max(work_item), '{"ActivityExecute":{}}') AS item
  FROM __SCHEMA__.fetch_work_item((extract(epoch FROM clock_timestamp()) * 1000)::bigint, 30000,
                                  'default_only', NULL, NULL, NULL, NULL, NULL, 1000, 60000, :work_ch) \gset
\if :got
SELECT __SCHEMA__.ack_work_item((extract(epoch FROM clock_timestamp()) * 1000)::bigint, ':tok', 'ActivityCompleted',
    '{"ActivityCompleted":{"instance":"' || (':item'::jsonb -> 'ActivityExecute' ->> 'instance') || '","execution_id":1,"id":'
        || (':item'::jsonb -> 'ActivityExecute' ->> 'id') || ',"result":"ok"}}',
    ':item'::jsonb -> 'ActivityExecute' ->> 'instance', false, :orch_ch);
\if :post
SELECT __SCHEMA__.notify('bench_orch', '0');
\endif
\endif
