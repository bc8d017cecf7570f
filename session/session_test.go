package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

const secret = "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac"

// countingStore wraps a real memstore, counting calls and able to fail or
// stall them, to check what the session layer asks of its store. Being a
// wrapper, it gets the store timeout on every call: it can stall.
type countingStore struct {
	ms                                    *memstore.Store
	gets, sets, updates, touches, deletes atomic.Int64
	fail                                  atomic.Bool
	stall                                 atomic.Bool
	failWrites                            atomic.Bool // fail every call but Get
	// lateSet and lateUpdate make Set and Update write, then wait out
	// their deadline and fail: a write that the server applied but whose
	// answer came too late.
	lateSet, lateUpdate atomic.Bool
	// queueUpdate makes the next Update wait out its deadline and fail
	// without writing, its write applied at the start of the Update after
	// it: a write
	// queued behind a slow one, which a read does not wait for but a
	// write to the same key does.
	queueUpdate atomic.Bool
	queued      atomic.Pointer[func()]
	// holdUpdates makes every Update wait out its deadline and fail
	// without writing, its write kept for applyHeld: a store that stalls,
	// then runs what it was sent, or never does.
	holdUpdates atomic.Bool
	heldMu      sync.Mutex
	held        []func()

	// hook, when set, runs at the start of every call with the operation
	// ("get", "set", "update", "touch", "delete") and the key, so that a
	// test can pause a request at an exact point of its commit.
	hook atomic.Pointer[func(ctx context.Context, op, key string)]
}

var errDown = errors.New("store down")

func (c *countingStore) check(ctx context.Context, op, key string) error {
	if h := c.hook.Load(); h != nil {
		(*h)(ctx, op, key)
	}
	if c.stall.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if c.fail.Load() || c.failWrites.Load() && op != "get" {
		return errDown
	}
	return nil
}

func (c *countingStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	c.gets.Add(1)
	if err := c.check(ctx, "get", key); err != nil {
		return store.Entry{}, false, err
	}
	return c.ms.Get(ctx, key)
}

// GetShared counts as a get: the session reads through it, as it does on
// a memstore, so the tests run on the production path.
func (c *countingStore) GetShared(ctx context.Context, key string) (store.Entry, bool, error) {
	c.gets.Add(1)
	if err := c.check(ctx, "get", key); err != nil {
		return store.Entry{}, false, err
	}
	return c.ms.GetShared(ctx, key)
}

func (c *countingStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	c.sets.Add(1)
	if err := c.check(ctx, "set", key); err != nil {
		return err
	}
	if c.lateSet.Load() {
		if err := c.ms.Set(ctx, key, v, ttl); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return c.ms.Set(ctx, key, v, ttl)
}

func (c *countingStore) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	c.updates.Add(1)
	if err := c.check(ctx, "update", key); err != nil {
		return err
	}
	if q := c.queued.Swap(nil); q != nil {
		(*q)()
	}
	if c.holdUpdates.Load() {
		c.heldMu.Lock()
		c.held = append(c.held, func() { _ = c.ms.Update(context.Background(), key, last, ttl, fn) })
		c.heldMu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	if c.queueUpdate.CompareAndSwap(true, false) {
		q := func() { _ = c.ms.Update(context.Background(), key, last, ttl, fn) }
		c.queued.Store(&q)
		<-ctx.Done()
		return ctx.Err()
	}
	if c.lateUpdate.Load() {
		if err := c.ms.Update(ctx, key, last, ttl, fn); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return c.ms.Update(ctx, key, last, ttl, fn)
}

// applyHeld applies the writes that holdUpdates kept, in order, or drops
// them when apply is false.
func (c *countingStore) applyHeld(apply bool) {
	c.heldMu.Lock()
	held := c.held
	c.held = nil
	c.heldMu.Unlock()
	for _, w := range held {
		if apply {
			w()
		}
	}
}

func (c *countingStore) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	c.touches.Add(1)
	if err := c.check(ctx, "touch", key); err != nil {
		return false, err
	}
	return c.ms.Touch(ctx, key, ttl)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	if err := c.check(ctx, "delete", key); err != nil {
		return err
	}
	return c.ms.Delete(ctx, key)
}

func (c *countingStore) Scan(ctx context.Context, prefix string, fn func(string) error) error {
	return c.ms.Scan(ctx, prefix, fn)
}

func (c *countingStore) PurgeExpired(ctx context.Context) (int, error) { return c.ms.PurgeExpired(ctx) }

func (c *countingStore) Len() int { return c.ms.Len() }

func (c *countingStore) writes() int64 {
	return c.sets.Load() + c.updates.Load() + c.touches.Load() + c.deletes.Load()
}

// app is a small test application over a session manager.
type app struct {
	t       *testing.T
	store   *countingStore
	clock   *fakeclock.Clock
	m       *session.Manager
	srv     *httptest.Server
	block   chan struct{} // /block waits on it
	entered chan struct{} // /block signals it after loading
	errs    chan error    // errors given to the error handler
}

func newApp(t *testing.T, opts session.Options) *app {
	t.Helper()
	c := fakeclock.New()
	ms := memstore.New(memstore.Options{Now: c.Now, JanitorInterval: -1})
	t.Cleanup(func() { ms.Close() })
	a := &app{t: t, store: &countingStore{ms: ms}, clock: c,
		block: make(chan struct{}), entered: make(chan struct{}, 100), errs: make(chan error, 100)}
	opts.Store = a.store
	if opts.Secrets == nil {
		opts.Secrets = []string{secret}
	}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		a.errs <- err
		session.DefaultErrorHandler(w, r, err)
	}
	m, err := session.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.srv = httptest.NewServer(m.Middleware(a.mux()))
	t.Cleanup(a.srv.Close)
	return a
}

