#!/usr/bin/env bash
# The project's test command (make test). On a fresh machine it installs
# what the tests need (Debian packages, as root), starts the servers they
# use on 127.0.0.1 (scripts/services/: PostgreSQL, Redis with a Sentinel
# and a 3-master Cluster, two memcached servers), and runs gofmt, go vet,
# staticcheck and go test -race. It stops every server it started when it
# exits.
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

# apt_install PACKAGE...: installs Debian packages that are missing (as root).
apt_updated=
apt_install() {
	if [ "$(id -u)" != 0 ]; then
		echo "missing $*: install it (apt-get install $*) or run as root" >&2
		exit 1
	fi
	if [ -z "$apt_updated" ]; then
		apt-get update -qq >/dev/null
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

step "installing what the tests need"
command -v chromium >/dev/null || apt_install chromium
export BEAKER_TEST_CHROMIUM=$(command -v chromium)
echo "chromium: $BEAKER_TEST_CHROMIUM"

# Servers the tests need. Each scripts/services/NAME.sh is sourced here, in
# name order: it installs what it needs (apt_install), starts its server on
# 127.0.0.1 with its files under $WORK, appends the server's pid to PIDS (so
# that cleanup stops it) and exports the BEAKER_TEST_* variables its tests
# read.
for svc in scripts/services/*.sh; do
	[ -e "$svc" ] || continue
	step "starting $(basename "$svc" .sh)"
	# shellcheck source=/dev/null
	source "$svc"
done

step "no compiled binaries in git"
binaries=""
while IFS= read -r f; do
	[ -f "$f" ] || continue
	case "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" in
	7f454c46 | 4d5a* | cffaedfe | cefaedfe | cafebabe) binaries+="$f"$'\n' ;;
	esac
done < <(git ls-files 2>/dev/null)
if [ -n "$binaries" ]; then
	echo "compiled binaries are tracked by git (remove them; build outputs belong in .gitignore):"
	printf '%s' "$binaries"
	exit 1
fi

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
(cd e2e && go run "$STATICCHECK" ./...)

step "linking: the root package pulls in no SQL, Redis or memcached driver"
linked=$(go list -deps . | grep -E 'redis|memcache|sqlite|modernc|pgx|database/sql' || true)
if [ -n "$linked" ]; then
	echo "github.com/gobeaker/beaker depends on drivers that programs must link themselves:"
	echo "$linked"
	exit 1
fi

step "go test -race"
go test -race -count=1 ./...

step "bench module: go vet, go test -race (sanity checks; the benchmarks run with make bench)"
(cd bench && go vet ./... && go test -race -count=1 ./...)

step "end-to-end: the demo in headless Chromium (e2e module)"
(cd e2e && go vet ./... && go test -race -count=1 ./...)
