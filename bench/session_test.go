package bench

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// benchCase is one library under test: it builds a handler for a mode.
type benchCase struct {
	name string
	// ours is true for beaker: a loaded session sends no Set-Cookie
	// unless it changed.
	ours bool
	// inCookie is true for cookie sessions: the data is in the cookie, so
	// every change sends a new one.
	inCookie bool
	// commitsAlways is true for a peer that commits (writes the store and
	// sends a Set-Cookie) on every request that loads a session, changed or
	// not: scs with an idle timeout.
	commitsAlways bool
	make          func(tb testing.TB, mode Mode) http.Handler
}

var cases = []benchCase{
	{name: "bare", make: func(tb testing.TB, mode Mode) http.Handler { return Bare() }},
	{name: "beaker-mem", ours: true, make: func(tb testing.TB, mode Mode) http.Handler {
		h, done, err := Beaker(mode)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(done)
		return h
	}},
	{name: "scs-mem", make: func(tb testing.TB, mode Mode) http.Handler {
		return SCS(mode)
	}},
	{name: "beaker-cookie", ours: true, inCookie: true, make: func(tb testing.TB, mode Mode) http.Handler {
		h, err := BeakerCookie(mode)
		if err != nil {
			tb.Fatal(err)
		}
		return h
	}},
	{name: "gorilla-cookie", inCookie: true, make: func(tb testing.TB, mode Mode) http.Handler { return Gorilla(mode) }},
}

// serve runs one request through h with the given Cookie header.
func serve(h http.Handler, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// cookieHeader turns a response's Set-Cookie headers into a request's
// Cookie header.
func cookieHeader(rec *httptest.ResponseRecorder) string {
	var parts []string
	for _, c := range rec.Result().Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// seed makes a session on h and returns the Cookie header that loads it.
func seed(tb testing.TB, h http.Handler) string {
	tb.Helper()
	rec := serve(h, "")
	if rec.Code != http.StatusOK || rec.Body.String() != "1" {
		tb.Fatalf("seed: status %d, body %q", rec.Code, rec.Body.String())
	}
	return cookieHeader(rec)
}

// sanityModes are the modes that the sanity tests run every case in.
var sanityModes = []struct {
	name string
	mode Mode
}{{"counter", Counter}, {"readonly", ReadOnly}, {"2k", Counter2K}}

func TestSanity(t *testing.T) {
	for _, c := range cases {
		for _, m := range sanityModes {
			t.Run(c.name+"/"+m.name, func(t *testing.T) {
				checkCase(t, c, c.make(t, m.mode), m.mode)
			})
		}
	}
}

// checkCase checks that h, case c's handler for mode, really creates a
// session, then loads it on three more requests (and saves it when mode
// changes it), so that the benchmarks measure what they claim. It returns
// the Cookie header that loads the session.
func checkCase(t *testing.T, c benchCase, h http.Handler, mode Mode) string {
	t.Helper()
	first := serve(h, "")
	if first.Code != http.StatusOK || first.Body.String() != "1" {
		t.Fatalf("first request: status %d, body %q, want 200 and 1", first.Code, first.Body.String())
	}
	cookie := cookieHeader(first)
	if c.name == "bare" {
		if cookie != "" {
			t.Fatalf("bare sets a cookie: %q", cookie)
		}
		return ""
	}
	if cookie == "" {
		t.Fatal("first request: no Set-Cookie")
	}
	if mode == Counter2K && c.inCookie && len(cookie) < len(BigValue) {
		t.Fatalf("%s 2k cookie is %d bytes: the big value is missing", c.name, len(cookie))
	}
	for i := 2; i <= 4; i++ {
		want := i
		if mode == ReadOnly {
			want = 1
		}
		// A cookie session keeps the data in the cookie: resend the latest one.
		if next := cookieHeader(first); c.inCookie && next != "" {
			cookie = next
		}
		rec := serve(h, cookie)
		if got := rec.Body.String(); rec.Code != http.StatusOK || got != strconv.Itoa(want) {
			t.Fatalf("request %d: status %d, body %q, want 200 and %d (session not loaded)", i, rec.Code, got, want)
		}
		setCookie := rec.Header().Values("Set-Cookie")
		switch {
		case c.ours && c.inCookie && mode != ReadOnly:
			if len(setCookie) != 1 {
				t.Fatalf("request %d changed a cookie session: Set-Cookie %q, want one", i, setCookie)
			}
		case c.commitsAlways:
			if len(setCookie) != 1 {
				t.Fatalf("request %d: Set-Cookie %q, want one (the commit that extends the idle timeout)", i, setCookie)
			}
		case c.ours || mode == ReadOnly:
			if len(setCookie) != 0 {
				t.Fatalf("request %d on a loaded session: Set-Cookie %q", i, setCookie)
			}
		}
		first = rec
	}
	if next := cookieHeader(first); c.inCookie && next != "" {
		cookie = next
	}
	return cookie
}

// benchCycles runs the HTTP cycle of every case for mode as sub-benchmarks
// named case=NAME, so that benchstat lines them up.
func benchCycles(b *testing.B, mode Mode) { benchCasesCycle(b, cases, mode) }

// benchCasesCycle runs the HTTP cycle of each of cs for mode as
// sub-benchmarks named case=NAME.
func benchCasesCycle(b *testing.B, cs []benchCase, mode Mode) {
	for _, c := range cs {
		b.Run("case="+c.name, func(b *testing.B) {
			h := c.make(b, mode)
			cookie := seed(b, h)
			b.ReportAllocs()
			for b.Loop() {
				if rec := serve(h, cookie); rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkCycle is one request that loads a session, increments an int and
// saves it.
func BenchmarkCycle(b *testing.B) { benchCycles(b, Counter) }

// BenchmarkCycleReadOnly is one request that loads a session and reads an
// int.
func BenchmarkCycleReadOnly(b *testing.B) { benchCycles(b, ReadOnly) }

// BenchmarkCycle2K is BenchmarkCycle on a session that also holds a
// 2000-byte string.
func BenchmarkCycle2K(b *testing.B) { benchCycles(b, Counter2K) }

// BenchmarkCycleParallel is BenchmarkCycle with b.RunParallel: each
// goroutine takes its own session out of 64 seeded ones.
func BenchmarkCycleParallel(b *testing.B) {
	for _, c := range cases {
		b.Run("case="+c.name, func(b *testing.B) {
			h := c.make(b, Counter)
			cookies := make([]string, 64)
			for i := range cookies {
				cookies[i] = seed(b, h)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				cookie := cookies[int(next.Add(1)-1)%len(cookies)]
				for pb.Next() {
					if rec := serve(h, cookie); rec.Code != http.StatusOK {
						b.Errorf("status %d", rec.Code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCycleManySessions is BenchmarkCycle with 20,000 clients, each
// with its own session, taking turns in a scattered order: what a server
// with many users pays per request, where the other benchmarks replay one
// client (whose cookie, session and store entry stay in every cache).
func BenchmarkCycleManySessions(b *testing.B) {
	const clients = 20000
	for _, c := range cases[:3] { // bare, beaker-mem, scs-mem
		b.Run("case="+c.name, func(b *testing.B) {
			h := c.make(b, Counter)
			cookies := make([]string, clients)
			for i := range cookies {
				cookies[i] = seed(b, h)
			}
			i := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				i = (i + 7919) % clients
				if rec := serve(h, cookies[i]); rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
