-- One orchestration-dispatcher iteration: fetch; first turn schedules 5 activities; later turns
-- record completions and complete the instance after the 5th.
SELECT count(*) FILTER (WHERE row_type = 'item') AS got,
       coalesce(max(lock_token), '') AS tok,
       coalesce(max(instance_id), '') AS inst,
       count(*) FILTER (WHERE row_type = 'history') AS hist,
       count(*) FILTER (WHERE row_type = 'message' AND body LIKE '{"StartOrchestration"%') AS starts,
       count(*) FILTER (WHERE row_type = 'message' AND body LIKE '{"ActivityCompleted"%') AS dones
  FROM __SCHEMA__.fetch_orchestration_item((extract(epoch FROM clock_timestamp()) * 1000)::bigint, 30000,
                                           ARRAY[0,0,0, 9,0,0]::bigint[], NULL, NULL, NULL,
                                           1000, 60000, 1000, 60000, :orch_ch) \gset
\if :got
\if :starts
SELECT __SCHEMA__.ack_orchestration_item((extract(epoch FROM clock_timestamp()) * 1000)::bigint, ':tok', 1,
    ARRAY[1,2,3,4,5,6]::bigint[],
    ARRAY['OrchestrationStarted','ActivityScheduled','ActivityScheduled','ActivityScheduled','ActivityScheduled','ActivityScheduled'],
    ARRAY(SELECT CASE WHEN g = 1
            THEN '{"event_id":1,"source_event_id":null,"instance_id":"' || ':inst' || '","execution_id":1,"timestamp_ms":1700000000000,"duroxide_version":"0.1.26","type":"OrchestrationStarted","name":"FanOut","version":"1.0.0","input":"{\"n\":5}","parent_instance":null,"parent_id":null}'
            ELSE '{"event_id":' || g || ',"source_event_id":null,"instance_id":"' || ':inst' || '","execution_id":1,"timestamp_ms":1700000000000,"duroxide_version":"0.1.26","type":"ActivityScheduled","name":"Work","input":"payload-' || g || '"}' END
          FROM generate_series(1, 6) g),
    ARRAY['ActivityExecute','ActivityExecute','ActivityExecute','ActivityExecute','ActivityExecute'],
    ARRAY(SELECT '{"ActivityExecute":{"instance":"' || ':inst' || '","execution_id":1,"id":' || g || ',"name":"Work","input":"payload-' || g || '"}}' FROM generate_series(2, 6) g),
    ARRAY[':inst', ':inst', ':inst', ':inst', ':inst'], ARRAY[1,1,1,1,1]::bigint[], ARRAY[2,3,4,5,6]::bigint[],
    NULL, NULL,
    '{}', '{}', '{}', NULL,
    'FanOut', '1.0.0', NULL, NULL, NULL, 0, 1, 26,
    '{}', '{}', '{}', false, NULL, '{}', '{}', '{}', '{}', false, :orch_ch, :work_ch);
\if :post
SELECT __SCHEMA__.notify('bench_orch', '0', 'bench_work', '0');
\endif
\else
SELECT __SCHEMA__.ack_orchestration_item((extract(epoch FROM clock_timestamp()) * 1000)::bigint, ':tok', 1,
    ARRAY(SELECT g::bigint FROM generate_series(:hist + 1, :hist + :dones + (CASE WHEN :hist - 6 + :dones >= 5 THEN 1 ELSE 0 END)) g),
    ARRAY(SELECT CASE WHEN g > :hist + :dones THEN 'OrchestrationCompleted' ELSE 'ActivityCompleted' END
            FROM generate_series(:hist + 1, :hist + :dones + (CASE WHEN :hist - 6 + :dones >= 5 THEN 1 ELSE 0 END)) g),
    ARRAY(SELECT '{"event_id":' || g || ',"source_event_id":' || CASE WHEN g > :hist + :dones THEN 'null' ELSE '2' END || ',"instance_id":"' || ':inst' || '","execution_id":1,"timestamp_ms":1700000000000,"duroxide_version":"0.1.26","type":"'
                 || CASE WHEN g > :hist + :dones THEN 'OrchestrationCompleted","output":"done"}' ELSE 'ActivityCompleted","result":"ok"}' END
            FROM generate_series(:hist + 1, :hist + :dones + (CASE WHEN :hist - 6 + :dones >= 5 THEN 1 ELSE 0 END)) g),
    '{}', '{}', '{}', '{}', '{}', NULL, NULL,
    '{}', '{}', '{}', NULL,
    NULL, NULL, NULL, CASE WHEN :hist - 6 + :dones >= 5 THEN 'Completed' END,
    CASE WHEN :hist - 6 + :dones >= 5 THEN convert_to('done', 'UTF8') END, NULL, NULL, NULL,
    '{}', '{}', '{}', false, NULL, '{}', '{}', '{}', '{}', false, :orch_ch, :work_ch);
\if :post
SELECT __SCHEMA__.notify('bench_orch', '0');
\endif
\endif
\endif
