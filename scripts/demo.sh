#!/usr/bin/env bash
# make demo: audit the bundled example snapshot (HTML report under the data
# directory), then run the daemon on the bundled example logs. The data
# directory is reset first, so the example's alerts appear on every run.
#
# BREAKGLASS_DEMO_AUDIT_ONLY=1 stops after the audit (the regression test
# TestDemoScriptWritesAudit uses it; the daemon part has its own test).
set -euo pipefail
BIN=${BIN:-bin/breakglass}
export BREAKGLASS_DATA=${BREAKGLASS_DATA:-data}
mkdir -p "$BREAKGLASS_DATA"
rm -f "$BREAKGLASS_DATA"/demo.db "$BREAKGLASS_DATA"/demo.db-wal "$BREAKGLASS_DATA"/demo.db-shm

# The posture audit of examples/snapshot: a collect snapshot of a tenant
# where bg-admin1 is set up as the guidance says and bg-admin2 is not.
# --fail-on none: the findings are the point of the demo, not an error;
# any other failure (exit 2) stops the demo. --as-of: judged as of the day
# after the snapshot was taken, so the demo shows the same verdicts on any
# day (its sign-ins would otherwise age past the 90-day drill interval).
report=$BREAKGLASS_DATA/demo-audit.html
"$BIN" audit --config examples/breakglass.yaml --snapshot examples/snapshot \
  --format html --output "$report" --fail-on none --as-of 2026-12-01
cat <<TXT
== breakglass demo: posture audit ==
The audit of examples/snapshot (bg-admin1 compliant, bg-admin2 broken, the
legacy UPN-only entry deleted from the tenant) is in
  $report
Open it in a browser. The same audit on the terminal:
  $BIN audit --config examples/breakglass.yaml --snapshot examples/snapshot --as-of 2026-12-01

TXT
if [ "${BREAKGLASS_DEMO_AUDIT_ONLY:-}" = 1 ]; then
  exit 0
fi

cat <<TXT
== breakglass demo: the daemon ==
The daemon follows examples/logs/ (Graph, storage, Log Analytics exports with
break-glass activity): its alerts print below within a second.

While it runs, look at:
  http://127.0.0.1:8080/metrics   Prometheus metrics
  http://127.0.0.1:8080/readyz    readiness (store open, sources running)
  $BREAKGLASS_DATA/demo.db               alerts with their raw evidence (SQLite)
  $report       the posture audit (HTML)
Push more logs (any supported shape) from another terminal:
  curl -H 'Authorization: Bearer demo-token' --data-binary @examples/logs/storage-PT1H.json http://127.0.0.1:8081/ingest
  (records already seen are not alerted twice)
Stop with Ctrl-C.

TXT
exec "$BIN" serve --config examples/demo.yaml
