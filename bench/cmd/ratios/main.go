// Command ratios reads `go test -bench` output (several -count runs) and
// prints, from the median of each metric, how beaker compares with its peers:
// beaker / peer for ns/op and allocs/op in every benchmark group, the cost
// each session library adds over the bare HTTP cycle, and the cache ratios.
// With -scaling FILE it also reads a run of the parallel benchmarks at
// several core counts (go test -cpu 1,2) and prints, per core count, the
// cost added over bare (session cycle) and the ratio to otter (cache hit).
//
// Usage:
//
//	go test -bench . -benchmem -count 6 | go run ./cmd/ratios
//	go run ./cmd/ratios bench.txt
//	go run ./cmd/ratios -scaling cpu.txt bench.txt
//	go run ./cmd/ratios -scaling cpu.txt
//
// Sub-benchmarks must be named GROUP/case=NAME. The case named "bare" is the
// baseline of its group, and a case whose name starts with "beaker" is ours.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result holds every value seen for one benchmark, by unit.
type result map[string][]float64

// group is one benchmark function: its cases in order of appearance.
type group struct {
	name  string
	cases []string
	res   map[string]result
}

// procSuffix is the -GOMAXPROCS suffix that go test appends to names.
var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines and returns the groups in order of appearance.
func parse(r io.Reader) ([]*group, error) {
	var groups []*group
	byName := map[string]*group{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		gname, cname, ok := strings.Cut(name, "/case=")
		if !ok {
			gname, cname = name, ""
		}
		g := byName[gname]
		if g == nil {
			g = &group{name: gname, res: map[string]result{}}
			byName[gname] = g
			groups = append(groups, g)
		}
		res := g.res[cname]
		if res == nil {
			res = result{}
			g.res[cname] = res
			g.cases = append(g.cases, cname)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			res[f[i+1]] = append(res[f[i+1]], v)
		}
	}
	return groups, sc.Err()
}

// median returns the median of the values of unit, and false if there are
// none.
func (r result) median(unit string) (float64, bool) {
	vs := slices.Clone(r[unit])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}

// ours returns the name of beaker's case in g, or "".
func (g *group) ours() string {
	for _, c := range g.cases {
		if strings.HasPrefix(c, "beaker") {
			return c
		}
	}
	return ""
}

// oursAll returns the names of beaker's cases in g (a server-side and a
// cookie session, say), in order.
func (g *group) oursAll() []string {
	var out []string
	for _, c := range g.cases {
		if strings.HasPrefix(c, "beaker") {
			out = append(out, c)
		}
	}
	return out
}

// isPeer reports whether case c of a group is a peer library's.
func isPeer(c string) bool { return c != "bare" && !strings.HasPrefix(c, "beaker") }

