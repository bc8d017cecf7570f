package session_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

func counterHandler(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	n, _ := session.Get[int](s, "n")
	s.Set("n", n+1)
	io.WriteString(w, strconv.Itoa(n+1))
}

func readHandler(w http.ResponseWriter, r *http.Request) {
	n, _ := session.Get[int](session.FromRequest(r), "n")
	io.WriteString(w, strconv.Itoa(n))
}

// benchCycle measures one full request through the middleware on a session
// that exists (loaded, not created), with the cookie of a seed response.
func benchCycle(b *testing.B, h http.HandlerFunc) {
	ms := memstore.New(memstore.Options{})
	defer ms.Close()
	m, err := session.New(session.Options{Store: ms, Secrets: []string{secret}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	handler := m.Middleware(h)
	seed := httptest.NewRecorder()
	http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Middleware(http.HandlerFunc(counterHandler)).ServeHTTP(w, r)
	}).ServeHTTP(seed, httptest.NewRequest("GET", "/", nil))
	cookies := seed.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatal("seed request set no cookie")
	}
	header := cookies[0].Name + "=" + cookies[0].Value
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", header)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Set-Cookie") != "" {
			b.Fatalf("status %d, Set-Cookie %q: the session was not loaded", rec.Code, rec.Header().Get("Set-Cookie"))
		}
	}
}

// BenchmarkRequestCycle is the full cycle on memstore: load an existing
// session, increment a counter, save.
func BenchmarkRequestCycle(b *testing.B) { benchCycle(b, counterHandler) }

// BenchmarkRequestCycleReadOnly loads and reads without a change (no store
// write).
func BenchmarkRequestCycleReadOnly(b *testing.B) { benchCycle(b, readHandler) }

// BenchmarkBare is the same request without the session middleware, for
// the added cost.
func BenchmarkBare(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "1") })
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "beaker.session.id=x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
