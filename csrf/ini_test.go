package csrf_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/settings"
)

// TestINIPyramidTrustedOrigins opens, with beaker.Open, an INI file whose
// pyramid.csrf_trusted_origins is written as a Pyramid app writes it, and
// checks that it trusts what Pyramid's check_csrf_origin trusts.
func TestINIPyramidTrustedOrigins(t *testing.T) {
	const ini = `[app:main]
use = egg:myapp
session.type = memory
session.secret = 0123456789abcdef0123456789abcdef
pyramid.csrf_trusted_origins =
    partner.example
    partner.example:8443
    .corp.example
    http://localhost:8080
`
	s, err := settings.Parse("app.ini", strings.NewReader(ini), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, b.CSRF.Token(r)) })
	mux.HandleFunc("POST /change", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "changed") })
	srv := httptest.NewServer(b.Sessions.Middleware(b.CSRF.Middleware(mux)))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	br := &browser{t: t, srv: srv, c: &http.Client{Jar: jar}}
	tok := br.token()
	for origin, trusted := range map[string]bool{
		"https://partner.example":      true,
		"https://partner.example:8443": true,
		"https://corp.example":         true,
		"https://wiki.corp.example":    true,
		"http://localhost:8080":        true,
		"http://partner.example":       false,
		"https://www.partner.example":  false,
		"https://notcorp.example":      false,
	} {
		want := map[bool]int{true: 200, false: 403}[trusted]
		if code, body := br.do("POST", "/change", form, "csrf_token="+tok, map[string]string{"Origin": origin, "Sec-Fetch-Site": "cross-site"}); code != want {
			t.Errorf("Origin %s: status %d %q, want %d", origin, code, body, want)
		}
	}

	// A malformed entry fails Open, located and naming the entry.
	bad, err := settings.Parse("bad.ini", strings.NewReader(strings.Replace(ini, "    .corp.example", "    corp.example/login", 1)), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = beaker.Open(context.Background(), bad, beaker.Options{Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, csrf.ErrTrustedOrigin) || !strings.Contains(err.Error(), `"corp.example/login"`) || !strings.Contains(err.Error(), "bad.ini") {
		t.Errorf("Open with a malformed origin: %v", err)
	}
}