// ratio formats a/b, or "-" when it is undefined.
func ratio(a, b float64, okA, okB bool) string {
	switch {
	case !okA || !okB:
		return "-"
	case b == 0 && a == 0:
		return "1.00"
	case b == 0:
		return "inf"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// dur formats nanoseconds with a readable unit.
func dur(ns float64) string {
	a := ns
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	}
	return fmt.Sprintf("%.1fns", ns)
}

func report(w io.Writer, groups []*group) {
	fmt.Fprintln(w, "== beaker / peer (medians; < 1 means beaker is cheaper)")
	fmt.Fprintf(w, "%-28s %-16s %-16s %9s %9s %9s\n", "group", "ours", "peer", "ns/op", "allocs/op", "B/op")
	for _, g := range groups {
		for _, ours := range g.oursAll() {
			reportVs(w, g, ours)
		}
	}

	fmt.Fprintln(w, "\n== added cost, ours / peer ((case - bare) / (peer - bare), medians; 0.25 is a quarter)")
	fmt.Fprintf(w, "%-28s %-16s %-16s %9s\n", "group", "ours", "peer", "ns/op")
	for _, g := range groups {
		bare, ok := g.res["bare"]
		if !ok {
			continue
		}
		bn, okB := bare.median("ns/op")
		for _, ours := range g.oursAll() {
			on, okO := g.res[ours].median("ns/op")
			for _, c := range g.cases {
				if !isPeer(c) {
					continue
				}
				pn, okP := g.res[c].median("ns/op")
				fmt.Fprintf(w, "%-28s %-16s %-16s %9s\n", g.name, ours, c, ratio(on-bn, pn-bn, okO && okB, okP && okB))
			}
		}
	}

	fmt.Fprintln(w, "\n== added cost over bare (case - bare, medians)")
	fmt.Fprintf(w, "%-28s %-16s %10s %10s %10s %8s\n", "group", "case", "ns/op", "B/op", "allocs/op", "x bare")
	for _, g := range groups {
		bare, ok := g.res["bare"]
		if !ok {
			continue
		}
		bn, _ := bare.median("ns/op")
		bb, _ := bare.median("B/op")
		ba, _ := bare.median("allocs/op")
		for _, c := range g.cases {
			if c == "bare" {
				continue
			}
			r := g.res[c]
			n, _ := r.median("ns/op")
			b, _ := r.median("B/op")
			a, _ := r.median("allocs/op")
			fmt.Fprintf(w, "%-28s %-16s %10s %10.0f %10.0f %8s\n", g.name, c, "+"+dur(n-bn), b-bb, a-ba, ratio(n, bn, true, true))
		}
	}

	fmt.Fprintln(w, "\n== other metrics (medians)")
	for _, g := range groups {
		if _, ok := g.res["bare"]; ok {
			continue
		}
		for _, c := range g.cases {
			r := g.res[c]
			units := make([]string, 0, len(r))
			for u := range r {
				units = append(units, u)
			}
			slices.Sort(units)
			var parts []string
			for _, u := range units {
				m, _ := r.median(u)
				parts = append(parts, fmt.Sprintf("%s %s", strconv.FormatFloat(m, 'g', 4, 64), u))
			}
			fmt.Fprintf(w, "%-28s %-16s %s\n", g.name, c, strings.Join(parts, ", "))
		}
		if g.ours() == "" && strings.Contains(g.name, "Cache") || g.ours() == "" && strings.Contains(g.name, "GetOrCreate") {
			fmt.Fprintf(w, "%-28s (no beaker case: the bench module was built without it)\n", g.name)
		}
	}
}

// reportVs prints beaker / peer for ours against every peer case of g.
func reportVs(w io.Writer, g *group, ours string) {
	o := g.res[ours]
	for _, c := range g.cases {
		if !isPeer(c) {
			continue
		}
		p := g.res[c]
		on, ok1 := o.median("ns/op")
		pn, ok2 := p.median("ns/op")
		oa, ok3 := o.median("allocs/op")
		pa, ok4 := p.median("allocs/op")
		ob, ok5 := o.median("B/op")
		pb, ok6 := p.median("B/op")
		fmt.Fprintf(w, "%-28s %-16s %-16s %9s %9s %9s\n", g.name, ours, c,
			ratio(on, pn, ok1, ok2), ratio(oa, pa, ok3, ok4), ratio(ob, pb, ok5, ok6))
	}
}

func main() {
	scalingFile := flag.String("scaling", "", "`file` of a go test -cpu 1,2,… run of the parallel benchmarks: print the per-core tables")
	flag.Parse()
	if *scalingFile != "" {
		defer func() {
			f, err := os.Open(*scalingFile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "ratios:", err)
				os.Exit(1)
			}
			defer f.Close()
			groups, err := parseScaled(f)
			if err != nil || len(groups) == 0 {
				fmt.Fprintln(os.Stderr, "ratios: no benchmark lines in", *scalingFile, err)
				os.Exit(1)
			}
			reportScaled(os.Stdout, groups)
		}()
		if flag.NArg() == 0 {
			return
		}
	}
	in := io.Reader(os.Stdin)
	if flag.NArg() > 0 {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratios:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	groups, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
	if len(groups) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark lines in the input")
		os.Exit(1)
	}
	report(os.Stdout, groups)
}
