#!/usr/bin/env bash
# make demo: breakglass end to end on this machine, without network and
# without a tenant. It audits the bundled example snapshot, runs the daemon
# on the bundled example logs, delivers the alerts to the console and by
# mail to a local mail sink, acknowledges one through its link, and shows
# the incident that formed, the verified evidence log and an exported
# evidence bundle, then serves the dashboard with a one-time admin login
# and pushes a new sign-in now and then so that alerts arrive live.
# Everything lives under $BREAKGLASS_DATA (default data/),
# which is reset first, so a second run shows the same again.
#
# Environment:
#   BIN, MAILSINK              the breakglass and demo/mailsink binaries
#   BREAKGLASS_DATA            where everything is written (default data)
#   BREAKGLASS_DEMO_LISTEN     the daemon's address (127.0.0.1:8080)
#   BREAKGLASS_DEMO_INGEST     its HTTP ingest address (127.0.0.1:8081)
#   BREAKGLASS_DEMO_SMTP_PORT  the mail sink's port on 127.0.0.1 (2525)
#   BREAKGLASS_ACK_SECRET      signs the acknowledge links (random if unset)
#   DEMO_FAST=1                stop after the last step instead of keeping
#                              the daemon running (CI: TestDemoScript)
#   BREAKGLASS_DEMO_AUDIT_ONLY=1  stop after the audit
#   BREAKGLASS_DEMO_EVERY      seconds between the live sign-ins pushed
#                              once the steps are done (20)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/breakglass}
MAILSINK=${MAILSINK:-bin/demo-mailsink}
export BREAKGLASS_DATA=${BREAKGLASS_DATA:-data}
export BREAKGLASS_DEMO_LISTEN=${BREAKGLASS_DEMO_LISTEN:-127.0.0.1:8080}
export BREAKGLASS_DEMO_INGEST=${BREAKGLASS_DEMO_INGEST:-127.0.0.1:8081}
export BREAKGLASS_DEMO_SMTP_PORT=${BREAKGLASS_DEMO_SMTP_PORT:-2525}
CFG=examples/demo.yaml
D=$BREAKGLASS_DATA
MAIL=$D/demo-mail
BUNDLE=$D/demo-incident.zip

step() { printf '\n== %s ==\n' "$1"; }
say() { printf '%s\n' "$@"; }
fail() {
  printf 'demo FAILED: %s\n' "$1" >&2
  for f in "$D/demo-serve.log" "$D/demo-mailsink.log"; do
    if [ -s "$f" ]; then printf -- '--- last lines of %s:\n' "$f" >&2; tail -n 15 "$f" >&2; fi
  done
  exit 1
}
# wait_for SECONDS WHAT COMMAND...: poll every 0.2 s until COMMAND succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local n=$((secs * 5))
  until "$@" >/dev/null 2>&1; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || fail "timed out after ${secs}s waiting for $what"
    check_alive
    sleep 0.2
  done
}

[ -x "$BIN" ] || fail "$BIN is missing: run make demo (or make build)"

# Reset what an earlier run left, so the example's alerts appear again.
mkdir -p "$D"
rm -rf "$D"/demo.db "$D"/demo.db-wal "$D"/demo.db-shm "$D"/demo.db.heads \
  "$D"/demo-evidence.key "$D"/demo-evidence.key.pub "$MAIL" "$BUNDLE" "$D"/demo-incident \
  "$D"/demo-serve.out "$D"/demo-serve.log "$D"/demo-mailsink.log "$D"/demo-report.md "$D"/demo-alert.txt \
  "$D"/demo-cookies "$D"/demo-login.html

# --- 1. the posture audit ----------------------------------------------------
# --fail-on none: the findings are the point of the demo, not an error; any
# other failure (exit 2) stops the demo. --as-of: judged as of the day after
# the snapshot was taken, so the verdicts are the same on any day.
step "1. Posture audit of a tenant snapshot (breakglass audit)"
say "examples/snapshot is what 'breakglass collect' reads from a tenant: bg-admin1 is set up"
say "as Microsoft's guidance says, bg-admin2 is not, and the UPN-only legacy entry was deleted."
report=$D/demo-audit.html
"$BIN" audit --config examples/breakglass.yaml --snapshot examples/snapshot \
  --format html --output "$report" --fail-on none --as-of 2026-12-01
"$BIN" audit --config examples/breakglass.yaml --snapshot examples/snapshot \
  --fail-on none --as-of 2026-12-01 >"$D/demo-audit.txt" 2>&1
awk 'NR <= 3 || /^[^ ]/ || /^  (FAIL|ERROR) /' "$D/demo-audit.txt" | cut -c1-160
say "" "The failures above, each with its evidence and fix, are in the HTML report (open it in a browser):" \
  "  $report" "and as text in $D/demo-audit.txt."
if [ "${BREAKGLASS_DEMO_AUDIT_ONLY:-}" = 1 ]; then
  exit 0
fi

# --- background processes: the mail sink and the daemon -----------------------
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
check_alive() {
  local p
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || fail "a background process ($p) stopped"
  done
}

