# Sourced by scripts/test.sh (which provides apt_install, PIDS, WORK and
# step): starts a throwaway PostgreSQL on 127.0.0.1 for the tests of
# store/sqlstore and exports BEAKER_TEST_POSTGRES_URL (and the same value as
# BEAKER_TEST_POSTGRES_DSN). The server runs in the foreground as a child of
# the test script: its pid goes to PIDS, so the script's cleanup stops it,
# also when tests fail.
# Recipe: ../shared/reference/ci-recipes.md, "Recipe A".

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/postgres" ]; then
	apt_install postgresql
	pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

pg_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The cluster lives in $WORK, which cleanup removes after stopping the
# server. initdb refuses to run as root: as root, the cluster belongs to
# nobody, who needs to traverse $WORK (0700 from mktemp) to reach it.
pg_dir="$WORK/postgres"
mkdir -p "$pg_dir"
pg_as=() # the command prefix that runs a command as the cluster's owner
if [ "$(id -u)" = 0 ]; then
	pg_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	chmod o+x "$WORK"
	chown nobody:nogroup "$pg_dir"
fi

"${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
	>"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log"; exit 1; }
# A simple command, not a function: $! must be the postmaster itself
# (setpriv execs it), so that kill and wait reach it.
"${pg_as[@]}" "$pg_bin/postgres" -D "$pg_dir/data" -p "$pg_port" -c listen_addresses=127.0.0.1 \
	-c unix_socket_directories="$pg_dir" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
	-c max_connections=200 </dev/null >"$pg_dir/log" 2>&1 &
PIDS+=($!)
pg_ready=
for _ in $(seq 200); do
	if "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then pg_ready=1; break; fi
	sleep 0.05
done
if [ -z "$pg_ready" ]; then
	echo "PostgreSQL did not start on 127.0.0.1:$pg_port:"; cat "$pg_dir/log"; exit 1
fi
"$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'CREATE DATABASE beaker_test' >/dev/null
export BEAKER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/beaker_test?sslmode=disable"
export BEAKER_TEST_POSTGRES_DSN="$BEAKER_TEST_POSTGRES_URL"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
unset pg_ready pg_port pg_as
