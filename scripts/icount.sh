#!/usr/bin/env bash
# make icount: instructions per request, counted by valgrind (cachegrind) on
# one CPU: figures that do not move with the machine's load, to compare
# beaker with bare and with scs where wall-clock times are too noisy to.
# They leave out what the kernel does (syscalls), cache misses and stalls:
# quote them beside make bench and make load, not instead of them.
#
# 1. The session cycle of bench/ (httptest, no network): BenchmarkCycle,
#    BenchmarkCycleReadOnly and BenchmarkCycle2K, cases bare, beaker-mem and
#    scs-mem. Each case runs N and 2N iterations (N=${N:-4000}); the
#    difference over N is its instructions per cycle, the process's start
#    and the benchmark's set-up cancelling out.
# 2. The load server (bench/cmd/loadserver) under `wrk -t1 -c4`, one server
#    per route: /bare, /bare sent beaker's cookie, /vary sent it (the floor
#    under any cookie session: the cookie parsed, "Vary: Cookie" answered),
#    /beaker, /scs. A run with no requests is subtracted; what is left, over
#    the requests served, is the server's instructions per request.
#
# Both run with GOMAXPROCS=1 and GODEBUG=asyncpreemptoff=1 (valgrind runs
# one thread at a time, and the preemption signal trips callgrind).
# Installs valgrind (and wrk) with apt-get when missing (as root). About 4
# minutes on 2 cores. SKIP_SERVER=1 skips part 2.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-4000}

need() {
	command -v "$1" >/dev/null && return
	if [ "$(id -u)" != 0 ]; then
		echo "icount.sh: $1 is missing; install it (apt-get install $2)" >&2
		exit 1
	fi
	echo "== installing $2"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1; then
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
	fi
}
need valgrind valgrind

WORK=$(mktemp -d /tmp/beaker-icount.XXXXXX)
SRV_PID=
cleanup() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

export GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1

# irefs CMD...: the instructions valgrind counted for CMD.
irefs() {
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		sed -n 's/.*I *refs: *//p' | tr -d ,
}

echo "== building the bench test binary and the load server"
(cd bench && go test -c -o "$WORK/bench.test" . && go build -o "$WORK/loadserver" ./cmd/loadserver)

echo
echo "== session cycle (httptest): instructions per cycle, from $N and $((2 * N)) iterations"
printf '%-16s %-12s %12s %12s %14s\n' benchmark case instructions "over bare" "÷ scs's added"
for bench in Cycle CycleReadOnly Cycle2K; do
	declare -A per=()
	for c in bare beaker-mem scs-mem; do
		run() { irefs "$WORK/bench.test" -test.run '^$' -test.bench "^Benchmark$bench\$/^case=$c\$" -test.benchtime "${1}x"; }
		a=$(run "$N")
		b=$(run $((2 * N)))
		per[$c]=$(((b - a) / N))
	done
	for c in bare beaker-mem scs-mem; do
		added=$((per[$c] - per[bare]))
		ratio=""
		if [ "$c" != bare ]; then
			ratio=$(awk -v a="$added" -v s="$((per[scs-mem] - per[bare]))" 'BEGIN {printf "%.2f", a / s}')
		fi
		printf '%-16s %-12s %12d %12s %14s\n' "$bench" "$c" "${per[$c]}" "$([ "$c" = bare ] || echo "+$added")" "$ratio"
	done
	unset per
done

[ "${SKIP_SERVER:-}" = 1 ] && exit 0
need wrk wrk

# serve OUT [ROUTE [SEED]]: runs the load server under valgrind, sends it
# wrk's requests for 8 s (none without ROUTE) with the cookie of a session
# that a request to /SEED made first, if any; stops it; prints the
# instructions, and the requests served in OUT.n.
serve() {
	local out=$1 route=${2:-} seed=${3:-} cookie=
	rm -f "$WORK/url"
	mkfifo "$WORK/url"
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" "$WORK/loadserver" >"$WORK/url" 2>"$out.log" &
	SRV_PID=$!
	local url
	if ! read -r -t 60 url <"$WORK/url"; then
		echo "icount.sh: the load server printed no URL" >&2
		cat "$out.log" >&2
		exit 1
	fi
	# One request first, also in the idle run: once it is answered, the
	# server handles SIGINT (a signal sent earlier is lost under valgrind).
	curl -sS --max-time 20 -o /dev/null "$url/bare"
	local n=0
	if [ -n "$route" ]; then
		if [ -n "$seed" ]; then
			cookie=$(curl -sS --max-time 20 -D - -o /dev/null "$url/$seed" | grep -i '^set-cookie:' | head -1 |
				sed -e 's/^[^:]*: *//' -e 's/;.*//' | tr -d '\r')
			if [ -z "$cookie" ]; then
				echo "icount.sh: /$seed set no cookie" >&2
				exit 1
			fi
		fi
		n=$(timeout 60 wrk -t1 -c4 -d8s ${cookie:+-H "Cookie: $cookie"} "$url/$route" | awk '/requests in/ {print $1}')
	fi
	kill -INT "$SRV_PID"
	wait "$SRV_PID" || true
	SRV_PID=
	echo "$n" >"$out.n"
	sed -n 's/.*I *refs: *//p' "$out.log" | tr -d ,
}

echo
echo "== load server under wrk -t1 -c4: instructions per request (the server's, not the kernel's)"
idle=$(serve "$WORK/idle")
declare -A srv=()
for r in bare bare+cookie vary+cookie beaker scs; do
	case $r in
	bare) total=$(serve "$WORK/$r" bare) ;;
	bare+cookie) total=$(serve "$WORK/$r" bare beaker) ;;
	vary+cookie) total=$(serve "$WORK/$r" vary beaker) ;;
	*) total=$(serve "$WORK/$r" "$r" "$r") ;;
	esac
	n=$(cat "$WORK/$r.n")
	if [ -z "$n" ] || [ "$n" -eq 0 ]; then
		echo "icount.sh: /$r served no request" >&2
		exit 1
	fi
	srv[$r]=$(((total - idle) / n))
	printf '/%-12s %6d requests %10d per request' "$r" "$n" "${srv[$r]}"
	[ "$r" != bare ] && printf '   +%d over /bare' $((srv[$r] - srv[bare]))
	echo
done
awk -v b="${srv[bare]}" -v c="${srv[bare+cookie]}" -v k="${srv[beaker]}" -v a=$((srv[beaker] - srv[bare])) -v s=$((srv[scs] - srv[bare])) \
	'BEGIN {printf "per request, /bare ÷ /beaker %.2f, /bare+cookie ÷ /beaker %.2f; beaker adds %.2f of what scs adds\n", b / k, c / k, a / s}'
awk -v f="${srv[vary+cookie]}" -v k="${srv[beaker]}" -v s="${srv[scs]}" \
	'BEGIN {printf "over the floor (/vary+cookie): beaker +%d, scs +%d; /vary+cookie ÷ /beaker %.2f\n", k - f, s - f, f / k}'