if [ ! -x "$MAILSINK" ]; then
  go build -o "$MAILSINK" ./demo/mailsink || fail "cannot build demo/mailsink"
fi
# The acknowledge links are signed with this secret. In production it comes
# from the environment or a file too (openssl rand -base64 32).
if [ -z "${BREAKGLASS_ACK_SECRET:-}" ]; then
  BREAKGLASS_ACK_SECRET=$(head -c 32 /dev/urandom | base64)
fi
export BREAKGLASS_ACK_SECRET
# The key that signs the evidence log's published heads (evidence.signing_key).
"$BIN" evidence keygen --out "$D/demo-evidence.key" >/dev/null
# The dashboard's admin for this run: made by users add (as an operator
# makes the first admin) with a random password, printed once below and
# kept nowhere else. demo.db is new on each run, so is the password.
demo_user=demo-admin
demo_pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
[ "${#demo_pw}" -ge 16 ] || fail "could not make a random password"
printf '%s\n' "$demo_pw" | "$BIN" users add --config "$CFG" "$demo_user" --role admin >/dev/null 2>"$D/demo-serve.log" ||
  fail "breakglass users add $demo_user"

step "2. The watcher (breakglass serve) on the example logs"
say "A local mail sink takes the email channel's mail on 127.0.0.1:$BREAKGLASS_DEMO_SMTP_PORT (nothing leaves this machine)."
"$MAILSINK" -listen "127.0.0.1:$BREAKGLASS_DEMO_SMTP_PORT" -dir "$MAIL" >"$D/demo-mailsink.log" 2>&1 &
pids+=($!)
wait_for 10 "the mail sink to listen" grep -q listening "$D/demo-mailsink.log"
say "The daemon follows examples/logs/ (Graph, storage-account and Log Analytics exports with"
say "break-glass sign-ins, activity and changes): it detects them and notifies at once."
"$BIN" serve --config "$CFG" >"$D/demo-serve.out" 2>"$D/demo-serve.log" &
pids+=($!)
base=http://$BREAKGLASS_DEMO_LISTEN
wait_for 30 "the daemon to be ready ($base/readyz)" curl -fsS "$base/readyz"
# The example logs raise 13 alerts; each goes to the console and by mail.
want=13
count_mail() { [ "$(find "$MAIL" -name '*.eml' | wc -l)" -ge "$want" ]; }
wait_for 30 "$want alerts delivered to the mail sink" count_mail
say "" "The console channel (first lines; all in $D/demo-serve.out):"
head -n 5 "$D/demo-serve.out" | cut -c1-200
say "  ... $(grep -c ' FIRING ' "$D/demo-serve.out") alerts on the console in all."

step "3. The same alerts by mail (email channel over loopback SMTP)"
say "The sink wrote each message as it arrived (.eml) and as readable text (.txt):"
say "  $MAIL/"
first=$MAIL/0001.txt
[ -s "$first" ] || fail "$first is missing"
sed -n '1,5p' "$first"
say "  ... read one: less $first"

step "4. Acknowledge an alert through the link in its message"
alert=$(sed -n 's/^X-Breakglass-Alert: //p' "$first")
link=$(grep -o "$base/ack/[^ ]*" "$first" | head -n 1)
[ -n "$alert" ] && [ -n "$link" ] || fail "no alert id or acknowledge link in $first"
say "The link is signed (notify.ack.secret, from BREAKGLASS_ACK_SECRET) and expires after notify.ack.ttl:"
say "  $link"
say "Opening it (GET) only shows the alert, since mail scanners open every link:"
curl -fsS "$link" | sed -n 's:.*<h1>\(.*\)</h1>.*:  page says\: \1:p'
say "Pressing Acknowledge (POST) records who did it and stops escalation:"
curl -fsS --data-urlencode "by=Demo User" --data-urlencode "note=make demo" "$link" |
  sed -n 's:.*<h1>\(.*\)</h1>.*:  page says\: \1:p'
say "Every alert goes to oncall now and to managers after 10 minutes unacknowledged"
say "(notify.routes, escalate_after). For this one, escalation has stopped:"
"$BIN" alerts show --config "$CFG" "$alert" >"$D/demo-alert.txt"
awk '/^(State  |Acknowledged )/; /^Escalation/ { on = 1 } on && /^$/ { on = 0 } on' "$D/demo-alert.txt"
say "The others reach managers@demo.invalid in 10 minutes if you leave the daemon running."

step "5. The incident that formed (breakglass incidents)"
say "Alerts of one account close together in time form one incident, to review once."
incident_of() {
  "$BIN" incidents list --config "$CFG" --format json 2>/dev/null |
    grep "\"$alert\"" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p' | head -n 1
}
has_incident() { [ -n "$(incident_of)" ]; }
wait_for 20 "the alert's incident" has_incident
inc=$(incident_of)
"$BIN" incidents list --config "$CFG"
say "" "One of them: $BIN incidents show --config $CFG $inc"
"$BIN" incidents show --config "$CFG" "$inc" | sed -n '1,12p'
say "  ..."

