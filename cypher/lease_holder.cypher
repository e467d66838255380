// Who holds the lease on a model name: host, pid, proc_start (the process start time), started (ISO time), token, and seconds until it expires; no row when nobody does.
// Parameters: $model.
MATCH (l:LoadLease {model: $model})
WHERE l.token IS NOT NULL
RETURN l.host AS host, l.pid AS pid, l.proc_start AS proc_start, l.started AS started, l.token AS token,
  (l.expires - timestamp()) / 1000.0 AS seconds_left
