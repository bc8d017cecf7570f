# make test: everything CI runs (installs and starts the servers the tests need).
.PHONY: test demo bench load icount
test:
	bash scripts/test.sh

demo:
	go run ./cmd/beaker-demo

# make bench: beaker vs scs, gorilla/sessions, otter, ristretto (bench/ module; COUNT, BENCHTIME, BENCH,
# CPUS for the scaling pass: default 1,2; 1,4,16 on a 16-core machine)
bench:
	bash scripts/bench.sh

# make load: wrk on loopback against bench/cmd/loadserver (/bare, the floor /vary, /beaker, /scs, /gorilla);
# SESSIONS=20000 for many users instead of one (ROUNDS, DURATION)
load:
	bash scripts/load.sh

# make icount: instructions per request under valgrind, beaker vs bare and scs
# (figures the machine's load does not move; see scripts/icount.sh)
icount:
	bash scripts/icount.sh
