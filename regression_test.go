package beaker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/session"
)

// Resolve must say what Open builds (issue 8 §3: "a default is written
// once"). session.lifetime = 0 resolves to a Lifetime of 0 (check-config
// prints an empty lifetime), but session.New then replaces 0 with the
// 14-day default: the cookie's Max-Age shows the manager Open built. The
// same holds for store_timeout = 0, key_prefix = and cookie_path =.
func TestResolveZeroLifetimeIsWhatOpenBuilds(t *testing.T) {
	s := parse(t, "[app:main]\nsession.secret = 0123456789abcdef0123456789abcdef\n"+
		"session.lifetime = 0\nsession.store_timeout = 0\nsession.cookie_expires = false\n")
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("a", 1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	sc := rec.Header().Get("Set-Cookie")
	if !strings.Contains(sc, "Max-Age=120959") {
		t.Fatalf("Set-Cookie %q: expected Open to build the 14-day default", sc)
	}
	if got := cfg.Session.Options.Lifetime; got != session.DefaultLifetime {
		t.Errorf("Resolve: Lifetime %v, but Open's manager uses %v (session.lifetime = 0)", got, session.DefaultLifetime)
	}
	if got := cfg.Session.Options.StoreTimeout; got != session.DefaultStoreTimeout {
		t.Errorf("Resolve: StoreTimeout %v, but Open's manager uses %v (session.store_timeout = 0)", got, session.DefaultStoreTimeout)
	}
}
