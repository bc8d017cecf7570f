# make test: everything CI runs (installs and starts the servers the tests need).
.PHONY: test demo bench
test:
	bash scripts/test.sh

demo:
	go run ./cmd/beaker-demo

bench:
	go test -run XXX -bench . -benchmem -count 6 ./session/
