-- A migration that waits for a table lock queues every dashboard query behind it: give up early
-- (the task retries) rather than freeze the dashboard. Transaction-scoped.
SET LOCAL lock_timeout = '10s';
