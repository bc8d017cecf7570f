#!/usr/bin/env bash
# The project's test command (make test). On a fresh machine it installs
# what the tests need, starts the servers they use on 127.0.0.1, and runs
# gofmt, go vet, staticcheck and go test -race. It stops every server it
# started when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
export BEAKER_TEST_REQUIRE_SERVICES=1

PIDS=()
WORK=$(mktemp -d /tmp/beaker-test.XXXXXX)
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go run "$STATICCHECK" ./...
(cd bench && go run "$STATICCHECK" ./...)

step "go test -race"
go test -race -count=1 ./...

step "bench module: go vet, go test -race (sanity checks; the benchmarks run with make bench)"
(cd bench && go vet ./... && go test -race -count=1 ./...)
