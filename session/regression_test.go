package session_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/session"
)

// Regression tests of bugs found in review; each failed before its fix.

// A read-only request that loaded the session before a login moved it,
// carrying a cookie signed with an older secret, must not re-sign and send
// the old id: its response would replace the login's cookie and log the
// user out (issue 8: such a request "never sets or clears the session
// cookie").
func TestStaleCookieRacingLoginIsNotResigned(t *testing.T) {
	const oldSecret = "an-old-secret-that-is-long-enough"
	a := newApp(t, session.Options{Secrets: []string{oldSecret}})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")

	// Rotate: a new secret signs, the old one still verifies.
	m2, err := session.New(session.Options{Store: a.store, Secrets: []string{secret, oldSecret}, Now: a.clock.Now,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.errs <- err
			session.DefaultErrorHandler(w, r, err)
		}})
	if err != nil {
		t.Fatal(err)
	}
	a.srv.Config.Handler = m2.Middleware(a.mux())

	rDone := make(chan response)
	go func() { rDone <- c.do("/block") }() // read-only, loads before the login
	<-a.entered
	login := c.do("/login?user=ann")
	close(a.block)
	r := <-rDone
	if !login.setsCookie() {
		t.Fatalf("login %+v sets no cookie", login)
	}
	if r.setsCookie() {
		t.Errorf("a read-only request that raced the login answered Set-Cookie %q: it re-signed the moved (old) id", r.setCookie)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=user")); got["v"] != "ann" {
		t.Errorf("after the race the browser is logged out: %v", got)
	}
}

// With Options.Auto, reading a value must not change it. Reading it with a
// narrower type (a struct with some of the fields, any for a large integer)
// makes its re-encoding differ from the stored JSON, and Auto then writes
// the narrowed value back: fields are dropped, integers rounded, and a
// concurrent write of the key is overwritten by a request that only read.
func TestAutoReadDoesNotRewrite(t *testing.T) {
	a := newApp(t, session.Options{Auto: true})
	type theme struct {
		Theme string `json:"theme"`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/seed", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Set("prefs", map[string]any{"theme": "dark", "lang": "en"})
		s.Set("uid", int64(1<<62+1))
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		p, _ := session.Get[theme](s, "prefs") // only the field this page needs
		_, _ = session.Get[any](s, "uid")
		io.WriteString(w, p.Theme)
	})
	mux.HandleFunc("/dump", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]json.RawMessage{}
		for k, v := range session.FromRequest(r).All() {
			out[k] = v
		}
		writeJSON(w, out)
	})
	a.srv.Config.Handler = a.m.Middleware(mux)
	c := a.client()
	c.mustGet("/seed")
	before := c.mustGet("/dump")
	w0 := a.store.writes()
	if got := c.mustGet("/read"); got != "dark" {
		t.Fatalf("read %q", got)
	}
	if n := a.store.writes() - w0; n != 0 {
		t.Errorf("a request that only read wrote %d times", n)
	}
	if after := c.mustGet("/dump"); after != before {
		t.Errorf("reading changed the session:\nbefore %s\nafter  %s", before, after)
	}
}

// A store error's data must not be read without the session's lock: the
// session is documented as safe for concurrent use by the handler's
// goroutines, but Manager.fail reads s.sv.id (and cookieID) after the
// commit released s.mu. Fails under -race.
func TestFailReadsSessionUnlocked(t *testing.T) {
	a := newApp(t, session.Options{})
	a.store.failWrites.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Set("a", "1")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a helper goroutine still using the session
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.Invalidate()
				s.Set("a", "1")
			}
		}()
		time.Sleep(time.Millisecond)
		w.WriteHeader(http.StatusOK) // the commit fails: fail() runs
		time.Sleep(time.Millisecond)
		close(stop)
		wg.Wait()
	})
	a.srv.Config.Handler = a.m.Middleware(mux)
	for range 20 {
		a.client().do("/")
	}
}

// When the commit at Hijack fails, the error handler has already written
// its response (503) to the connection; Hijack must then report an error
// instead of handing the connection to a handler that believes the
// session is saved and will write its own protocol after the 503.
func TestHijackAfterFailedCommit(t *testing.T) {
	a := newApp(t, session.Options{})
	a.store.failWrites.Store(true)
	hijackErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("a", "1")
		conn, brw, err := w.(http.Hijacker).Hijack()
		hijackErr <- err
		if err != nil {
			return
		}
		_ = brw.Flush()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nhello")
		conn.Close()
	})
	a.srv.Config.Handler = a.m.Middleware(mux)
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
	}
	if err := <-hijackErr; err == nil {
		t.Errorf("Hijack succeeded after the session commit failed (the client got status %d from the error handler first)", resp.StatusCode)
	}
	if e := <-a.errs; !errors.As(e, new(*session.StoreError)) {
		t.Fatalf("error handler got %v", e)
	}
}