// live counts the stored sessions, leaving out the short-lived markers
// that moved and ended sessions leave behind.
func (a *app) live() int {
	a.t.Helper()
	n := 0
	err := a.m.Scan(context.Background(), func(key string) error {
		if _, found, err := a.m.Lookup(context.Background(), key); err != nil {
			return err
		} else if found {
			n++
		}
		return nil
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return n
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *app) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/noop", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/counter", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "counter")
		s.Set("counter", n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok := session.Get[string](session.FromRequest(r), r.FormValue("k"))
		writeJSON(w, map[string]any{"v": v, "ok": ok})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		writeJSON(w, map[string]any{"keys": s.Keys(), "new": s.IsNew()})
	})
	mux.HandleFunc("/flash", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if r.FormValue("nodup") == "" {
			s.AddFlashTo(r.FormValue("q"), r.FormValue("m"))
		} else {
			s.AddFlashOnce(r.FormValue("q"), r.FormValue("m"))
		}
		http.Redirect(w, r, "/pop?q="+url.QueryEscape(r.FormValue("q")), http.StatusSeeOther)
	})
	mux.HandleFunc("/peek", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, session.FromRequest(r).PeekFlash(r.FormValue("q")))
	})
	mux.HandleFunc("/pop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, session.FromRequest(r).PopFlash(r.FormValue("q")))
	})
	mux.HandleFunc("/invalidate", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Invalidate()
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.RegenerateID()
		s.Set("user", r.FormValue("user"))
	})
	mux.HandleFunc("/csrf", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromRequest(r).CSRFToken())
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		_, _ = session.Get[int](s, "counter") // load now
		a.entered <- struct{}{}
		<-a.block
		if k := r.FormValue("k"); k != "" {
			s.Set(k, "late")
		}
		if m := r.FormValue("flash"); m != "" {
			s.AddFlash(m)
		}
		if r.FormValue("invalidate") != "" {
			s.Invalidate()
		}
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		io.WriteString(w, "body first")
		s.Set(r.FormValue("k"), "after body")
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("panicked", "yes")
		panic(http.ErrAbortHandler)
	})
	return mux
}

// client is a browser: a cookie jar over the test server.
type client struct {
	a *app
	c *http.Client
}

func (a *app) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{a: a, c: &http.Client{Jar: jar}}
}

func (c *client) get(path string) (int, string) {
	c.a.t.Helper()
	resp, err := c.c.Get(c.a.srv.URL + path)
	if err != nil {
		c.a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (c *client) mustGet(path string) string {
	c.a.t.Helper()
	code, body := c.get(path)
	if code != http.StatusOK {
		c.a.t.Fatalf("GET %s: status %d, body %q", path, code, body)
	}
	return body
}

func (c *client) cookie() *http.Cookie {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.c.Jar.Cookies(u) {
		return ck
	}
	return nil
}

func (c *client) setCookieValue(v string) {
	u, _ := url.Parse(c.a.srv.URL)
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: session.DefaultCookieName, Value: v, Path: "/"}})
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return v
}

