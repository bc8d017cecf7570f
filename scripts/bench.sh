#!/usr/bin/env bash
# make bench: beaker's sessions and caches side by side with their peers
# (scs, gorilla/sessions, otter, ristretto), in the bench/ module.
# Runs the benchmarks COUNT times, prints the benchstat tables, then the
# ratios beaker / peer and the cost each session library adds over a bare
# HTTP cycle (bench/cmd/ratios, from medians).
#
# Then the scaling pass: the parallel benchmarks (cache hit, session cycle)
# again with -cpu $CPUS, and, per core count, the cost added over bare and the
# ratio to otter.
#
# Environment: COUNT (default 6), BENCHTIME (default 1s), BENCH (the -bench
# regexp, default .), CPUS (the -cpu list of the scaling pass, default 1,2;
# use 1,4,16 on a 16-core machine; empty skips the pass), SCALE_BENCH (its
# -bench regexp, default the two parallel benchmarks), KEEP=1 keeps the raw
# output and prints its path.
# About 5 minutes on 2 cores with the defaults.
set -euo pipefail
cd "$(dirname "$0")/../bench"

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-.}
CPUS=${CPUS-1,2}
SCALE_BENCH=${SCALE_BENCH:-^Benchmark(CacheHitParallel|CycleParallel)$}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

WORK=$(mktemp -d /tmp/beaker-bench.XXXXXX)
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then echo "raw output kept in $WORK (raw.txt, cpu.txt)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- Redis for BenchmarkCycleRedis* (bench/store_test.go) ---------------------
# Unless BEAKER_TEST_REDIS_URL is set already, start a throwaway Redis on
# loopback with scripts/services/redis.sh (as scripts/test.sh does), when
# redis-server is installed or can be (as root); otherwise those benchmarks
# skip. Stopped on exit, before cleanup.
PIDS=()
step() { printf '\n== %s\n' "$*"; }
apt_install() { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
stop_services() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_services; cleanup' EXIT
if [ -z "${BEAKER_TEST_REDIS_URL:-}" ]; then
	if { command -v redis-server && command -v redis-cli; } >/dev/null || [ "$(id -u)" = 0 ]; then
		# shellcheck source=services/redis.sh
		source ../scripts/services/redis.sh
	else
		echo "redis-server not installed: the Redis benchmarks skip"
	fi
fi
# --- end Redis -----------------------------------------------------------------

echo "== go test -bench '$BENCH' -benchmem -count $COUNT -benchtime $BENCHTIME (GOMAXPROCS=$(nproc))"
start=$SECONDS
if ! go test -run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" . >"$WORK/raw.txt" 2>&1; then
	cat "$WORK/raw.txt"
	exit 1
fi
echo "   done in $((SECONDS - start)) s"

scaling=()
if [ -n "$CPUS" ]; then
	echo "== go test -bench '$SCALE_BENCH' -cpu $CPUS -benchmem -count $COUNT -benchtime $BENCHTIME"
	start=$SECONDS
	if ! go test -run '^$' -bench "$SCALE_BENCH" -cpu "$CPUS" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" . >"$WORK/cpu.txt" 2>&1; then
		cat "$WORK/cpu.txt"
		exit 1
	fi
	echo "   done in $((SECONDS - start)) s"
	if grep -q '^Benchmark' "$WORK/cpu.txt"; then
		scaling=(-scaling "$WORK/cpu.txt")
	fi
fi

# One benchstat table per family, so that columns (the cases) line up.
header='^(goos|goarch|pkg|cpu):'
grep -E "$header|^BenchmarkCycle" "$WORK/raw.txt" >"$WORK/session.txt" || true
grep -E "$header|^Benchmark(Cache|GetOrCreate)" "$WORK/raw.txt" >"$WORK/cache.txt" || true
for f in session cache; do
	if grep -q '^Benchmark' "$WORK/$f.txt"; then
		echo
		echo "== benchstat ($f; columns are the cases, 'vs base' is against the first)"
		go run "$BENCHSTAT" -col /case "$WORK/$f.txt"
	fi
done

if [ ${#scaling[@]} -gt 0 ]; then
	grep -E "$header|^BenchmarkCycle" "$WORK/cpu.txt" >"$WORK/cpu-session.txt" || true
	grep -E "$header|^Benchmark(Cache|GetOrCreate)" "$WORK/cpu.txt" >"$WORK/cpu-cache.txt" || true
	for f in session cache; do
		if grep -q '^Benchmark' "$WORK/cpu-$f.txt"; then
			echo
			echo "== benchstat ($f at -cpu $CPUS; a row's -N suffix is the core count)"
			go run "$BENCHSTAT" -col /case "$WORK/cpu-$f.txt"
		fi
	done
fi

echo
go run ./cmd/ratios "${scaling[@]}" "$WORK/raw.txt"
