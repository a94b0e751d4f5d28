#!/usr/bin/env bash
# release.sh: cross-compile breakglass for every release target into $DIST
# (default dist/), with an SBOM per binary and SHA256SUMS over all of it.
#
#   VERSION, COMMIT  stamped into internal/version (make release sets them
#                    from git; both must be stable for one commit)
#   TARGETS          space-separated GOOS/GOARCH pairs
#                    (default: linux/amd64 linux/arm64 darwin/arm64 windows/amd64)
#   DIST             output directory, emptied first
#   NO_SBOM=1        binaries only (the reproducibility rebuild)
#
# The build is reproducible: CGO off, -trimpath (no file system paths),
# -buildvcs=false (the version and commit come only from the -X values
# below, so a source tree without .git builds the same bytes), and the
# per-architecture levels and GOFLAGS pinned so a developer's environment
# cannot change the output. No network: the module cache must hold go.sum's
# modules.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIST=${DIST:-dist}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/arm64 windows/amd64}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
case "$VERSION$COMMIT" in
  *[[:space:]\'\"]*) echo "release.sh: VERSION and COMMIT must not contain spaces or quotes" >&2; exit 2 ;;
esac

export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT=
ldflags="-s -w -X breakglass/internal/version.Version=$VERSION -X breakglass/internal/version.Commit=$COMMIT"

rm -rf "$DIST"
mkdir -p "$DIST"
for t in $TARGETS; do
  os=${t%/*} arch=${t#*/}
  out="$DIST/breakglass-$os-$arch"
  [ "$os" = windows ] && out="$out.exe"
  echo "release: $t -> $out"
  GOOS=$os GOARCH=$arch "$GO" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out" ./cmd/breakglass
done
[ -n "${NO_SBOM:-}" ] && exit 0

# The SBOMs are the release's own `breakglass sbom` output. It runs the
# binary built above for this machine when there is one, else a host build.
host="$DIST/breakglass-$("$GO" env GOHOSTOS)-$("$GO" env GOHOSTARCH)"
[ "$("$GO" env GOHOSTOS)" = windows ] && host="$host.exe"
if [ ! -x "$host" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  host="$tmp/breakglass"
  GOOS= GOARCH= "$GO" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$host" ./cmd/breakglass
fi
for f in "$DIST"/breakglass-*; do
  case "$f" in *.cdx.json) continue ;; esac
  "$host" sbom "$f" > "$f.cdx.json"
done

# SHA256SUMS in the format `sha256sum -c` and `shasum -a 256 -c` read.
(
  cd "$DIST"
  if command -v sha256sum >/dev/null 2>&1; then sum="sha256sum"; else sum="shasum -a 256"; fi
  LC_ALL=C ls breakglass-* | xargs $sum > SHA256SUMS
)
echo "release: $VERSION ($COMMIT) in $DIST:"
ls -l "$DIST"
