# Sourced by scripts/test.sh (which defines apt_install, PIDS, WORK, step).
# Starts two memcached servers on free 127.0.0.1 ports and exports, in
# Beaker's spelling (';' between servers):
#   BEAKER_TEST_MEMCACHED  127.0.0.1:P1;127.0.0.1:P2

command -v memcached >/dev/null || apt_install memcached

_memcached_start() {
	local dir=$WORK/memcached M1 M2 p i
	mkdir -p "$dir"
	read -r M1 M2 <<<"$(/usr/bin/python3 -c 'import socket
ss=[socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))')"
	for p in "$M1" "$M2"; do
		# -u: memcached refuses to run as root without it. -U 0: no UDP.
		memcached -u nobody -l 127.0.0.1 -p "$p" -U 0 -m 64 -c 1024 </dev/null >"$dir/$p.log" 2>&1 &
		PIDS+=($!)
	done
	for p in "$M1" "$M2"; do
		for i in $(seq 200); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then break; fi
			if [ "$i" = 200 ]; then
				echo "memcached on port $p did not start:" >&2
				cat "$dir/$p.log" >&2
				return 1
			fi
			sleep 0.05
		done
	done
	export BEAKER_TEST_MEMCACHED="127.0.0.1:$M1;127.0.0.1:$M2"
	echo "memcached: $BEAKER_TEST_MEMCACHED"
}
_memcached_start || exit 1