func TestCounter(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	for i := 1; i <= 3; i++ {
		if got := c.mustGet("/counter"); got != strconv.Itoa(i) {
			t.Fatalf("visit %d: counter %s", i, got)
		}
	}
	other := a.client()
	if got := other.mustGet("/counter"); got != "1" {
		t.Fatalf("another browser's counter = %s, want its own 1", got)
	}
}

func TestLazyLoad(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/counter")
	gets := a.store.gets.Load()
	c.mustGet("/noop")
	if a.store.gets.Load() != gets || a.store.writes() != 1 {
		t.Fatalf("a request that never used the session touched the store: gets %d→%d, writes %d",
			gets, a.store.gets.Load(), a.store.writes())
	}
}

func TestReadOnlyWritesNothing(t *testing.T) {
	a := newApp(t, session.Options{Timeout: time.Hour})
	c := a.client()
	c.mustGet("/set?k=a&v=1")
	w := a.store.writes()
	for range 3 {
		c.mustGet("/get?k=a")
	}
	if got := a.store.writes(); got != w {
		t.Fatalf("read-only requests wrote to the store %d times", got-w)
	}
	// A new session that nothing was put in is never stored and gets no cookie.
	fresh := a.client()
	fresh.mustGet("/get?k=a")
	if fresh.cookie() != nil || a.store.writes() != w {
		t.Fatal("an unused new session was stored or got a cookie")
	}
}

