# Sourced by scripts/test.sh (which defines apt_install, PIDS, WORK, step).
# Starts on 127.0.0.1, on free ports: one redis-server, one Sentinel that
# watches it, and a three-master Redis Cluster. Exports the addresses the
# redisstore tests read, in the store's own URL spellings:
#   BEAKER_TEST_REDIS_URL       redis://127.0.0.1:PORT/0
#   BEAKER_TEST_REDIS_SENTINEL  redis+sentinel://127.0.0.1:PORT/mymaster/0
#   BEAKER_TEST_REDIS_CLUSTER   127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
# Startup takes about 3 s, most of it redis-cli --cluster create.

command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
# Debian's package may start a server on 6379 where init scripts run; the
# tests never use it.

_redis_free_ports() {
	/usr/bin/python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# _redis_wait CMD...: retries CMD for up to 10 s.
_redis_wait() {
	local i
	for i in $(seq 200); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
	done
	echo "redis: gave up waiting for: $*" >&2
	return 1
}

_redis_start() {
	local dir=$WORK/redis RP SP C1 C2 C3 B1 B2 B3 pair p b
	mkdir -p "$dir"
	# Cluster bus ports are passed explicitly: the default (port+10000) is
	# refused for ephemeral ports above 55535.
	read -r RP SP C1 C2 C3 B1 B2 B3 <<<"$(_redis_free_ports 8)"

	redis-server --bind 127.0.0.1 --port "$RP" --save '' --appendonly no --dir "$dir" \
		--logfile "$dir/single.log" </dev/null >/dev/null 2>&1 &
	PIDS+=($!)
	for pair in "$C1:$B1" "$C2:$B2" "$C3:$B3"; do
		p=${pair%:*} b=${pair#*:}
		redis-server --bind 127.0.0.1 --port "$p" --cluster-port "$b" --save '' --appendonly no \
			--dir "$dir" --cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" \
			--cluster-node-timeout 2000 --logfile "$dir/cluster-$p.log" </dev/null >/dev/null 2>&1 &
		PIDS+=($!)
	done

	_redis_wait redis-cli -h 127.0.0.1 -p "$RP" ping || return 1
	cat >"$dir/sentinel.conf" <<-EOF
		bind 127.0.0.1
		port $SP
		dir $dir
		logfile $dir/sentinel.log
		sentinel monitor mymaster 127.0.0.1 $RP 1
		sentinel down-after-milliseconds mymaster 5000
	EOF
	redis-server "$dir/sentinel.conf" --sentinel </dev/null >/dev/null 2>&1 &
	PIDS+=($!)

	for p in "$C1" "$C2" "$C3"; do _redis_wait redis-cli -h 127.0.0.1 -p "$p" ping || return 1; done
	redis-cli --cluster create "127.0.0.1:$C1" "127.0.0.1:$C2" "127.0.0.1:$C3" \
		--cluster-replicas 0 --cluster-yes </dev/null >"$dir/create.log" 2>&1 || {
		cat "$dir/create.log" >&2
		return 1
	}
	for p in "$C1" "$C2" "$C3"; do
		_redis_wait sh -c "redis-cli -h 127.0.0.1 -p $p cluster info | grep -q cluster_state:ok" || return 1
	done
	_redis_wait sh -c "redis-cli -h 127.0.0.1 -p $SP sentinel get-master-addr-by-name mymaster | grep -q $RP" || return 1

	export BEAKER_TEST_REDIS_URL="redis://127.0.0.1:$RP/0"
	export BEAKER_TEST_REDIS_SENTINEL="redis+sentinel://127.0.0.1:$SP/mymaster/0"
	export BEAKER_TEST_REDIS_CLUSTER="127.0.0.1:$C1,127.0.0.1:$C2,127.0.0.1:$C3"
	echo "redis: $BEAKER_TEST_REDIS_URL; sentinel: $BEAKER_TEST_REDIS_SENTINEL; cluster: $BEAKER_TEST_REDIS_CLUSTER"
}
_redis_start || exit 1
