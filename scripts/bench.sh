#!/usr/bin/env bash
# Whole-program throughput of `breakglass scan` against two yardsticks on the
# same file, in the same run: a naive scanner that fully decodes every record
# with encoding/json, and `grep -c -F <one account id>`, the floor for just
# reading the bytes. Each figure is the best of RUNS runs, the file is in the
# page cache, and absolute numbers vary by machine: compare the ratios.
# BEFORE=path adds a row for another breakglass binary (say, one built from
# main) on the same files. A second table scans with 1,000 configured
# accounts against `grep -c -F -f` with their 2,000 ids and UPNs.
set -euo pipefail
COUNT=${COUNT:-200000}
RUNS=${RUNS:-3}
SHAPES=${SHAPES:-storage eventhub graph la-json la-ndjson mixed}
BIN=${BIN:-bin/breakglass}
BEFORE=${BEFORE:-}
MANY=${MANY:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/naivescan" ./bench/naivescan
cat > "$work/bench.yaml" <<'YAML'
accounts:
  - id: 6a1e3f0c-2b7d-4c59-9e84-0d2f5a7b1c93
    upn: bg-alpha@contoso.onmicrosoft.com
    name: Break glass alpha
  - id: c4f8b2d1-7e3a-4a06-8b5d-91e2f0c3a7d4
    upn: bg-bravo@contoso.onmicrosoft.com
    name: Break glass bravo
YAML
id=6a1e3f0c-2b7d-4c59-9e84-0d2f5a7b1c93
ids=$id,c4f8b2d1-7e3a-4a06-8b5d-91e2f0c3a7d4

# best_of CMD...: runs the command RUNS times, prints the fastest wall time in seconds.
best_of() {
  local best=""
  for _ in $(seq "$RUNS"); do
    local s e t
    # Not >/dev/null: GNU grep then stops at the first match, as with -q.
    s=$(date +%s.%N); "$@" >"$work/out" 2>&1 || true; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

printf '\n%-9s %-9s %10s %12s %9s %s\n' shape tool seconds records/s MB/s "vs naive / vs grep"
for shape in $SHAPES; do
  f="$work/$shape.json"
  "$BIN" simulate --config "$work/bench.yaml" --shape "$shape" --count "$COUNT" --seed 7 --bg-share 0.001 --out "$f" 2>/dev/null
  size=$(stat -c %s "$f")
  recs=$COUNT
  cat "$f" > /dev/null # warm the page cache
  t_scan=$(best_of "$BIN" scan --config "$work/bench.yaml" --no-store --format json "$f")
  t_naive=$(best_of "$work/naivescan" "$ids" "$f")
  t_grep=$(best_of grep -c -F "$id" "$f")
  found=$(grep -c -F "$id" "$f" || true)
  [ "$found" -gt 0 ] || { echo "bench: the account id does not occur in the $shape file" >&2; exit 1; }
  rows=("breakglass $t_scan")
  if [ -n "$BEFORE" ]; then
    rows+=("before $(best_of "$BEFORE" scan --config "$work/bench.yaml" --no-store --format json "$f")")
  fi
  rows+=("naive $t_naive" "grep $t_grep")
  for row in "${rows[@]}"; do
    set -- $row
    rps=$(echo "$recs / $2" | bc -l); mbs=$(echo "$size / 1000000 / $2" | bc -l)
    rel=""
    if [ "$1" = breakglass ]; then
      rel=$(printf '%.1fx faster / %.2fx slower' "$(echo "$t_naive / $t_scan" | bc -l)" "$(echo "$t_scan / $t_grep" | bc -l)")
    fi
    printf '%-9s %-9s %10.3f %12.0f %9.1f %s\n' "$shape" "$1" "$2" "$rps" "$mbs" "$rel"
  done
done
printf '\n%d records per shape, %s; best of %d runs; %s\n' "$COUNT" "$(nproc) CPUs" "$RUNS" "$(go version | cut -d' ' -f3)"
[ -n "$BEFORE" ] && printf 'before: %s\n' "$BEFORE"

# Many accounts: MANY configured accounts (ids and UPNs), records naming
# them at the usual share, against grep with every id and UPN as a fixed
# string. Both must read every byte; breakglass also decides which records
# concern an account and raises the alerts.
{
  echo "accounts:"
  for i in $(seq "$MANY"); do
    printf '  - id: %08x-%04x-4%03x-8%03x-%012x\n    upn: bg-%d@contoso.onmicrosoft.com\n' \
      $((i * 2654435761 % 4294967296)) $((i % 65536)) $((i % 4096)) $(((i * 7) % 4096)) $((i * 97)) "$i"
  done
} > "$work/many.yaml"
sed -n 's/^  - id: //p; s/^    upn: //p' "$work/many.yaml" > "$work/many.txt"
f="$work/many.json"
"$BIN" simulate --config "$work/many.yaml" --shape storage --count "$COUNT" --seed 7 --bg-share 0.001 --out "$f" 2>/dev/null
size=$(stat -c %s "$f")
cat "$f" > /dev/null
printf '\n%-9s %-9s %10s %12s %9s %s\n' accounts tool seconds records/s MB/s "vs grep -F -f"
t_grep=$(best_of grep -c -F -f "$work/many.txt" "$f")
rows=("breakglass $(best_of "$BIN" scan --config "$work/many.yaml" --no-store --format json "$f")")
[ -n "$BEFORE" ] && rows+=("before $(best_of "$BEFORE" scan --config "$work/many.yaml" --no-store --format json "$f")")
rows+=("grep $t_grep")
for row in "${rows[@]}"; do
  set -- $row
  rel=""
  [ "$1" != grep ] && rel=$(printf '%.2fx' "$(echo "$2 / $t_grep" | bc -l)")
  printf '%-9s %-9s %10.3f %12.0f %9.1f %s\n' "$MANY" "$1" "$2" "$(echo "$COUNT / $2" | bc -l)" "$(echo "$size / 1000000 / $2" | bc -l)" "$rel"
done
printf '\n%d storage records naming %d accounts (%d ids and UPNs for grep; %s lines match)\n' \
  "$COUNT" "$MANY" "$(wc -l < "$work/many.txt")" "$(grep -c -F -f "$work/many.txt" "$f" || true)"
