#!/usr/bin/env bash
# release.sh: cross-compile breakglass for every release target into $DIST
# (default dist/), with an SBOM per binary and SHA256SUMS over all of it.
#
#   VERSION, COMMIT  stamped into internal/version (make release sets them
#                    from git; both must be stable for one commit)
#   TARGETS          space-separated GOOS/GOARCH pairs
#                    (default: linux/amd64 linux/arm64 darwin/arm64 windows/amd64)
#   DIST             output directory, emptied first
#   BUILD_DIR        where to put the source clone it builds from
#                    (default: a new temporary directory)
#   NO_SBOM=1        binaries only (the reproducibility rebuild)
#
# The build is reproducible: CGO off, -trimpath (no file system paths), the
# per-architecture levels and GOFLAGS pinned so a developer's environment
# cannot change the output, and only stamps that belong to the commit: the
# -X values below and Go's VCS stamp (vcs.revision, the commit's vcs.time,
# vcs.modified, and the main module version Go derives from them: the tag,
# or a pseudo-version), which is where `breakglass sbom` finds the version
# (-trimpath leaves -ldflags out of the build information).
#
# It builds from a fresh clone of HEAD with the working tree's changes laid
# over it, not from the working tree itself: the same source and the same VCS
# stamp whether this is a checkout, a git worktree (which the go command does
# not recognise as a repository) or a dirty tree. Outside git it builds in
# place without a VCS stamp (the SBOM then says "(devel)"). No network: the
# module cache must hold go.sum's modules.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
DIST=${DIST:-dist}
case "$DIST" in /*) ;; *) DIST="$root/$DIST" ;; esac
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/arm64 windows/amd64}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
case "$VERSION$COMMIT" in
  *[[:space:]\'\"]*) echo "release.sh: VERSION and COMMIT must not contain spaces or quotes" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vcs=-buildvcs=false
if head=$(git rev-parse --verify -q HEAD 2>/dev/null); then
  src=${BUILD_DIR:-$tmp/src/breakglass}
  git clone -q --shared --no-checkout "$root" "$src"
  git -C "$src" checkout -q --detach "$head"
  git ls-files -z --modified --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf - | tar -xf - -C "$src"
  git ls-files -z --deleted | (cd "$src" && xargs -0 -r rm -f --)
  vcs=-buildvcs=true
  cd "$src"
else
  echo "release.sh: not a git checkout: building without a VCS stamp" >&2
fi

export CGO_ENABLED=0 GOFLAGS="-mod=readonly $vcs" GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT=
ldflags="-s -w -X breakglass/internal/version.Version=$VERSION -X breakglass/internal/version.Commit=$COMMIT"

rm -rf "$DIST"
mkdir -p "$DIST"
for t in $TARGETS; do
  os=${t%/*} arch=${t#*/}
  out="$DIST/breakglass-$os-$arch"
  [ "$os" = windows ] && out="$out.exe"
  echo "release: $t -> $out"
  GOOS=$os GOARCH=$arch "$GO" build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/breakglass
done
[ -n "${NO_SBOM:-}" ] && exit 0

# The SBOMs are the release's own `breakglass sbom` output. It runs the
# binary built above for this machine when there is one, else a host build.
hostos=$(GOOS= "$GO" env GOHOSTOS) hostarch=$(GOARCH= "$GO" env GOHOSTARCH)
host="$DIST/breakglass-$hostos-$hostarch"
[ "$hostos" = windows ] && host="$host.exe"
if [ ! -x "$host" ]; then
  host="$tmp/breakglass"
  GOOS= GOARCH= "$GO" build -trimpath -ldflags "$ldflags" -o "$host" ./cmd/breakglass
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