func TestTypedValues(t *testing.T) {
	type profile struct {
		Name  string   `json:"name"`
		Langs []string `json:"langs"`
	}
	a := newApp(t, session.Options{})
	var got struct {
		n    int
		f    float64
		p    profile
		m    map[string]int
		ok   [4]bool
		miss bool
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Set("n", 42)
		s.Set("f", 2.5)
		s.Set("p", profile{Name: "ann", Langs: []string{"go", "py"}})
		s.Set("m", map[string]int{"a": 1})
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		got.n, got.ok[0] = session.Get[int](s, "n")
		got.f, got.ok[1] = session.Get[float64](s, "f")
		got.p, got.ok[2] = session.Get[profile](s, "p")
		got.m, got.ok[3] = session.Get[map[string]int](s, "m")
		_, wrongType := session.Get[int](s, "p")
		got.miss = !wrongType
		// In-place change, saved by Changed.
		got.m["b"] = 2
		s.Changed()
	})
	srv := httptest.NewServer(a.m.Middleware(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	for _, p := range []string{"/put", "/read", "/read"} {
		resp, err := hc.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got.n != 42 || got.f != 2.5 || got.p.Name != "ann" || !slices.Equal(got.p.Langs, []string{"go", "py"}) {
		t.Fatalf("typed reads: %+v", got)
	}
	if got.ok != [4]bool{true, true, true, true} || !got.miss {
		t.Fatalf("ok flags %v, wrong-type read ok=%v", got.ok, !got.miss)
	}
	if got.m["b"] != 2 {
		t.Fatalf("in-place change marked with Changed was not saved: %v", got.m)
	}
}

func TestFlash(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	// POST-redirect-GET: the message shows on the page after the redirect, once.
	if got := decode[[]string](t, c.mustGet("/flash?m=hello")); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("after redirect: %v", got)
	}
	if got := c.mustGet("/pop"); got != "null" {
		t.Fatalf("flash shown twice: %s", got)
	}
	// Peek does not remove; pop does.
	c.mustGet("/flash?m=a&q=q1")  // popped by the redirect target
	c.mustGet("/flash?m=b&q=q1")  // likewise
	c.mustGet("/flash?m=x&q=zzz") // pops zzz
	c.mustGet("/set?k=unrelated&v=1")
	// Queue separation: a message in q2 is not in the default queue.
	a.srv.Config.Handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/noop", nil))
	c.mustGet("/flash?m=one&q=q2")
	// Build up a queue without popping it.
	for _, m := range []string{"p1", "p2", "p2"} {
		resp, err := noRedirect(c).Get(a.srv.URL + "/flash?q=peekq&m=" + m)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := decode[[]string](t, c.mustGet("/peek?q=peekq")); !slices.Equal(got, []string{"p1", "p2", "p2"}) {
		t.Fatalf("peek: %v", got)
	}
	if got := decode[[]string](t, c.mustGet("/peek?q=peekq")); len(got) != 3 {
		t.Fatalf("peek removed messages: %v", got)
	}
	if got := decode[[]string](t, c.mustGet("/peek")); len(got) != 0 {
		t.Fatalf("default queue has another queue's messages: %v", got)
	}
	if got := decode[[]string](t, c.mustGet("/pop?q=peekq")); len(got) != 3 {
		t.Fatalf("pop: %v", got)
	}
	if got := c.mustGet("/peek?q=peekq"); got != "null" {
		t.Fatalf("after pop: %s", got)
	}
	// allowDuplicate=false.
	for range 2 {
		resp, err := noRedirect(c).Get(a.srv.URL + "/flash?q=d&nodup=1&m=same")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := decode[[]string](t, c.mustGet("/pop?q=d")); !slices.Equal(got, []string{"same"}) {
		t.Fatalf("allowDuplicate=false kept duplicates: %v", got)
	}
}

func noRedirect(c *client) *http.Client {
	return &http.Client{Jar: c.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestCookieAttributes(t *testing.T) {
	a := newApp(t, session.Options{CookieName: "akhet_demo"})
	resp, err := http.Get(a.srv.URL + "/counter")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"akhet_demo=", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") || strings.Contains(sc, "Expires") || strings.Contains(sc, "Max-Age") {
		t.Errorf("Set-Cookie %q: want a browser-session cookie without Secure over plain HTTP", sc)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || !slices.Contains(resp.Header.Values("Vary"), "Cookie") {
		t.Errorf("Cache-Control %q, Vary %q", resp.Header.Get("Cache-Control"), resp.Header.Values("Vary"))
	}
	value := resp.Cookies()[0].Value
	if len(value) < 60 {
		t.Errorf("cookie value %q too short for a 192-bit id and its MAC", value)
	}
	// The store key is a hash of the id, not the id.
	id := value[:strings.IndexByte(value, '.')]
	_ = a.store.Scan(context.Background(), "", func(key string) error {
		if strings.Contains(key, id) {
			t.Errorf("store key %q holds the session id", key)
		}
		return nil
	})

	// Over TLS, SecureAuto sets Secure.
	tls := httptest.NewTLSServer(a.m.Middleware(a.mux()))
	defer tls.Close()
	resp, err = tls.Client().Get(tls.URL + "/counter")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Errorf("over TLS: Set-Cookie %q lacks Secure", sc)
	}
}

func TestTamperedCookie(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=secret&v=data")
	good := c.cookie().Value
	// The manager now remembers good as verified: a value one character
	// away must still fail.
	if got := decode[map[string]any](t, c.mustGet("/get?k=secret")); got["v"] != "data" {
		t.Fatalf("the real cookie does not work: %v", got)
	}
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	for i := range len(good) {
		for _, ch := range []byte{alphabet[(strings.IndexByte(alphabet, good[i])+1)%len(alphabet)], 'A', '_'} {
			if ch == good[i] {
				continue
			}
			bad := good[:i] + string(ch) + good[i+1:]
			evil := a.client()
			evil.setCookieValue(bad)
			code, body := evil.get("/get?k=secret")
			if code != http.StatusOK {
				t.Fatalf("tampered cookie (char %d) gave status %d", i, code)
			}
			if got := decode[map[string]any](t, body); got["ok"] != false {
				t.Fatalf("tampered cookie (char %d → %q) read the session: %v", i, ch, got)
			}
		}
	}
	for _, bad := range []string{"", "x", good[:len(good)-1], good + "A", strings.ToUpper(good), strings.Repeat("A", 5000)} {
		evil := a.client()
		evil.setCookieValue(bad)
		if code, body := evil.get("/get?k=secret"); code != 200 || strings.Contains(body, "data") {
			t.Fatalf("cookie %.20q: status %d body %s", bad, code, body)
		}
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=secret")); got["v"] != "data" {
		t.Fatalf("the real cookie stopped working: %v", got)
	}
}

func TestSecretRotation(t *testing.T) {
	oldSecret := "old-secret-0123456789abcdef"
	a := newApp(t, session.Options{Secrets: []string{oldSecret}})
	c := a.client()
	c.mustGet("/set?k=k&v=v")
	stale := a.client()
	stale.setCookieValue(c.cookie().Value) // a browser that stays away during the rotation
	rotated, err := session.New(session.Options{Store: a.store, Secrets: []string{"new-secret-0123456789abcdef", oldSecret}, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a.srv.Config.Handler = rotated.Middleware(a.mux())
	before := c.cookie().Value
	// Twice with the same old cookie: the second time it is remembered as
	// verified, and must still be re-signed.
	for i := range 2 {
		c.setCookieValue(before)
		if got := decode[map[string]any](t, c.mustGet("/get?k=k")); got["v"] != "v" {
			t.Fatalf("request %d: a cookie signed with the old secret no longer verifies: %v", i, got)
		}
		if after := c.cookie().Value; after == before {
			t.Fatalf("request %d: a cookie signed with the old secret was not re-signed with the current one", i)
		}
	}
	dropped, err := session.New(session.Options{Store: a.store, Secrets: []string{"new-secret-0123456789abcdef"}, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a.srv.Config.Handler = dropped.Middleware(a.mux())
	if got := decode[map[string]any](t, c.mustGet("/get?k=k")); got["v"] != "v" {
		t.Fatalf("a re-signed cookie stopped working when the old secret was removed: %v", got)
	}
	if got := decode[map[string]any](t, stale.mustGet("/get?k=k")); got["ok"] != false {
		t.Fatalf("a cookie signed with a removed secret still verifies: %v", got)
	}
}

// loadAllThen runs the paths as concurrent requests of c that all load the
// session before any of them saves (the /block route), and returns their
// status codes.
func (a *app) loadAllThen(c *client, paths ...string) []int {
	a.t.Helper()
	codes := make([]int, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := noRedirect(c).Get(a.srv.URL + p)
			if err != nil {
				a.t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	for range paths {
		<-a.entered // every request has loaded the same record
	}
	close(a.block)
	wg.Wait()
	a.block = make(chan struct{})
	return codes
}

func TestConcurrentSetsKeepEveryKey(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=seed&v=1")
	var paths []string
	for i := range 8 {
		paths = append(paths, fmt.Sprintf("/block?k=key%02d", i))
	}
	for i, code := range a.loadAllThen(c, paths...) {
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", paths[i], code)
		}
	}
	keys := decode[map[string]any](t, c.mustGet("/keys"))["keys"].([]any)
	if len(keys) != 9 {
		t.Fatalf("after 8 concurrent sets on one loaded record: %d keys, want 9: %v", len(keys), keys)
	}
}

func TestConcurrentFlashesBothShow(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=seed&v=1")
	a.loadAllThen(c, "/block?flash=first", "/block?flash=second")
	got := decode[[]string](t, c.mustGet("/pop"))
	slices.Sort(got)
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("two concurrent flashes: %v", got)
	}
}

func TestFlashPopKeepsMessagesAddedMeanwhile(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	resp, _ := noRedirect(c).Get(a.srv.URL + "/flash?m=old")
	resp.Body.Close()
	// A request pops while another adds between its load and its save.
	mux := http.NewServeMux()
	mux.HandleFunc("/slowpop", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		got := s.PopFlash("")
		a.entered <- struct{}{}
		<-a.block
		writeJSON(w, got)
	})
	mux.Handle("/", a.mux())
	a.srv.Config.Handler = a.m.Middleware(mux)
	done := make(chan string)
	go func() { done <- c.mustGet("/slowpop") }()
	<-a.entered
	resp, _ = noRedirect(c).Get(a.srv.URL + "/flash?m=new")
	resp.Body.Close()
	close(a.block)
	if got := decode[[]string](t, <-done); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("slow pop returned %v", got)
	}
	if got := decode[[]string](t, c.mustGet("/pop")); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("a message added during another request's pop: %v, want [new] once", got)
	}
}

func TestReadOnlyRequestDoesNotUndoWrite(t *testing.T) {
	a := newApp(t, session.Options{Timeout: time.Hour})
	c := a.client()
	c.mustGet("/set?k=a&v=1")
	a.clock.Advance(30 * time.Minute) // so that the slow request also touches
	done := make(chan string)
	go func() { done <- c.mustGet("/block") }() // loads, then waits
	<-a.entered
	c.mustGet("/set?k=b&v=2")
	close(a.block)
	<-done
	if got := decode[map[string]any](t, c.mustGet("/get?k=b")); got["v"] != "2" {
		t.Fatalf("a concurrent read-only request undid a write: %v", got)
	}
}

func TestLateWriteAfterInvalidateDoesNotResurrect(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=user&v=ann")
	stale := c.cookie().Value
	done := make(chan string)
	go func() { done <- c.mustGet("/block?k=late") }()
	<-a.entered
	c.mustGet("/invalidate") // logout in another tab
	close(a.block)
	<-done
	if n := a.live(); n != 0 {
		t.Fatalf("the store holds %d records after logout and a late write; the session came back", n)
	}
	old := a.client()
	old.setCookieValue(stale)
	if got := decode[map[string]any](t, old.mustGet("/keys")); got["new"] != true {
		t.Fatalf("the old cookie still reaches a session: %v", got)
	}
}

func TestInvalidateRemovesRecord(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=user&v=ann")
	if a.live() != 1 {
		t.Fatalf("store has %d records, want 1", a.live())
	}
	resp, err := c.c.Get(a.srv.URL + "/invalidate")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a.live() != 0 {
		t.Fatalf("Invalidate left %d records", a.live())
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("Invalidate did not clear the cookie: %q", sc)
	}
	if got := decode[map[string]any](t, c.mustGet("/keys")); got["new"] != true {
		t.Fatalf("after Invalidate: %v", got)
	}
}

func TestRegenerateID(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3+items")
	before := c.cookie().Value
	tokenBefore := c.mustGet("/csrf")
	c.mustGet("/login?user=ann")
	after := c.cookie().Value
	if before == after {
		t.Fatal("RegenerateID kept the cookie value")
	}
	for k, want := range map[string]string{"cart": "3 items", "user": "ann"} {
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after RegenerateID %s = %v, want %q", k, got, want)
		}
	}
	if tok := c.mustGet("/csrf"); tok == tokenBefore || len(tok) != 40 {
		t.Fatalf("CSRF token after login %q (before %q): want a new 40-hex token", tok, tokenBefore)
	}
	if a.live() != 1 {
		t.Fatalf("store has %d records after RegenerateID, want 1", a.live())
	}
	old := a.client()
	old.setCookieValue(before)
	if got := decode[map[string]any](t, old.mustGet("/get?k=cart")); got["ok"] != false {
		t.Fatalf("the old id still works: %v", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	a := newApp(t, session.Options{Timeout: 10 * time.Minute})
	c := a.client()
	c.mustGet("/counter")
	// Used every 9 minutes, the session lives on; Touch keeps it alive, at
	// most once per tenth of the timeout.
	for i := 2; i <= 4; i++ {
		a.clock.Advance(9 * time.Minute)
		if got := c.mustGet("/get?k=nothing"); !strings.Contains(got, `"ok":false`) {
			t.Fatal(got)
		}
		if got := decode[map[string]any](t, c.mustGet("/keys")); got["new"] != false {
			t.Fatalf("after %d×9 min of use the session is gone", i-1)
		}
	}
	touches := a.store.touches.Load()
	if touches == 0 {
		t.Fatal("the idle timeout was never extended with Touch")
	}
	for range 5 {
		c.mustGet("/keys") // within a tenth of the timeout of the last touch
	}
	if a.store.touches.Load() != touches {
		t.Fatalf("Touch ran %d more times within a tenth of the timeout", a.store.touches.Load()-touches)
	}
	a.clock.Advance(11 * time.Minute)
	if got := c.mustGet("/counter"); got != "1" {
		t.Fatalf("after the idle timeout the counter is %s, want a new session's 1", got)
	}
}

func TestLifetime(t *testing.T) {
	a := newApp(t, session.Options{Timeout: time.Hour, Lifetime: 3 * time.Hour})
	c := a.client()
	c.mustGet("/counter")
	for range 5 { // used every 50 minutes: the idle timeout never hits
		a.clock.Advance(50 * time.Minute)
		c.mustGet("/keys")
	}
	if got := c.mustGet("/counter"); got != "1" {
		t.Fatalf("after the absolute lifetime the counter is %s, want a new session's 1", got)
	}
}

func TestStoreOutage(t *testing.T) {
	a := newApp(t, session.Options{StoreTimeout: 50 * time.Millisecond})
	c := a.client()
	c.mustGet("/counter")
	a.store.fail.Store(true)
	if code, _ := c.get("/counter"); code != http.StatusServiceUnavailable {
		t.Fatalf("store down: status %d, want 503", code)
	}
	var se *session.StoreError
	if err := <-a.errs; !errors.As(err, &se) || !errors.Is(err, errDown) {
		t.Fatalf("error handler got %v, want a *StoreError wrapping the store's error", err)
	}
	a.store.fail.Store(false)
	a.store.stall.Store(true)
	if code, _ := c.get("/counter"); code != http.StatusServiceUnavailable {
		t.Fatalf("store hung: status %d, want 503 after the store timeout", code)
	}
	if err := <-a.errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error handler got %v, want a deadline error", err)
	}
	a.store.stall.Store(false)
	if got := c.mustGet("/counter"); got != "2" {
		t.Fatalf("after recovery the counter is %s, want 2 (the failed requests saved nothing)", got)
	}
}

func TestPanicCommitsNothing(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=a&v=1")
	w := a.store.writes()
	if _, err := c.c.Get(a.srv.URL + "/panic"); err == nil {
		t.Fatal("want the aborted response to fail")
	}
	if a.store.writes() != w {
		t.Fatal("a panicking handler's changes were saved")
	}
}

func TestChangeAfterBody(t *testing.T) {
	a := newApp(t, session.Options{})
	// Existing session: the late change is still saved.
	c := a.client()
	c.mustGet("/set?k=a&v=1")
	if got := c.mustGet("/late?k=b"); got != "body first" {
		t.Fatal(got)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=b")); got["v"] != "after body" {
		t.Fatalf("a late change to an existing session was lost: %v", got)
	}
	select {
	case err := <-a.errs:
		t.Fatalf("unexpected error %v", err)
	default:
	}
	// New session: the cookie can no longer be sent, so it is reported.
	fresh := a.client()
	if got := fresh.mustGet("/late?k=b"); got != "body first" {
		t.Fatal(got)
	}
	if err := <-a.errs; !errors.Is(err, session.ErrChangedAfterWrite) {
		t.Fatalf("error handler got %v, want ErrChangedAfterWrite", err)
	}
}

// A value that cannot be stored as JSON, or a key or flash queue name that
// is not valid UTF-8 (it would come back as another key), fails the
// request through the error handler with an *EncodeError.
func TestEncodeError(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     func(s *session.Session)
		key     string
		notUTF8 bool
	}{
		{"value", func(s *session.Session) { s.Set("fn", func() {}) }, "fn", false},
		{"int key", func(s *session.Session) { s.Set("a\xff", 1) }, "a\xff", true},
		{"string key", func(s *session.Session) { s.Set("b\xfe", "v") }, "b\xfe", true},
		{"flash queue", func(s *session.Session) { s.AddFlashTo("q\xff", "m") }, "flash:q\xff", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newApp(t, session.Options{})
			mux := http.NewServeMux()
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				c.set(session.FromRequest(r))
				io.WriteString(w, "should not be seen")
			})
			srv := httptest.NewServer(a.m.Middleware(mux))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 500 || strings.Contains(string(b), "should not") {
				t.Fatalf("status %d body %q", resp.StatusCode, b)
			}
			var ee *session.EncodeError
			err = <-a.errs
			if !errors.As(err, &ee) || ee.Key != c.key || errors.Is(err, session.ErrKeyNotUTF8) != c.notUTF8 {
				t.Fatalf("error handler got %v, want an *EncodeError for %q (ErrKeyNotUTF8: %v)", err, c.key, c.notUTF8)
			}
		})
	}
}

func TestResponseController(t *testing.T) {
	a := newApp(t, session.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("k", "v")
		rc := http.NewResponseController(w)
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush through ResponseController: %v", err)
		}
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through Unwrap: %v", err)
		}
		io.WriteString(w, "streamed")
	})
	srv := httptest.NewServer(a.m.Middleware(mux))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Fatal("the cookie was not sent before the flushed body")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	defer ms.Close()
	if _, err := session.New(session.Options{Store: ms}); !errors.Is(err, session.ErrNoSecret) {
		t.Errorf("no secret: %v", err)
	}
	if _, err := session.New(session.Options{Store: ms, Secrets: []string{"short"}}); !errors.Is(err, session.ErrSecretTooShort) {
		t.Errorf("short secret: %v", err)
	}
	if _, err := session.New(session.Options{Secrets: []string{secret}}); err == nil {
		t.Error("no store: no error")
	}
}

