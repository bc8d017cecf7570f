#!/usr/bin/env bash
# make load: a wrk load test on loopback against bench/cmd/loadserver:
# /bare (no session), /beaker, /scs and /gorilla, each with the Cookie of a
# session seeded first (so every request loads, increments and saves it).
# Two reference routes, sent beaker's Cookie header: "bare+cookie" is /bare
# (what net/http's parsing of a session cookie costs a handler that never
# reads it), and "vary+cookie" is /vary, /bare answering "Vary: Cookie" too:
# the floor that net/http puts under any cookie session. The shares are of
# /bare, which is sent no cookie.
# ROUNDS interleaved rounds (default 15) of `wrk -t1 -c32 -d${DURATION}`
# (default 1s) per route, each round starting one route further on: many short rounds, so that the routes a ratio
# compares ran seconds apart on this noisy machine and the medians have
# many rounds behind them. Prints requests/s per round, the median, the
# share of /bare (the ratio of the medians, and the median of each round's
# ratio, whose two routes ran seconds apart), and beaker's share of the
# floor. Installs wrk with apt-get when missing (as root). The server is
# stopped on exit. Takes about ROUNDS x 6 x DURATION (~90 s).
#
# SESSIONS=N (make load SESSIONS=20000) measures a server with many users
# instead of one: the server creates N sessions on each session route
# before it serves (loadserver -sessions), and every request carries the
# next of its route's N cookies in turn (scripts/sessions.lua; /bare+cookie
# and /vary+cookie get beaker's). Every route, /bare too, then goes through
# the same wrk script, so that wrk's cost per request is the same for all.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-15}
DURATION=${DURATION:-1s}
SESSIONS=${SESSIONS:-0}
ROUTES=(bare bare+cookie vary+cookie beaker scs gorilla)

if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "load.sh: wrk is missing; install it (apt-get install wrk)" >&2
		exit 1
	fi
	echo "== installing wrk"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; then
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
	fi
fi

WORK=$(mktemp -d /tmp/beaker-load.XXXXXX)
SRV_PID=
cleanup() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building bench/cmd/loadserver"
(cd bench && go build -o "$WORK/loadserver" ./cmd/loadserver)

# The server prints its URL on stdout once it listens (and has created
# its SESSIONS sessions).
mkfifo "$WORK/url"
server_args=()
if [ "$SESSIONS" -gt 0 ]; then
	mkdir "$WORK/cookies"
	server_args=(-sessions "$SESSIONS" -cookies "$WORK/cookies")
	echo "== creating $SESSIONS sessions on each session route"
fi
"$WORK/loadserver" "${server_args[@]}" >"$WORK/url" 2>"$WORK/server.log" &
SRV_PID=$!
if ! read -r -t 300 URL <"$WORK/url"; then
	echo "load.sh: the server printed no URL" >&2
	cat "$WORK/server.log" >&2
	exit 1
fi
echo "   server $URL (pid $SRV_PID)"

declare -A COOKIE
for r in "${ROUTES[@]}"; do
	[ "$SESSIONS" -gt 0 ] && break
	[[ $r = *+cookie ]] && continue
	curl -sS --max-time 5 -o /dev/null -D "$WORK/seed-$r" "$URL/$r"
	COOKIE[$r]=$(grep -i '^set-cookie:' "$WORK/seed-$r" | head -1 | sed -e 's/^[^:]*: *//' -e 's/;.*//' | tr -d '\r' || true)
	if [ "$r" != bare ] && [ -z "${COOKIE[$r]}" ]; then
		echo "load.sh: /$r set no cookie" >&2
		exit 1
	fi
done

COOKIE[bare+cookie]=${COOKIE[beaker]:-}
COOKIE[vary+cookie]=${COOKIE[beaker]:-}

declare -A RPS
for round in $(seq 1 "$ROUNDS"); do
	# Each round starts one route further on, so that every route runs
	# after every other as often: no route always follows the same one.
	k=$(((round - 1) % ${#ROUTES[@]}))
	for r in "${ROUTES[@]:k}" "${ROUTES[@]:0:k}"; do
		args=(-t1 -c32 -d"$DURATION")
		if [ "$SESSIONS" -gt 0 ]; then
			case $r in
			bare) file=- ;;
			*+cookie) file=$WORK/cookies/beaker ;;
			*) file=$WORK/cookies/$r ;;
			esac
			args+=(-s scripts/sessions.lua "$URL/${r%+cookie}" -- "$file")
		else
			[ -n "${COOKIE[$r]}" ] && args+=(-H "Cookie: ${COOKIE[$r]}")
			args+=("$URL/${r%+cookie}")
		fi
		timeout 60 wrk "${args[@]}" >"$WORK/wrk-$r-$round"
		rps=$(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk-$r-$round")
		if [ -z "$rps" ]; then
			echo "load.sh: wrk reported no requests/s for /$r in round $round:" >&2
			cat "$WORK/wrk-$r-$round" >&2
			exit 1
		fi
		bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$WORK/wrk-$r-$round")
		lat=$(awk '$1 == "Latency" {print $2; exit}' "$WORK/wrk-$r-$round")
		RPS[$r]="${RPS[$r]:-} $rps"
		printf '   round %d  /%-11s %10s req/s  avg latency %-8s%s\n' "$round" "$r" "$rps" "$lat" "${bad:+  NON-2xx: $bad}"
	done
done

median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo
echo "== wrk -t1 -c32 -d$DURATION, $ROUNDS interleaved rounds$([ "$SESSIONS" -gt 0 ] && echo ", $SESSIONS sessions a route, in turn") (median; share of /bare: of the medians, and the median of the rounds')"
# shares A B: each round's requests/s of A ÷ those of B, one a line.
shares() {
	local -a a b
	read -r -a a <<<"${RPS[$1]}"
	read -r -a b <<<"${RPS[$2]}"
	for i in "${!a[@]}"; do
		awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.2f\n", x / y}'
	done
}
for r in "${ROUTES[@]}"; do
	med=$(median "${RPS[$r]}")
	per=$(shares "$r" bare)
	printf '/%-11s %-36s median %8.0f  share of bare %.2f, of rounds %.2f  (per round: %s)\n' \
		"$r" "${RPS[$r]}" "$med" "$(awk -v a="$med" -v b="$(median "${RPS[bare]}")" 'BEGIN {print a / b}')" \
		"$(median "$per")" "$(echo $per)"
done
per=$(shares beaker vary+cookie)
printf '/beaker ÷ /vary+cookie (the floor under a cookie session): of the medians %.2f, of rounds %.2f  (per round: %s)\n' \
	"$(awk -v a="$(median "${RPS[beaker]}")" -v b="$(median "${RPS[vary+cookie]}")" 'BEGIN {print a / b}')" \
	"$(median "$per")" "$(echo $per)"
