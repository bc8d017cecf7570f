package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

const (
	cookieSecret    = "cookie-session-secret-0123456789"
	oldCookieSecret = "an older secret, still opening cookies"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}

// has reports whether a record at level has a message containing msg and,
// when attr is not "", an attribute value containing attr.
func (l *logRecorder) has(level slog.Level, msg, attr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.Level != level || !strings.Contains(r.Message, msg) {
			continue
		}
		found := attr == ""
		r.Attrs(func(a slog.Attr) bool {
			if strings.Contains(a.Value.String(), attr) {
				found = true
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// cookieApp is a test application over a client-side session manager,
// driven with httptest recorders and explicit Cookie headers, so that a
// test can alter, move and replay cookies.
type cookieApp struct {
	t     *testing.T
	clock *fakeclock.Clock
	m     *session.Manager
	h     http.Handler
	logs  *logRecorder

	mu   sync.Mutex
	errs []error // errors given to the error handler
}

// newCookieApp makes an app; clock may be nil for a new one.
func newCookieApp(t *testing.T, opts session.CookieOptions, clock *fakeclock.Clock) *cookieApp {
	t.Helper()
	if clock == nil {
		clock = fakeclock.New()
	}
	a := &cookieApp{t: t, clock: clock, logs: &logRecorder{}}
	if opts.Secrets == nil && opts.EncryptKey == "" && opts.ValidateKey == "" {
		opts.Secrets = []string{cookieSecret}
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	opts.Logger = slog.New(a.logs)
	opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err)
		a.mu.Unlock()
		session.DefaultErrorHandler(w, r, err)
	}
	m, err := session.NewCookie(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.h = m.Middleware(cookieMux())
	return a
}

func cookieMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/noop", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/counter", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "counter")
		s.Set("counter", n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.Get[int](session.FromRequest(r), "counter")
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		fmt.Fprintf(w, "new=%v keys=%v", s.IsNew(), s.Keys())
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Get[string](session.FromRequest(r), r.FormValue("k"))
		io.WriteString(w, v)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		session.FromRequest(r).Set("big", strings.Repeat("x", n))
	})
	mux.HandleFunc("/flash", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).AddFlash(r.FormValue("m"))
	})
	mux.HandleFunc("/pop", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromRequest(r).PopFlash(""))
	})
	mux.HandleFunc("/csrf", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromRequest(r).CSRFToken())
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.RegenerateID()
		s.Set("user", r.FormValue("user"))
		io.WriteString(w, s.CSRFToken())
	})
	mux.HandleFunc("/invalidate", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Invalidate()
	})
	mux.HandleFunc("/invalidate-set", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Invalidate()
		s.Set("after", "logout")
	})
	mux.HandleFunc("/map", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		m, ok := session.Get[map[string]int](s, "m")
		if !ok {
			s.Set("m", map[string]int{})
			m, _ = session.Get[map[string]int](s, "m")
		}
		m[r.FormValue("k")]++ // in place: saved only through Changed
		s.Changed()
		fmt.Fprint(w, m)
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		_, _ = session.Get[int](s, "counter")
		io.WriteString(w, "body first")
		s.Set("late", "yes")
	})
	mux.HandleFunc("/late-invalidate", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		_, _ = session.Get[int](s, "counter")
		io.WriteString(w, "body first")
		s.Invalidate()
	})
	return mux
}

// cookieResp is one response.
type cookieResp struct {
	code      int
	body      string
	header    http.Header
	setCookie []string
}

