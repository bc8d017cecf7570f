package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// scaled is one benchmark function run at several core counts (go test
// -cpu 1,2,…): its results by GOMAXPROCS, then by case.
type scaled struct {
	name  string
	cases []string
	procs []int
	res   map[int]map[string]result
}

// procOf splits the -GOMAXPROCS suffix off a benchmark name; a name
// without one ran at GOMAXPROCS=1.
var procOf = regexp.MustCompile(`^(.*)-(\d+)$`)

// parseScaled reads benchmark lines, keeping the core count of each.
func parseScaled(r io.Reader) ([]*scaled, error) {
	var out []*scaled
	byName := map[string]*scaled{}
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
		name, procs := f[0], 1
		if m := procOf.FindStringSubmatch(name); m != nil {
			name = m[1]
			procs, _ = strconv.Atoi(m[2])
		}
		gname, cname, ok := strings.Cut(name, "/case=")
		if !ok {
			gname, cname = name, ""
		}
		g := byName[gname]
		if g == nil {
			g = &scaled{name: gname, res: map[int]map[string]result{}}
			byName[gname] = g
			out = append(out, g)
		}
		if !slices.Contains(g.cases, cname) {
			g.cases = append(g.cases, cname)
		}
		byCase := g.res[procs]
		if byCase == nil {
			byCase = map[string]result{}
			g.res[procs] = byCase
			g.procs = append(g.procs, procs)
			slices.Sort(g.procs)
		}
		res := byCase[cname]
		if res == nil {
			res = result{}
			byCase[cname] = res
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				res[f[i+1]] = append(res[f[i+1]], v)
			}
		}
	}
	return out, sc.Err()
}

// reportScaled prints, per core count, the cost each case adds over the
// bare case (groups that have one: the session cycle) and each case's
// ratio to otter (groups that have it: the cache hit).
func reportScaled(w io.Writer, groups []*scaled) {
	perCore := func(title, base string, cell func(on, bn float64) string) {
		printed := false
		for _, g := range groups {
			if !slices.Contains(g.cases, base) {
				continue
			}
			if !printed {
				fmt.Fprintf(w, "\n== %s\n", title)
				printed = true
			}
			fmt.Fprintf(w, "%-28s %-16s", "group", "case")
			for _, p := range g.procs {
				fmt.Fprintf(w, " %14s", fmt.Sprintf("cpu=%d", p))
			}
			fmt.Fprintf(w, " %14s\n", "allocs/op")
			for _, c := range g.cases {
				if c == base {
					continue
				}
				fmt.Fprintf(w, "%-28s %-16s", g.name, c)
				allocs := "-"
				for _, p := range g.procs {
					on, okO := g.res[p][c].median("ns/op")
					bn, okB := g.res[p][base].median("ns/op")
					s := "-"
					if okO && okB {
						s = cell(on, bn)
					}
					fmt.Fprintf(w, " %14s", s)
					if a, ok := g.res[p][c].median("allocs/op"); ok {
						allocs = strconv.FormatFloat(a, 'g', 4, 64)
					}
				}
				fmt.Fprintf(w, " %14s\n", allocs)
			}
		}
	}
	perCore("added cost over bare per core count (case - bare, medians of ns/op; allocs/op at the last count)", "bare",
		func(on, bn float64) string { return "+" + dur(on-bn) })
	perCore("ratio to otter per core count (case / otter, medians of ns/op; < 1: cheaper than otter)", "otter",
		func(on, bn float64) string { return ratio(on, bn, true, true) + "x" })
	for _, g := range groups {
		if !slices.Contains(g.cases, "bare") && !slices.Contains(g.cases, "otter") {
			fmt.Fprintf(w, "\n(%s has neither a bare nor an otter case: not compared)\n", g.name)
		}
	}
}