func TestAdmin(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=user&v=ann")
	resp, _ := noRedirect(c).Get(a.srv.URL + "/flash?m=hi")
	resp.Body.Close()
	ctx := context.Background()
	var keys []string
	if err := a.m.Scan(ctx, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || strings.Contains(keys[0], c.cookie().Value[:10]) {
		t.Fatalf("Scan = %v", keys)
	}
	// The refs: the store key, the key without its prefix, the cookie, and
	// the bare id, which the store must never be sent.
	id, _, _ := strings.Cut(c.cookie().Value, ".")
	var sent []string
	var mu sync.Mutex
	h := func(_ context.Context, _, key string) { mu.Lock(); sent = append(sent, key); mu.Unlock() }
	a.store.hook.Store(&h)
	for _, ref := range []string{keys[0], strings.TrimPrefix(keys[0], session.DefaultKeyPrefix), c.cookie().Value, id} {
		r, found, err := a.m.Lookup(ctx, ref)
		if err != nil || !found {
			t.Fatalf("Lookup(%q) = %v, %v", ref, found, err)
		}
		if string(r.Values["user"]) != `"ann"` || len(r.Flash[""]) != 1 || string(r.Flash[""][0]) != `"hi"` || r.Key != keys[0] {
			t.Fatalf("Lookup(%q) = %+v", ref, r)
		}
	}
	if _, found, _ := a.m.Lookup(ctx, "nonsense"); found {
		t.Fatal("Lookup of nonsense found a session")
	}
	a.store.hook.Store(nil)
	for _, k := range sent {
		if strings.Contains(k, id) {
			t.Fatalf("the store was sent the session id in clear: %q", k)
		}
	}
	if err := a.m.Remove(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if got := decode[map[string]any](t, c.mustGet("/keys")); got["new"] != true {
		t.Fatalf("after Remove the browser still has its session: %v", got)
	}
	if n, err := a.m.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
}

func TestNoTouch(t *testing.T) {
	a := newApp(t, session.Options{Timeout: 10 * time.Minute, NoTouch: true})
	c := a.client()
	c.mustGet("/counter")
	a.clock.Advance(6 * time.Minute)
	c.mustGet("/keys")
	a.clock.Advance(6 * time.Minute)
	if a.store.touches.Load() != 0 {
		t.Fatal("NoTouch: Touch was called")
	}
	if got := c.mustGet("/counter"); got != "1" {
		t.Fatalf("NoTouch: reads kept the session alive (counter %s)", got)
	}
}

func TestTouchNeverPastLifetime(t *testing.T) {
	a := newApp(t, session.Options{Timeout: time.Hour, Lifetime: 90 * time.Minute})
	c := a.client()
	c.mustGet("/counter")
	created := a.clock.Now()
	a.clock.Advance(50 * time.Minute)
	c.mustGet("/keys") // touches: 40 minutes of lifetime left, not the hour of the timeout
	var keys []string
	_ = a.store.Scan(context.Background(), "", func(k string) error { keys = append(keys, k); return nil })
	if len(keys) != 1 {
		t.Fatalf("store keys %v", keys)
	}
	e, found, err := a.store.ms.Get(context.Background(), keys[0])
	if err != nil || !found {
		t.Fatalf("Get = %v, %v", found, err)
	}
	if end := created.Add(90 * time.Minute); e.Expires.After(end) {
		t.Fatalf("the record expires at %v, past the session's lifetime end %v", e.Expires, end)
	}
	if a.store.touches.Load() == 0 {
		t.Fatal("no Touch")
	}
}

func TestHijackSaves(t *testing.T) {
	a := newApp(t, session.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("k", "hijacked")
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
	})
	srv := httptest.NewServer(a.m.Middleware(mux))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a.live() != 1 {
		t.Fatalf("a hijacking handler's change was not saved (%d records)", a.live())
	}
}

// A client that hangs up before the handler first uses the session: the
// handler still sees the session and its changes are saved (a logout by
// Delete or Clear must not be undone by a closed tab), and nothing is an
// error.
func TestClientGoneIsNotAnError(t *testing.T) {
	var logs strings.Builder
	a := newApp(t, session.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := a.client()
	c.mustGet("/counter")
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/counter", nil).WithContext(ctx)
	req.Header.Set("Cookie", c.cookie().Name+"="+c.cookie().Value)
	cancel() // the client hung up before the session was loaded
	rec := httptest.NewRecorder()
	a.srv.Config.Handler.ServeHTTP(rec, req)
	select {
	case err := <-a.errs:
		t.Fatalf("the error handler got %v for a client that went away", err)
	default:
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("log: %s", logs.String())
	}
	if got := c.mustGet("/counter"); got != "3" {
		t.Fatalf("counter %s after a request whose client went away, want 3: its change was lost", got)
	}
}