// value returns the value of the session cookie set, or "".
func (r cookieResp) value(name string) string {
	for _, line := range r.setCookie {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// clears reports whether the response clears the session cookie.
func (r cookieResp) clears() bool {
	for _, line := range r.setCookie {
		if c, err := http.ParseSetCookie(line); err == nil && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// do serves one GET with the given Cookie header ("" for none).
func (a *cookieApp) do(path, cookie string) cookieResp {
	a.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return cookieResp{code: rec.Code, body: rec.Body.String(), header: rec.Header(), setCookie: rec.Header().Values("Set-Cookie")}
}

// browser keeps the session cookie as a browser would.
type browser struct {
	a    *cookieApp
	name string
	val  string
}

func (a *cookieApp) browser() *browser {
	return &browser{a: a, name: session.DefaultCookieName}
}

func (b *browser) cookie() string {
	if b.val == "" {
		return ""
	}
	return b.name + "=" + b.val
}

func (b *browser) get(path string) cookieResp {
	b.a.t.Helper()
	r := b.a.do(path, b.cookie())
	if r.clears() {
		b.val = ""
	}
	if v := r.value(b.name); v != "" {
		b.val = v
	}
	return r
}

func (b *browser) mustGet(path string) string {
	b.a.t.Helper()
	r := b.get(path)
	if r.code != http.StatusOK {
		b.a.t.Fatalf("GET %s: status %d, body %q", path, r.code, r.body)
	}
	return r.body
}

func (a *cookieApp) takeErrs() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.errs
	a.errs = nil
	return e
}

func TestCookieRoundTrip(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	b := a.browser()
	for i := 1; i <= 3; i++ {
		r := b.get("/counter")
		if r.code != 200 || r.body != strconv.Itoa(i) {
			t.Fatalf("request %d: %d %q", i, r.code, r.body)
		}
		if len(r.setCookie) != 1 {
			t.Fatalf("request %d: Set-Cookie %q, want one", i, r.setCookie)
		}
		c, err := http.ParseSetCookie(r.setCookie[0])
		if err != nil {
			t.Fatal(err)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("attributes: %q", r.setCookie[0])
		}
		if strings.Contains(c.Value, "counter") || strings.Contains(c.Value, "Y291bnRlc") { // plain or base64 "counter"
			t.Errorf("cookie value shows the record: %q", c.Value)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Vary") != "Cookie" {
			t.Errorf("Cache-Control %q, Vary %q", r.header.Get("Cache-Control"), r.header.Get("Vary"))
		}
	}
	b.mustGet("/set?k=name&v=%C3%A9l%C3%A8ve%22%5C")
	if got := b.mustGet("/get?k=name"); got != "élève\"\\" {
		t.Errorf("string value came back as %q", got)
	}
	if got := b.mustGet("/state"); got != "new=false keys=[counter name]" {
		t.Errorf("state %q", got)
	}
	if errs := a.takeErrs(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
}

func TestCookieSameContentNewValueAndNoCompression(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	rep := a.do("/set?k=v&v="+strings.Repeat("a", 1000), "")
	// Same length, but not compressible.
	rnd := a.do("/set?k=v&v="+strings.Repeat("q7Zk2", 200), "")
	v1, v2 := rep.value(session.DefaultCookieName), rnd.value(session.DefaultCookieName)
	if v1 == "" || v2 == "" {
		t.Fatal("no cookie")
	}
	if len(v1) != len(v2) {
		t.Errorf("a repetitive value seals to %d bytes and a varied one of the same length to %d: compressed", len(v1), len(v2))
	}
	again := a.do("/set?k=v&v="+strings.Repeat("a", 1000), "")
	if again.value(session.DefaultCookieName) == v1 {
		t.Error("the same session sealed twice gave the same value: nonce reused")
	}
}

func TestCookieReadOnlySendsNoCookie(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	if r := a.do("/read", ""); len(r.setCookie) != 0 || r.body != "0" {
		t.Fatalf("read without a cookie: Set-Cookie %q, body %q", r.setCookie, r.body)
	}
	b := a.browser()
	b.mustGet("/counter")
	for range 3 {
		a.clock.Advance(time.Hour)
		r := b.get("/read")
		if r.body != "1" || len(r.setCookie) != 0 {
			t.Fatalf("read-only request: body %q, Set-Cookie %q", r.body, r.setCookie)
		}
		if r.header.Get("Vary") != "Cookie" {
			t.Errorf("Vary %q", r.header.Get("Vary"))
		}
	}
	if r := a.do("/noop", b.cookie()); len(r.setCookie) != 0 {
		t.Fatalf("unused session: Set-Cookie %q", r.setCookie)
	}
}

// alterations returns variants of a cookie value: each byte replaced,
// truncations, extensions and reorderings.
func alterations(v string) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []string
	for i := range len(v) {
		j := strings.IndexByte(alphabet, v[i])
		for _, d := range []int{1, 32} { // the low bit, and a high one
			c := alphabet[(j+d)%len(alphabet)]
			out = append(out, v[:i]+string(c)+v[i+1:])
		}
	}
	for _, n := range []int{0, 1, 4, 39, len(v) / 2, len(v) - 1} {
		out = append(out, v[:n])
	}
	out = append(out, v+"A", v+"AAAA", "A"+v, v[4:]+v[:4], v[len(v)-4:]+v[:len(v)-4])
	if len(v) > 16 {
		out = append(out, v[:8]+v[12:16]+v[8:12]+v[16:]) // two blocks swapped
	}
	return out
}

// TestCookieTamperedGivesNewSession alters every character of cookies of
// three lengths (so that the last base64 character carries 0, 2 and 4
// unused bits), among other changes.
func TestCookieTamperedGivesNewSession(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	lengths := map[int]bool{}
	for _, user := range []string{"ann", "anne", "annet"} {
		b := a.browser()
		b.mustGet("/set?k=user&v=" + user)
		lengths[len(b.val)%4] = true
		testTampered(t, a, b)
	}
	if len(lengths) != 3 {
		t.Fatalf("cookie lengths mod 4: %v, want three classes", lengths)
	}
}

func testTampered(t *testing.T, a *cookieApp, b *browser) {
	t.Helper()
	good := b.val
	if got := a.do("/state", b.cookie()).body; got != "new=false keys=[user]" {
		t.Fatalf("the good cookie gives %q", got)
	}
	variants := append(alterations(good), "garbage", "", `"`+good+`"x`, strings.Repeat("A", 5000), good+"="+good)
	for _, v := range variants {
		if v == good {
			continue
		}
		r := a.do("/state", session.DefaultCookieName+"="+v)
		if r.code != 200 || r.body != "new=true keys=[]" || len(r.setCookie) != 0 {
			t.Fatalf("altered cookie %q: %d %q, Set-Cookie %q; want a new empty session", v, r.code, r.body, r.setCookie)
		}
	}
	if errs := a.takeErrs(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if !a.logs.has(slog.LevelDebug, "rejected a session cookie", "") {
		t.Error("no debug record for a rejected cookie")
	}
	if a.logs.has(slog.LevelError, "", "") || a.logs.has(slog.LevelWarn, "", "") {
		t.Error("a rejected cookie was logged above debug")
	}
	// The good cookie still opens, quoted too.
	if got := a.do("/state", session.DefaultCookieName+`="`+good+`"`).body; got != "new=false keys=[user]" {
		t.Fatalf("quoted good cookie gives %q", got)
	}
}

func TestCookieMovedToAnotherName(t *testing.T) {
	clock := fakeclock.New()
	ca := newCookieApp(t, session.CookieOptions{Options: session.Options{CookieName: "a"}}, clock)
	cb := newCookieApp(t, session.CookieOptions{Options: session.Options{CookieName: "b"}}, clock)
	v := ca.do("/set?k=user&v=ann", "").value("a")
	if v == "" {
		t.Fatal("no cookie a")
	}
	if got := ca.do("/get?k=user", "a="+v).body; got != "ann" {
		t.Fatalf("cookie a under its own name: %q", got)
	}
	if got := cb.do("/state", "b="+v).body; got != "new=true keys=[]" {
		t.Fatalf("cookie a presented as b: %q, want a new session", got)
	}
	if !cb.logs.has(slog.LevelDebug, "rejected a session cookie", "") {
		t.Error("no debug record")
	}
}

func TestCookieLifetime(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{Options: session.Options{Lifetime: time.Hour}}, nil)
	b := a.browser()
	b.mustGet("/counter")
	first := b.cookie()
	for i := 2; i <= 6; i++ { // a change every 10 minutes: new cookies, same creation
		a.clock.Advance(10 * time.Minute)
		if got := b.mustGet("/counter"); got != strconv.Itoa(i) {
			t.Fatalf("at +%d0m: %q", i-1, got)
		}
	}
	a.clock.Advance(10*time.Minute - time.Millisecond)
	if got := a.do("/read", b.cookie()).body; got != "6" {
		t.Fatalf("just before the lifetime: %q", got)
	}
	if got := a.do("/read", first).body; got != "1" {
		t.Fatalf("the first cookie just before the lifetime: %q", got)
	}
	a.clock.Advance(time.Millisecond)
	for _, c := range []string{b.cookie(), first} {
		if got := a.do("/state", c).body; got != "new=true keys=[]" {
			t.Fatalf("at the lifetime: %q, want a new session", got)
		}
	}
	if !a.logs.has(slog.LevelDebug, "rejected a session cookie", "lifetime") {
		t.Error("no debug record giving the reason")
	}
}

func TestCookieIdleTimeout(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{Options: session.Options{Timeout: 10 * time.Minute}}, nil)
	b := a.browser()
	b.mustGet("/counter")
	seeded := b.cookie()

	// Refreshed at most once per tenth of the timeout.
	a.clock.Advance(time.Minute - time.Millisecond)
	if r := b.get("/read"); len(r.setCookie) != 0 {
		t.Fatalf("read before a tenth of the timeout: Set-Cookie %q", r.setCookie)
	}
	a.clock.Advance(time.Millisecond)
	r := b.get("/read")
	if len(r.setCookie) != 1 || r.body != "1" {
		t.Fatalf("read at a tenth of the timeout: Set-Cookie %q, body %q; want a refresh", r.setCookie, r.body)
	}
	refreshed := b.cookie()
	if r := b.get("/read"); len(r.setCookie) != 0 {
		t.Fatalf("read right after a refresh: Set-Cookie %q", r.setCookie)
	}

	// The seeded cookie expires 10 minutes after it was sealed, even
	// though the session was used since: a replay is refused.
	a.clock.Advance(9*time.Minute - time.Millisecond)
	if got := a.do("/read", seeded).body; got != "1" {
		t.Fatalf("seeded cookie just before its idle timeout: %q", got)
	}
	a.clock.Advance(time.Millisecond)
	if got := a.do("/state", seeded).body; got != "new=true keys=[]" {
		t.Fatalf("seeded cookie at its idle timeout: %q, want a new session", got)
	}
	if got := a.do("/read", refreshed).body; got != "1" {
		t.Fatalf("refreshed cookie: %q", got)
	}
	a.clock.Advance(time.Minute)
	if got := a.do("/state", refreshed).body; got != "new=true keys=[]" {
		t.Fatalf("refreshed cookie past its idle timeout: %q", got)
	}
}

func TestCookieIdleTimeoutNoTouch(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{Options: session.Options{Timeout: 10 * time.Minute, NoTouch: true}}, nil)
	b := a.browser()
	b.mustGet("/counter")
	for range 9 {
		a.clock.Advance(time.Minute)
		if r := b.get("/read"); len(r.setCookie) != 0 || r.body != "1" {
			t.Fatalf("NoTouch read: Set-Cookie %q, body %q", r.setCookie, r.body)
		}
	}
	a.clock.Advance(time.Minute)
	if got := b.mustGet("/state"); got != "new=true keys=[]" {
		t.Fatalf("idle timeout counts from the last change: %q", got)
	}
}

func TestCookieExpiryUnderChangedConfiguration(t *testing.T) {
	clock := fakeclock.New()
	long := newCookieApp(t, session.CookieOptions{Options: session.Options{Timeout: time.Hour, Lifetime: 24 * time.Hour}}, clock)
	v := long.do("/counter", "").value(session.DefaultCookieName)
	c := session.DefaultCookieName + "=" + v
	short := newCookieApp(t, session.CookieOptions{Options: session.Options{Timeout: 10 * time.Minute, Lifetime: 24 * time.Hour}}, clock)
	shortLife := newCookieApp(t, session.CookieOptions{Options: session.Options{Timeout: time.Hour, Lifetime: 20 * time.Minute}}, clock)
	clock.Advance(9 * time.Minute)
	if got := short.do("/read", c).body; got != "1" {
		t.Fatalf("within the shorter timeout: %q", got)
	}
	clock.Advance(11 * time.Minute)
	if got := long.do("/read", c).body; got != "1" {
		t.Fatalf("within the original timeout: %q", got)
	}
	if got := short.do("/state", c).body; got != "new=true keys=[]" {
		t.Fatalf("past the shortened timeout: %q", got)
	}
	if got := shortLife.do("/state", c).body; got != "new=true keys=[]" {
		t.Fatalf("past the shortened lifetime: %q", got)
	}

	// The other way: a cookie sealed under a short timeout or lifetime is
	// refused at its sealed expiry, even by a manager configured longer.
	for _, o := range []session.Options{{Timeout: 10 * time.Minute}, {Lifetime: 10 * time.Minute}} {
		v := newCookieApp(t, session.CookieOptions{Options: o}, clock).do("/counter", "").value(session.DefaultCookieName)
		c := session.DefaultCookieName + "=" + v
		clock.Advance(10*time.Minute - time.Millisecond)
		if got := long.do("/read", c).body; got != "1" {
			t.Fatalf("%+v: before the sealed expiry: %q", o, got)
		}
		clock.Advance(time.Millisecond)
		if got := long.do("/state", c).body; got != "new=true keys=[]" {
			t.Fatalf("%+v: past the sealed expiry, under a longer configuration: %q", o, got)
		}
	}
}

func TestCookieRotation(t *testing.T) {
	clock := fakeclock.New()
	old := newCookieApp(t, session.CookieOptions{Options: session.Options{Secrets: []string{oldCookieSecret}}}, clock)
	rotated := newCookieApp(t, session.CookieOptions{Options: session.Options{Secrets: []string{cookieSecret, oldCookieSecret}}}, clock)
	rolledBack := newCookieApp(t, session.CookieOptions{Options: session.Options{Secrets: []string{oldCookieSecret, cookieSecret}}}, clock)
	newOnly := newCookieApp(t, session.CookieOptions{Options: session.Options{Secrets: []string{cookieSecret}}}, clock)
	name := session.DefaultCookieName

	oldV := old.do("/counter", "").value(name)
	// A read-only request with an old-key cookie is sealed again.
	r := rotated.do("/read", name+"="+oldV)
	if r.body != "1" || len(r.setCookie) != 1 {
		t.Fatalf("old cookie on the rotated app: body %q, Set-Cookie %q; want it loaded and sealed again", r.body, r.setCookie)
	}
	newV := r.value(name)
	if got := newOnly.do("/read", name+"="+newV).body; got != "1" {
		t.Fatalf("the re-sealed cookie does not open under the new key alone: %q", got)
	}
	if got := newOnly.do("/state", name+"="+oldV).body; got != "new=true keys=[]" {
		t.Fatalf("the old cookie opens once the old key is gone: %q", got)
	}
	// Once re-sealed, a read-only request sends nothing.
	if r := rotated.do("/read", name+"="+newV); len(r.setCookie) != 0 {
		t.Fatalf("current-key cookie: Set-Cookie %q", r.setCookie)
	}
	// Rolled back (the old key current again, the new one a fallback): a
	// cookie sealed under the new key still opens, and is sealed again
	// under the old one.
	r = rolledBack.do("/read", name+"="+newV)
	if r.body != "1" || len(r.setCookie) != 1 {
		t.Fatalf("new cookie after a roll-back: body %q, Set-Cookie %q", r.body, r.setCookie)
	}
	if got := old.do("/read", name+"="+r.value(name)).body; got != "1" {
		t.Fatalf("rolled-back cookie does not open under the old key: %q", got)
	}
}

func TestCookieEncryptKeys(t *testing.T) {
	clock := fakeclock.New()
	mk := func(opts session.CookieOptions) *cookieApp { return newCookieApp(t, opts, clock) }
	name := session.DefaultCookieName
	a1 := mk(session.CookieOptions{EncryptKey: "k1", ValidateKey: "v"})
	v1 := a1.do("/counter", "").value(name)
	a2 := mk(session.CookieOptions{EncryptKey: "k2", EncryptKeyFallbacks: []string{"k1"}, ValidateKey: "v"})
	r := a2.do("/read", name+"="+v1)
	if r.body != "1" || len(r.setCookie) != 1 {
		t.Fatalf("encrypt_key fallback: body %q, Set-Cookie %q", r.body, r.setCookie)
	}
	otherValidate := mk(session.CookieOptions{EncryptKey: "k1", ValidateKey: "w"})
	noValidate := mk(session.CookieOptions{EncryptKey: "k1"})
	secret := mk(session.CookieOptions{Options: session.Options{Secrets: []string{cookieSecret}}})
	for _, a := range []*cookieApp{otherValidate, noValidate, secret} {
		if got := a.do("/state", name+"="+v1).body; got != "new=true keys=[]" {
			t.Fatalf("a cookie opened under other keys: %q", got)
		}
	}
	// validate_key alone seals, and secrets are then not used.
	va := mk(session.CookieOptions{ValidateKey: "only-validate", Options: session.Options{Secrets: []string{cookieSecret}}})
	vv := va.do("/counter", "").value(name)
	if got := va.do("/read", name+"="+vv).body; got != "1" {
		t.Fatalf("validate_key alone: %q", got)
	}
	if got := secret.do("/state", name+"="+vv).body; got != "new=true keys=[]" {
		t.Fatalf("validate_key cookie opened under the secret: %q", got)
	}
}

func TestNewCookieErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		opts session.CookieOptions
		want error
	}{
		{"no key", session.CookieOptions{}, session.ErrNoSecret},
		{"short secret", session.CookieOptions{Options: session.Options{Secrets: []string{"short"}}}, session.ErrSecretTooShort},
		{"short fallback", session.CookieOptions{Options: session.Options{Secrets: []string{cookieSecret, "short"}}}, session.ErrSecretTooShort},
		{"fallbacks alone", session.CookieOptions{EncryptKeyFallbacks: []string{"k"}, Options: session.Options{Secrets: []string{cookieSecret}}}, nil},
		{"empty fallback", session.CookieOptions{EncryptKey: "k", EncryptKeyFallbacks: []string{""}}, nil},
		{"negative timeout", session.CookieOptions{Options: session.Options{Secrets: []string{cookieSecret}, Timeout: -1}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := session.NewCookie(c.opts)
			if err == nil || m != nil {
				t.Fatalf("NewCookie: %v, %v; want an error", m, err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

func TestCookieOperatorMethods(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	ctx := context.Background()
	if err := a.m.Scan(ctx, func(string) error { return nil }); !errors.Is(err, session.ErrClientSide) {
		t.Errorf("Scan: %v", err)
	}
	if _, _, err := a.m.Lookup(ctx, "x"); !errors.Is(err, session.ErrClientSide) {
		t.Errorf("Lookup: %v", err)
	}
	if err := a.m.Remove(ctx, "x"); !errors.Is(err, session.ErrClientSide) {
		t.Errorf("Remove: %v", err)
	}
	if _, err := a.m.Purge(ctx); !errors.Is(err, session.ErrClientSide) {
		t.Errorf("Purge: %v", err)
	}
}

// TestCookieSizeLimit sweeps the size of a value across the limit, under
// cookie names of four lengths so that both 4096 and 4097 bytes are hit
// exactly (base64 skips one length in four): a cookie of 4096 bytes is
// sent, one of 4097 fails, and the browser's earlier cookie stays valid.
func TestCookieSizeLimit(t *testing.T) {
	seen := map[int]bool{}
	for _, name := range []string{"s", "ss", "sss", "ssss"} {
		a := newCookieApp(t, session.CookieOptions{Options: session.Options{CookieName: name}}, nil)
		b := &browser{a: a, name: name}
		b.mustGet("/counter")
		earlier := b.cookie()
		for n := 2900; n < 3020; n++ {
			r := a.do("/big?n="+strconv.Itoa(n), earlier)
			errs := a.takeErrs()
			switch {
			case r.code == http.StatusOK:
				if len(r.setCookie) != 1 {
					t.Fatalf("n=%d: Set-Cookie %q", n, r.setCookie)
				}
				size := len(r.setCookie[0])
				seen[size] = true
				if size > session.MaxCookieSize {
					t.Fatalf("n=%d: a cookie of %d bytes was sent", n, size)
				}
				if len(errs) != 0 {
					t.Fatalf("n=%d: errors %v", n, errs)
				}
			case r.code == http.StatusInternalServerError:
				if len(r.setCookie) != 0 {
					t.Fatalf("n=%d: the failed save sent Set-Cookie %q", n, r.setCookie)
				}
				if len(errs) != 1 || !errors.Is(errs[0], session.ErrCookieTooLarge) {
					t.Fatalf("n=%d: errors %v, want one ErrCookieTooLarge", n, errs)
				}
				var tl *session.CookieTooLargeError
				if !errors.As(errs[0], &tl) || tl.Max != session.MaxCookieSize || tl.Size <= session.MaxCookieSize {
					t.Fatalf("n=%d: %#v", n, errs[0])
				}
				seen[tl.Size] = true
				if !strings.Contains(errs[0].Error(), strconv.Itoa(tl.Size)) {
					t.Errorf("message %q lacks the size %d", errs[0], tl.Size)
				}
				if !a.logs.has(slog.LevelError, "session error", strconv.Itoa(tl.Size)) {
					t.Errorf("n=%d: no error record with the size", n)
				}
			default:
				t.Fatalf("n=%d: status %d", n, r.code)
			}
		}
		if got := a.do("/read", earlier).body; got != "1" {
			t.Fatalf("the earlier cookie no longer loads: %q", got)
		}
	}
	if !seen[session.MaxCookieSize] || !seen[session.MaxCookieSize+1] {
		t.Fatalf("the sweep did not hit both %d and %d bytes", session.MaxCookieSize, session.MaxCookieSize+1)
	}
}

func TestCookieMaxSize(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{Options: session.Options{MaxSize: 100}}, nil)
	r := a.do("/big?n=200", "")
	errs := a.takeErrs()
	if r.code != 500 || len(r.setCookie) != 0 || len(errs) != 1 || !errors.Is(errs[0], session.ErrTooLarge) {
		t.Fatalf("status %d, Set-Cookie %q, errors %v", r.code, r.setCookie, errs)
	}
}

func TestCookieFlash(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	b := a.browser()
	b.mustGet("/flash?m=one")
	b.mustGet("/flash?m=two")
	if got := b.mustGet("/pop"); got != "[one two]" {
		t.Fatalf("pop: %q", got)
	}
	if got := b.mustGet("/pop"); got != "[]" {
		t.Fatalf("second pop: %q", got)
	}
}

func TestCookieCSRFAndRegenerateID(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	b := a.browser()
	b.mustGet("/counter")
	tok := b.mustGet("/csrf")
	if len(tok) != 40 || b.mustGet("/csrf") != tok {
		t.Fatalf("token %q not stable", tok)
	}
	before := b.cookie()
	r := b.get("/login?user=ann")
	newTok := r.body
	if newTok == tok || len(r.setCookie) != 1 || b.cookie() == before {
		t.Fatalf("login: token %q (was %q), Set-Cookie %q", newTok, tok, r.setCookie)
	}
	if got := b.mustGet("/csrf"); got != newTok {
		t.Fatalf("token after login %q, want %q", got, newTok)
	}
	if got := b.mustGet("/read"); got != "1" {
		t.Fatalf("data lost at login: %q", got)
	}
	// The pre-login cookie holds the pre-login session only.
	if got := a.do("/get?k=user", before).body; got != "" {
		t.Fatalf("pre-login cookie shows user %q", got)
	}
}

func TestCookieInvalidate(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	if r := a.do("/invalidate", ""); len(r.setCookie) != 0 {
		t.Fatalf("invalidate without a cookie: Set-Cookie %q", r.setCookie)
	}
	b := a.browser()
	b.mustGet("/counter")
	before := b.cookie()
	r := b.get("/invalidate")
	if !r.clears() || b.val != "" {
		t.Fatalf("invalidate: Set-Cookie %q, want the cookie cleared", r.setCookie)
	}
	if got := b.mustGet("/state"); got != "new=true keys=[]" {
		t.Fatalf("after invalidate: %q", got)
	}
	// Invalidate, then a value: a new session replaces the cookie.
	a.clock.Advance(time.Minute)
	b.val = strings.TrimPrefix(before, session.DefaultCookieName+"=")
	r = b.get("/invalidate-set")
	if r.clears() || r.value(session.DefaultCookieName) == "" {
		t.Fatalf("invalidate then set: Set-Cookie %q", r.setCookie)
	}
	if got := b.mustGet("/state"); got != "new=false keys=[after]" {
		t.Fatalf("after invalidate-set: %q", got)
	}
	// A garbage cookie is cleared too.
	if r := a.do("/invalidate", session.DefaultCookieName+"=garbage"); !r.clears() {
		t.Fatalf("invalidate with a bad cookie: Set-Cookie %q", r.setCookie)
	}
	if errs := a.takeErrs(); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestCookieChanged(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	b := a.browser()
	b.mustGet("/map?k=a")
	b.mustGet("/map?k=a")
	if got := b.mustGet("/map?k=b"); got != "map[a:2 b:1]" {
		t.Fatalf("map changed in place: %q", got)
	}
}

func TestCookieChangeAfterWrite(t *testing.T) {
	a := newCookieApp(t, session.CookieOptions{}, nil)
	b := a.browser()
	b.mustGet("/counter")
	for _, path := range []string{"/late", "/late-invalidate"} {
		r := b.get(path)
		if r.code != 200 || r.body != "body first" || len(r.setCookie) != 0 {
			t.Fatalf("%s: %d %q, Set-Cookie %q", path, r.code, r.body, r.setCookie)
		}
		if errs := a.takeErrs(); len(errs) != 1 || !errors.Is(errs[0], session.ErrChangedAfterWrite) {
			t.Fatalf("%s: errors %v, want ErrChangedAfterWrite", path, errs)
		}
	}
	if got := b.mustGet("/state"); got != "new=false keys=[counter]" {
		t.Fatalf("state %q", got)
	}
}

func TestCookieNestedManagers(t *testing.T) {
	// Two client-side managers on one request, under different names.
	clock := fakeclock.New()
	inner := newCookieApp(t, session.CookieOptions{Options: session.Options{CookieName: "inner"}}, clock)
	outerM, err := session.NewCookie(session.CookieOptions{Options: session.Options{CookieName: "outer", Secrets: []string{oldCookieSecret}, Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	h := outerM.Middleware(inner.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outerM.FromRequest(r).Set("o", 1)
		session.FromRequest(r).Set("i", 2)
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	names := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
	}
	if !names["inner"] || !names["outer"] || len(names) != 2 {
		t.Fatalf("cookies %v", rec.Header().Values("Set-Cookie"))
	}
}

// TestOptionErrors: an option New or NewCookie cannot use gives an
// *OptionError naming its INI key, which matches ErrInvalidOptions.
func TestOptionErrors(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	cases := []struct {
		key  string
		open func() error
	}{
		{"session.type", func() error { _, err := session.New(session.Options{Secrets: []string{secret}}); return err }},
		{"session.timeout", func() error {
			_, err := session.New(session.Options{Store: ms, Secrets: []string{secret}, Timeout: -time.Second})
			return err
		}},
		{"session.encrypt_key_fallbacks", func() error {
			_, err := session.NewCookie(session.CookieOptions{EncryptKey: "k", EncryptKeyFallbacks: []string{""}})
			return err
		}},
		{"session.encrypt_key_fallbacks", func() error {
			_, err := session.NewCookie(session.CookieOptions{Options: session.Options{Secrets: []string{secret}}, EncryptKeyFallbacks: []string{"old"}})
			return err
		}},
	}
	for _, c := range cases {
		err := c.open()
		var oe *session.OptionError
		if !errors.As(err, &oe) || oe.Key != c.key || !errors.Is(err, session.ErrInvalidOptions) {
			t.Errorf("%s: %v, want an *OptionError for it", c.key, err)
		}
	}
}
