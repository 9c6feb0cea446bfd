INSERT INTO bench_insert (v) VALUES ('x');
