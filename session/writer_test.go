package session_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

// A response that reads the session varies on Cookie once, whatever the
// handler put in Vary itself.
func TestVaryCookieOnce(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	defer ms.Close()
	m, err := session.New(session.Options{Store: ms, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range [][]string{nil, {"Accept-Encoding"}, {"Cookie"}, {"Accept-Encoding", "Cookie"}} {
		h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, v := range set {
				w.Header().Add("Vary", v)
			}
			session.FromRequest(r).Set("k", 1)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		got := rec.Result().Header.Values("Vary")
		want := slices.Clone(set)
		if !slices.Contains(want, "Cookie") {
			want = append(want, "Cookie")
		}
		if !slices.Equal(got, want) {
			t.Errorf("handler's Vary %q: response Vary %q, want %q", set, got, want)
		}
	}
}