// Two server-side managers on one store with the same secrets (an admin
// area with its own cookie name, KeyPrefix left at its default): a cookie
// issued by one must not open a session under the other's name. Cookie
// sessions bind the cookie name (TestCookieMovedToAnotherName); the id
// cookie does not.
func TestIDCookieMovedToAnotherName(t *testing.T) {
	a := newApp(t, session.Options{CookieName: "site"})
	admin, err := session.New(session.Options{Store: a.store, Secrets: []string{secret}, CookieName: "admin", Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/site/login", func(w http.ResponseWriter, r *http.Request) {
		s := a.m.FromRequest(r)
		s.RegenerateID()
		s.Set("user", "mallory")
	})
	mux.HandleFunc("/admin/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, _ := session.Get[string](admin.FromRequest(r), "user")
		io.WriteString(w, u)
	})
	a.srv.Config.Handler = a.m.Middleware(admin.Middleware(mux))
	r := a.client().do("/site/login")
	var site string
	for _, c := range r.setCookie {
		if v, ok := strings.CutPrefix(c, "site="); ok {
			site, _, _ = strings.Cut(v, ";")
		}
	}
	if site == "" {
		t.Fatalf("no site cookie in %q", r.setCookie)
	}
	req, _ := http.NewRequest("GET", a.srv.URL+"/admin/whoami", nil)
	req.Header.Set("Cookie", "admin="+site)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "" {
		t.Errorf("the site's cookie value, sent as the admin cookie, opened the site session in the admin area (user %q)", b)
	}
}

// A browser can hold two cookies of the session's name: one set before
// session.cookie_domain or session.cookie_path changed, which the new
// settings' Set-Cookie never replaces, and the current one. It sends the
// older (or the longer-path) one first. When that one's session moved
// (a login) or ended, the session must be found under the other: taking
// only the first made every login look logged out on the next request.
func TestDeadDuplicateCookieDoesNotHideTheLiveOne(t *testing.T) {
	a := newApp(t, session.Options{})
	rec, _ := a.withDeadCookieFirst(t, "/get?k=user")
	if got := decode[map[string]any](t, rec.Body.String()); got["v"] != "ann" {
		t.Errorf("with the moved cookie sent first, the login is not found: %v", got)
	}
	if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("a read-only request answered Set-Cookie %q", sc)
	}
	a.wantNoError()
}

// A browser can hold two cookies of a client-side session's name (one set
// before session.cookie_domain or session.cookie_path changed) and sends
// the older one first. Each write seals a new cookie, which replaces only
// the current one: taking the first cookie that opens read the old state
// on every request, so no change was ever seen again.
func TestCookieSessionOlderDuplicateDoesNotWin(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	b := a.browser()
	b.mustGet("/counter")
	old := b.cookie()
	a.clock.Advance(time.Second)
	b.mustGet("/counter") // 2, sealed later
	cur := b.cookie()
	if got := a.do("/read", old+"; "+cur).body; got != "2" {
		t.Errorf("with an older cookie of the name sent first, the session reads counter %s, want 2", got)
	}
	if got := a.do("/read", cur+"; "+old).body; got != "2" {
		t.Errorf("with an older cookie of the name sent last, the session reads counter %s, want 2", got)
	}
}

// A logout (Invalidate without a load) from a browser that sends a dead
// cookie of the session's name before the live one must end the live
// session, not only the dead one: else the session stays usable by
// whoever holds its cookie.
func TestLogoutWithDeadDuplicateCookieEndsTheLiveSession(t *testing.T) {
	a := newApp(t, session.Options{})
	_, live := a.withDeadCookieFirst(t, "/invalidate")
	if n := a.live(); n != 0 {
		t.Fatalf("%d live sessions after the logout: the live session behind the second cookie was not ended", n)
	}
	thief := a.client()
	thief.setCookieValue(live)
	if got := decode[map[string]any](t, thief.mustGet("/get?k=user")); got["v"] == "ann" {
		t.Fatalf("the logged-out session still answers to its cookie: %v", got)
	}
}

// withDeadCookieFirst logs a browser in as "ann", then sends path with two
// cookies of the session's name: the one from before the login (moved)
// first, as a browser sends a host-only cookie set before
// session.cookie_domain was configured, then the login's, whose value it
// returns with the response.
func (a *app) withDeadCookieFirst(t *testing.T, path string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	before := c.cookie()
	if r := c.do("/login?user=ann"); !r.setsCookie() {
		t.Fatalf("login %+v sets no cookie", r)
	}
	after := c.cookie()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Cookie", before.Name+"="+before.Value+"; "+after.Name+"="+after.Value)
	rec := httptest.NewRecorder()
	a.srv.Config.Handler.ServeHTTP(rec, req)
	return rec, after.Value
}
