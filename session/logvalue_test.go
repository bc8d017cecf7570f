package session_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

// TestLoggedSessionHidesItsID: a handler that logs its Session, through
// slog or fmt, writes neither the id nor the CSRF token nor a value.
func TestLoggedSessionHidesItsID(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	m, err := session.New(session.Options{Store: ms, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	jlog := slog.New(slog.NewJSONHandler(&out, nil))
	var token string
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Set("card", "4111-secret")
		token = s.CSRFToken()
		log.Info("request", "s", s)
		jlog.Info("request", slog.Any("s", s))
		fmt.Fprintf(&out, "%v %+v %#v\n", s, s, s)
	}))
	var cookie string
	for i := range 2 {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		h.ServeHTTP(w, r)
		if i == 0 {
			cookie = strings.Split(w.Header().Get("Set-Cookie"), ";")[0]
		}
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(cookie, "beaker.session.id="), ".")
	if len(id) < 16 || token == "" {
		t.Fatalf("no session id (%q) or token (%q) to look for", id, token)
	}
	for what, secret := range map[string]string{"the session id": id, "the CSRF token": token, "a value": "4111-secret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("the log holds %s:\n%s", what, out.String())
		}
	}
	if !strings.Contains(out.String(), "s=\"session ") && !strings.Contains(out.String(), "s=session") {
		t.Errorf("the log does not name the session:\n%s", out.String())
	}
}
