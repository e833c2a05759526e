#!/bin/sh
# Build credd's Linux packages: binaries, completions and man pages, then a
# .deb and an .rpm with nfpm. Everything lands in dist/.
#
#   packaging/build.sh                 # both packages for the host's arch
#   PACKAGERS=deb packaging/build.sh   # only the .deb
#   GOARCH=arm64 packaging/build.sh    # cross-build for arm64
#   VERSION=1.2.3 packaging/build.sh   # version (default: from git describe)
#   DIST=/tmp/out packaging/build.sh   # output directory (default: dist)
#
# nfpm is run with `go run ...@v2.44.0`, which builds it in the module cache
# and leaves go.mod alone.
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
NFPM=${NFPM:-"$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.44.0"}
PACKAGERS=${PACKAGERS:-"deb rpm"}
GOARCH=${GOARCH:-$($GO env GOARCH)}
DIST=${DIST:-dist} # an absolute path, or relative to the repository root
export DIST

if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
# Package versions must start with a digit and may not contain '-'
# (rpm): v1.2.3 -> 1.2.3, 1.2.3-4-gabc -> 1.2.3.4.gabc, abc123 -> 0.0.0~git.abc123.
pkgversion=${VERSION#v}
case "$pkgversion" in
[0-9]*.[0-9]*) ;; # a release (a bare hash like 4c6712a can start with a digit too)
*) pkgversion="0.0.0~git.$pkgversion" ;;
esac
pkgversion=$(printf '%s' "$pkgversion" | tr -- '-' '.')

# Builds are reproducible: no VCS stamping, fixed man page dates.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH

rm -rf "$DIST/bin" "$DIST/completions" "$DIST/man"
mkdir -p "$DIST/bin"
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH $GO build -trimpath -buildvcs=false \
	-ldflags "-s -w -X github.com/credd-dev/credd/version.Version=$VERSION" \
	-o "$DIST/bin/" ./cmd/credd ./cmd/credctl
$GO run ./packaging/gendocs -out "$DIST"
gzip -9n "$DIST"/man/*

for p in $PACKAGERS; do
	VERSION=$pkgversion ARCH=$GOARCH $NFPM pkg \
		--config packaging/nfpm.yaml --packager "$p" --target "$DIST/"
done
