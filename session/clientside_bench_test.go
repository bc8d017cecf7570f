package session_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/session"
)

// benchCookieCycle measures one full request through the middleware of a
// client-side manager, on the cookie of a seed request that stored extra
// bytes of payload besides the counter. With write, the handler changes
// the session, so every response seals a new cookie.
func benchCookieCycle(b *testing.B, extra int, write bool) {
	m, err := session.NewCookie(session.CookieOptions{Options: session.Options{
		Secrets: []string{secret}, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		b.Fatal(err)
	}
	h := counterHandler
	if !write {
		h = readHandler
	}
	handler := m.Middleware(http.HandlerFunc(h))
	seed := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if extra > 0 {
			session.FromRequest(r).Set("big", strings.Repeat("0123456789", extra/10))
		}
		counterHandler(w, r)
	})).ServeHTTP(seed, httptest.NewRequest("GET", "/", nil))
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
		if rec.Code != 200 || (rec.Header().Get("Set-Cookie") != "") != write {
			b.Fatalf("status %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
		}
	}
}

// BenchmarkCookieCycle is the full cycle of a client-side session: open
// the cookie, increment a counter, seal a new cookie.
func BenchmarkCookieCycle(b *testing.B) { benchCookieCycle(b, 0, true) }

// BenchmarkCookieCycle2K is BenchmarkCookieCycle with a 2000-byte string
// in the session.
func BenchmarkCookieCycle2K(b *testing.B) { benchCookieCycle(b, 2000, true) }

// BenchmarkCookieCycleReadOnly opens the cookie and reads the counter: no
// new cookie.
func BenchmarkCookieCycleReadOnly(b *testing.B) { benchCookieCycle(b, 0, false) }
