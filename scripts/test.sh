#!/usr/bin/env bash
# The project's test command (what .ci/run executes):
#
#   scripts/test.sh [go test flags...]      e.g. scripts/test.sh -run LIF -v
#
# 1. scripts/deps.sh installs missing Debian packages and onnxruntime-node,
# 2. interop tests become mandatory: BSNNCTL_INTEROP=1, BSNNCTL_ORT_LIB=<lib>,
# 3. large fixtures are generated once when testmodels/make_fixtures.py exists,
# 4. go vet ./... and go vet -tags mpi ./... (the Open MPI build of package
#    dist, which needs cgo and Open MPI's headers), a gofmt check (generated
#    *.pb.go excluded), then
#    go test -timeout "${BSNNCTL_TEST_TIMEOUT:-30m}" [flags] ${BSNNCTL_TEST_PKGS:-./...}
#
# Extra arguments go to go test as flags; set BSNNCTL_TEST_PKGS to test fewer
# packages. Interop tests need cgo: gcc and CGO_ENABLED=1 (Go's default).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
die() {
	printf 'test.sh: error: %s\n' "$*" >&2
	exit 1
}

command -v go >/dev/null || die "go not found in PATH"

step "dependencies (scripts/deps.sh)"
ort_lib="$(bash scripts/deps.sh)" || die "scripts/deps.sh failed"
[[ -f "$ort_lib" ]] || die "scripts/deps.sh printed '$ort_lib', which is not a file"
export BSNNCTL_INTEROP=1
export BSNNCTL_ORT_LIB="$ort_lib"
printf 'BSNNCTL_INTEROP=1 BSNNCTL_ORT_LIB=%s\n' "$BSNNCTL_ORT_LIB" >&2

if [[ -f testmodels/make_fixtures.py && ! -f testmodels/generated/manifest.json ]]; then
	step "large fixtures (testmodels/make_fixtures.py --large)"
	/usr/bin/python3 testmodels/make_fixtures.py --large --out testmodels/generated ||
		die "testmodels/make_fixtures.py failed"
	[[ -f testmodels/generated/manifest.json ]] ||
		die "testmodels/make_fixtures.py did not write testmodels/generated/manifest.json"
fi

step "go vet ./..."
go vet ./...

step "go vet -tags mpi ./..."
go vet -tags mpi ./...

step "gofmt"
unformatted="$(gofmt -l . | grep -v '\.pb\.go$' || true)"
if [[ -n "$unformatted" ]]; then
	printf 'gofmt: these files need formatting (run gofmt -w):\n%s\n' "$unformatted" >&2
	exit 1
fi

step "go test"
# shellcheck disable=SC2086 # BSNNCTL_TEST_PKGS is a list of package patterns
go test -timeout "${BSNNCTL_TEST_TIMEOUT:-30m}" "$@" ${BSNNCTL_TEST_PKGS:-./...}