step "6. The evidence log is intact (breakglass evidence verify)"
say "Every raw record, alert and acknowledgement went into a hash chain in the store."
say "Its head (newest entry and hash) is what you keep elsewhere, e.g. in a ticket, so that"
say "a log cut short later shows too: verify checks the chain against it."
head=$("$BIN" evidence head --config "$CFG")
say "  head now: $head"
"$BIN" evidence verify --config "$CFG" --head "$head"

step "7. The incident's evidence bundle (breakglass incidents export)"
say "One zip for auditors: the raw records, the chain, a signed head and the report."
"$BIN" incidents export --config "$CFG" "$inc" --out "$BUNDLE"
if command -v unzip >/dev/null 2>&1; then
  mkdir -p "$D/demo-incident"
  unzip -q -o "$BUNDLE" -d "$D/demo-incident"
  say "Unpacked in $D/demo-incident; the checksums of its files:"
  (cd "$D/demo-incident" && sha256sum -c SHA256SUMS)
else
  say "(unzip is not installed: skipping sha256sum -c on the unpacked bundle)"
fi
say "And the bundle on its own, without the store or the config, against the demo's public key:"
"$BIN" evidence verify --bundle "$BUNDLE" --public-key "$D/demo-evidence.key.pub"
"$BIN" incidents report --config "$CFG" "$inc" --out "$D/demo-report.md"
say "The incident's timeline for people: $D/demo-report.md"

step "8. The dashboard (served by breakglass serve)"
say "Open $base/ in a browser and sign in with this one-time login (made for this run by"
say "breakglass users add with a random password; a new one each run):"
say "  user:     $demo_user" "  password: $demo_pw"
# Sign in as a browser does (the form's CSRF token, then the session
# cookie) and read the live alerts list the page refreshes every second.
jar=$D/demo-cookies
curl -fsS -c "$jar" -b "$jar" "$base/login" >"$D/demo-login.html" || fail "GET $base/login"
csrf=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' "$D/demo-login.html" | head -n 1)
[ -n "$csrf" ] || fail "no sign-in form at $base/login"
curl -fsS -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$csrf" --data-urlencode "name=$demo_user" \
  --data-urlencode "password=$demo_pw" --data-urlencode "next=/alerts" "$base/login" || fail "signing in to $base/login"
rows=$(curl -fsS -b "$jar" "$base/alerts/rows" | grep -c '<tr id="a-' || true)
rm -f "$jar" "$D/demo-login.html"
[ "$rows" -ge "$want" ] || fail "signed in, but $base/alerts lists $rows alerts, want $want"
say "Signed in with that login (curl): $base/alerts lists $rows alerts, newest first."

step "Done"
say "Everything is under $D/: demo-audit.html, demo-mail/, demo.db, demo-incident.zip."
if [ "${DEMO_FAST:-}" = 1 ]; then
  exit 0
fi
# Alerts arriving live: a new sign-in of bg-admin1 to the HTTP source every
# BREAKGLASS_DEMO_EVERY seconds, each with a fresh id (the same record twice
# is alerted once), so the dashboard's Alerts page fills while you watch.
every=${BREAKGLASS_DEMO_EVERY:-20}
ingest_token=${BREAKGLASS_INGEST_TOKEN:-demo-token}
live_signins() {
  local n=0 now rec
  while sleep "$every"; do
    n=$((n + 1))
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    rec='{"id":"demo-live-'"$$-$n"'","createdDateTime":"'"$now"'","userPrincipalName":"bg-admin1@contoso.onmicrosoft.com",'
    rec+='"userId":"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70","appDisplayName":"Azure Portal","ipAddress":"198.51.100.'"$((n % 200 + 20))"'",'
    rec+='"status":{"errorCode":0},"location":{"city":"Oslo","countryOrRegion":"NO"}}'
    curl -fsS -o /dev/null -H "Authorization: Bearer $ingest_token" --data-binary "$rec" "http://$BREAKGLASS_DEMO_INGEST/ingest" ||
      printf 'demo: pushing live sign-in %d to the HTTP source failed\n' "$n" >&2
  done
}
live_signins &
pids+=($!)
cat <<TXT
Dashboard: $base/  user $demo_user, password $demo_pw
A new sign-in of bg-admin1 reaches the HTTP source every ${every}s: watch it
appear on $base/alerts (no reload) and acknowledge it there.
The daemon keeps running. From another terminal:
  curl $base/metrics                                  Prometheus metrics
  $BIN alerts list --config $CFG               the alerts and who was told
  $BIN incidents review --config $CFG $inc --as drill --by YOU --note "make demo"
  curl -H 'Authorization: Bearer demo-token' --data-binary @examples/logs/storage-PT1H.json http://$BREAKGLASS_DEMO_INGEST/ingest
  (records already seen are not alerted twice)
New alerts print below as the console channel writes them. Ctrl-C stops the
daemon and the mail sink.
TXT
tail -n 0 -f "$D/demo-serve.out" &
pids+=($!)
wait "${pids[1]}"
