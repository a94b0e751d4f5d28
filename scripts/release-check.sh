#!/usr/bin/env bash
# release-check.sh: what CI checks of a release (make release-check).
#  1. scripts/release.sh builds every target into dist/ with its SBOM and
#     SHA256SUMS (so every target builds);
#  2. TestReleaseDist (internal/sbom) checks the binaries' build settings and
#     stamps, that no build path is left in them, every checksum, and that
#     each SBOM is exactly `breakglass sbom` of its binary;
#  3. reproducibility: REPRO_TARGET (default linux/amd64) is built again by
#     release.sh from a source clone at another path, with another GOPATH
#     and an empty build cache, and must be byte-identical to dist/'s.
# One target is rebuilt, not all four: a cold cross build costs ~1.5 min CPU
# and the rebuild exercises the same toolchain and flags for every target.
# REPRO_TARGET=all rebuilds every target; REPRO_KEEP=DIR keeps a rebuilt
# binary that differs, to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/arm64 windows/amd64}
REPRO_TARGET=${REPRO_TARGET:-linux/amd64}
[ "$REPRO_TARGET" = all ] && REPRO_TARGET=$TARGETS

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
TARGETS="$TARGETS" DIST=dist BUILD_DIR="$tmp/first/breakglass" ./scripts/release.sh

fail=0
BREAKGLASS_RELEASE_DIST="$PWD/dist" BREAKGLASS_RELEASE_SRC="$tmp/first/breakglass" \
  BREAKGLASS_RELEASE_TARGETS="$TARGETS" BREAKGLASS_RELEASE_VERSION="$VERSION" \
  BREAKGLASS_RELEASE_COMMIT="$COMMIT" BREAKGLASS_RELEASE_REVISION="$(git rev-parse HEAD)" \
  GOMODCACHE="$("$GO" env GOMODCACHE)" \
  "$GO" test -count=1 -run '^TestReleaseDist$' ./internal/sbom || fail=1

modcache=$("$GO" env GOMODCACHE)
GOPATH="$tmp/gopath" GOMODCACHE="$modcache" GOCACHE="$tmp/gocache" GOPROXY=off \
  BUILD_DIR="$tmp/somewhere/else/bg-src" DIST="$tmp/dist" TARGETS="$REPRO_TARGET" NO_SBOM=1 \
  ./scripts/release.sh
for t in $REPRO_TARGET; do
  name="breakglass-${t%/*}-${t#*/}"
  [ "${t%/*}" = windows ] && name="$name.exe"
  a=$(sha256sum "dist/$name" | cut -d' ' -f1)
  b=$(sha256sum "$tmp/dist/$name" | cut -d' ' -f1)
  if [ "$a" = "$b" ]; then
    echo "reproducible: $name $a (two builds, two source paths, two caches)"
  else
    echo "NOT reproducible: $name: $a in dist/, $b rebuilt elsewhere" >&2
    echo "  compare: go version -m dist/$name ${REPRO_KEEP:-(set REPRO_KEEP=DIR to keep the rebuilt binary)}" >&2
    [ -n "${REPRO_KEEP:-}" ] && mkdir -p "$REPRO_KEEP" && cp "$tmp/dist/$name" "$REPRO_KEEP/"
    fail=1
  fi
done
exit $fail
