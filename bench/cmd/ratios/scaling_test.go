package main

import (
	"strings"
	"testing"
)

func TestReportScaled(t *testing.T) {
	in := `BenchmarkCycleParallel/case=bare 	 1000	 2000 ns/op	 100 B/op	 10 allocs/op
BenchmarkCycleParallel/case=bare-2 	 1000	 1100 ns/op	 100 B/op	 10 allocs/op
BenchmarkCycleParallel/case=beaker 	 1000	 4000 ns/op	 100 B/op	 30 allocs/op
BenchmarkCycleParallel/case=beaker-2 	 1000	 2300 ns/op	 100 B/op	 30 allocs/op
BenchmarkCacheHitParallel/case=otter 	1000	 40 ns/op	0 B/op	0 allocs/op
BenchmarkCacheHitParallel/case=otter-2 	1000	 30 ns/op	0 B/op	0 allocs/op
BenchmarkCacheHitParallel/case=beaker-mem 	1000	 30 ns/op	0 B/op	0 allocs/op
BenchmarkCacheHitParallel/case=beaker-mem-2 	1000	 15 ns/op	0 B/op	0 allocs/op
`
	groups, err := parseScaled(strings.NewReader(in))
	if err != nil || len(groups) != 2 {
		t.Fatalf("parseScaled: %d groups, %v", len(groups), err)
	}
	var out strings.Builder
	reportScaled(&out, groups)
	for _, want := range []string{
		"cpu=1", "cpu=2",
		"BenchmarkCycleParallel       beaker                   +2.0µs         +1.2µs",
		"BenchmarkCacheHitParallel    beaker-mem                0.75x          0.50x",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
