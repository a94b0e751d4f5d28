#!/usr/bin/env bash
# make demo: run the daemon on the bundled example. The data directory is
# reset first, so the example's alerts appear on every run.
set -euo pipefail
BIN=${BIN:-bin/breakglass}
export BREAKGLASS_DATA=${BREAKGLASS_DATA:-data}
rm -f "$BREAKGLASS_DATA"/demo.db "$BREAKGLASS_DATA"/demo.db-wal "$BREAKGLASS_DATA"/demo.db-shm
cat <<TXT
== breakglass demo ==
The daemon follows examples/logs/ (Graph, storage, Log Analytics exports with
break-glass activity): its alerts print below within a second.

While it runs, look at:
  http://127.0.0.1:8080/metrics   Prometheus metrics
  http://127.0.0.1:8080/readyz    readiness (store open, sources running)
  $BREAKGLASS_DATA/demo.db               alerts with their raw evidence (SQLite)
Push more logs (any supported shape) from another terminal:
  curl -H 'Authorization: Bearer demo-token' --data-binary @examples/logs/storage-PT1H.json http://127.0.0.1:8081/ingest
  (records already seen are not alerted twice)
Stop with Ctrl-C.

TXT
exec "$BIN" serve --config examples/demo.yaml
