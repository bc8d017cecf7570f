package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/session"
)

// The login race: RegenerateID against requests that loaded the session
// before it and save after it, against logouts, and against requests that
// still carry the old id. Each interleaving is driven with barriers.

// response is what a test keeps of one response.
type response struct {
	code      int
	setCookie []string
}

func (r response) setsCookie() bool { return len(r.setCookie) > 0 }

func (r response) clearsCookie() bool {
	for _, c := range r.setCookie {
		if strings.Contains(c, "Max-Age=0") {
			return true
		}
	}
	return false
}

// do runs one request of c, without following redirects.
func (c *client) do(path string) response {
	c.a.t.Helper()
	resp, err := noRedirect(c).Get(c.a.srv.URL + path)
	if err != nil {
		c.a.t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return response{code: resp.StatusCode, setCookie: resp.Header.Values("Set-Cookie")}
}

// onFirstWrite arms a hook that runs f once, on the first write ("update"
// or "delete") to key, before the write goes to the store.
func (a *app) onFirstWrite(key string, f func()) {
	var fired atomic.Bool
	h := func(ctx context.Context, op, k string) {
		if k == key && (op == "update" || op == "delete") && fired.CompareAndSwap(false, true) {
			f() // other calls go on meanwhile
		}
	}
	a.store.hook.Store(&h)
	a.t.Cleanup(func() { a.store.hook.Store(nil) })
}

// storeKeyOf returns the store key of the session c's cookie carries.
func (a *app) storeKeyOf(c *client) string {
	a.t.Helper()
	var key string
	err := a.m.Scan(context.Background(), func(k string) error {
		if r, found, _ := a.m.Lookup(context.Background(), c.cookie().Value); found && r.Key == k {
			key = k
		}
		return nil
	})
	if err != nil || key == "" {
		a.t.Fatalf("no stored session for the client's cookie (%v)", err)
	}
	return key
}

func (a *app) wantNoError() {
	a.t.Helper()
	select {
	case err := <-a.errs:
		a.t.Fatalf("error handler: %v", err)
	default:
	}
}

func TestLoginCopiesAWriteMadeDuringTheMove(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	oldKey := a.storeKeyOf(c)

	// W loads the session, then waits; the login writes the new record,
	// and just before it turns the old one into a marker, W saves.
	wDone := make(chan response)
	go func() { wDone <- c.do("/block?k=note") }()
	<-a.entered
	var w response
	a.onFirstWrite(oldKey, func() {
		close(a.block)
		w = <-wDone
	})
	login := c.do("/login?user=ann")
	if w.code != http.StatusOK || login.code != http.StatusOK || !login.setsCookie() || login.clearsCookie() {
		t.Fatalf("write %+v, login %+v: want both 200 and the login's new cookie", w, login)
	}
	a.wantNoError()
	for k, want := range map[string]string{"cart": "3", "user": "ann", "note": "late"} {
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after the login %s = %v, want %q: an acknowledged write was lost", k, got, want)
		}
	}
	if n := a.live(); n != 1 {
		t.Fatalf("%d live sessions after the login, want 1", n)
	}
}

// TestLoginOutlastsManyWrites changes the session 40 times while a login
// moves it, once before each of the move's conditional writes: the login
// copies again each time and succeeds with every write, however many
// there are (it gave up, with a 503, after 16 tries before, which a login
// racing 25 note posts on SQLite reached).
func TestLoginOutlastsManyWrites(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	oldKey := a.storeKeyOf(c)

	const writes = 40
	var n atomic.Int32
	var inner atomic.Bool
	h := func(ctx context.Context, op, key string) {
		if op != "update" || key != oldKey || n.Load() == writes || !inner.CompareAndSwap(false, true) {
			return
		}
		defer inner.Store(false)
		i := n.Add(1)
		if r := c.do(fmt.Sprintf("/set?k=w%02d&v=%d", i, i)); r.code != http.StatusOK {
			t.Errorf("write %d during the login: %+v", i, r)
		}
	}
	a.store.hook.Store(&h)
	login := c.do("/login?user=ann")
	a.store.hook.Store(nil)
	if login.code != http.StatusOK || !login.setsCookie() {
		t.Fatalf("login after %d writes: %+v", n.Load(), login)
	}
	if n.Load() != writes {
		t.Fatalf("the login's move made %d conditional writes that a write preceded, want %d", n.Load(), writes)
	}
	a.wantNoError()
	for i := 1; i <= writes; i++ {
		k, want := fmt.Sprintf("w%02d", i), fmt.Sprint(i)
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after the login %s = %v, want %q: an acknowledged write was lost", k, got, want)
		}
	}
	if n := a.live(); n != 1 {
		t.Fatalf("%d live sessions after the login, want 1", n)
	}
}

// TestLoginPastItsDeadlineLeavesNoCopy: a login whose move copies the
// record, finds it changed, copies again, then runs out of the commit's
// deadline inside the store, and whose try to settle the move finds the
// record changed again, fails with a StoreError (503), and leaves no copy
// behind: the clean-up gets a deadline of its own.
func TestLoginPastItsDeadlineLeavesNoCopy(t *testing.T) {
	a := newApp(t, session.Options{StoreTimeout: 200 * time.Millisecond})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	oldKey := a.storeKeyOf(c)

	var calls atomic.Int32
	var inner atomic.Bool
	h := func(ctx context.Context, op, key string) {
		if op != "update" || key != oldKey || !inner.CompareAndSwap(false, true) {
			return
		}
		defer inner.Store(false)
		switch calls.Add(1) {
		case 1: // a write before the move's first conditional write: it copies again
			if r := c.do("/set?k=w&v=1"); r.code != http.StatusOK {
				t.Errorf("write during the login: %+v", r)
			}
		case 2: // the second outlasts the commit's deadline
			<-ctx.Done()
		case 3: // a write before the try that settles it, which then finds the record changed
			if r := c.do("/set?k=w&v=2"); r.code != http.StatusOK {
				t.Errorf("write during the login: %+v", r)
			}
		}
	}
	a.store.hook.Store(&h)
	login := c.do("/login?user=ann")
	a.store.hook.Store(nil)
	if login.code != http.StatusServiceUnavailable || login.setsCookie() {
		t.Fatalf("login past its deadline: %+v, want a 503 and no cookie", login)
	}
	if err := <-a.errs; !errors.As(err, new(*session.StoreError)) {
		t.Fatalf("error handler got %v, want a StoreError", err)
	}
	if n := a.live(); n != 1 {
		t.Fatalf("%d live sessions after the failed login, want the one it started from", n)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=w")); got["v"] != "2" {
		t.Fatalf("the writes made during the failed login: %v, want the last", got)
	}
}

// TestWriteThatTimedOutLeavesNoRecord: a login's copy, or a new session's
// first record, whose Set was applied but answered after the commit's
// deadline fails the request (503) and is removed: no orphan record stays
// for the session's lifetime.
func TestWriteThatTimedOutLeavesNoRecord(t *testing.T) {
	a := newApp(t, session.Options{StoreTimeout: 200 * time.Millisecond})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	for _, path := range []string{"/login?user=ann", "/set?k=x&v=1"} {
		cl := c
		if path != "/login?user=ann" {
			cl = a.client() // a new session
		}
		a.store.lateSet.Store(true)
		r := cl.do(path)
		a.store.lateSet.Store(false)
		if r.code != http.StatusServiceUnavailable || r.setsCookie() {
			t.Fatalf("%s with a write answered late: %+v, want a 503 and no cookie", path, r)
		}
		if err := <-a.errs; !errors.As(err, new(*session.StoreError)) {
			t.Fatalf("%s: error handler got %v, want a StoreError", path, err)
		}
		if n := a.live(); n != 1 {
			t.Fatalf("after %s failed: %d live sessions, want the one from before", path, n)
		}
	}
}

// TestLoginWhoseMarkerIsAnsweredLate: the conditional write that turns the
// old record into a "moved" marker is applied, but its answer comes after
// the commit's deadline. The old id then leads nowhere, so the login
// stands (its copy is all that is left of the session): the new cookie is
// sent and every value is kept. When the write was not applied (a store
// that stalls before writing), the login fails with a 503 and the session
// stays as it was under its old id.
func TestLoginWhoseMarkerIsAnsweredLate(t *testing.T) {
	a := newApp(t, session.Options{StoreTimeout: 200 * time.Millisecond})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")

	a.store.lateUpdate.Store(true)
	login := c.do("/login?user=ann")
	a.store.lateUpdate.Store(false)
	if login.code != http.StatusOK || !login.setsCookie() {
		t.Fatalf("login whose marker was answered late: %+v, want it to stand", login)
	}
	a.wantNoError()
	for k, want := range map[string]string{"cart": "3", "user": "ann"} {
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after the late login %s = %v, want %q", k, got, want)
		}
	}

	// The marker's write is still queued when the store's answer is
	// given up: a read made then finds the old record, but a second
	// conditional write is ordered after the first, and finds the marker.
	a.store.queueUpdate.Store(true)
	login = c.do("/login?user=cy")
	if login.code != http.StatusOK || !login.setsCookie() {
		t.Fatalf("login whose marker's write was still queued: %+v, want it to stand", login)
	}
	a.wantNoError()
	for k, want := range map[string]string{"cart": "3", "user": "cy"} {
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after the queued login %s = %v, want %q", k, got, want)
		}
	}

	// Neither marker write is answered, and both land afterwards (a store
	// that stalls, then runs what it was sent): the login stands with its
	// copy, which is then all that is left of the session, and the old id
	// leads nowhere.
	old := c.cookie().Value
	a.store.holdUpdates.Store(true)
	login = c.do("/login?user=bob")
	a.store.holdUpdates.Store(false)
	if login.code != http.StatusOK || !login.setsCookie() {
		t.Fatalf("login whose marker writes were answered by nobody: %+v, want it to stand", login)
	}
	a.wantNoError()
	a.store.applyHeld(true)
	for k, want := range map[string]string{"cart": "3", "user": "bob"} {
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after the unanswered login, its writes applied late, %s = %v, want %q", k, got, want)
		}
	}
	if n := a.live(); n != 1 {
		t.Fatalf("%d live sessions, want the login's alone", n)
	}
	other := a.client()
	other.setCookieValue(old)
	if got := decode[map[string]any](t, other.mustGet("/keys")); got["new"] != true {
		t.Fatalf("the old id after the late marker: %v, want a new session", got)
	}

	// Neither is answered and neither ever lands (a store gone down): the
	// login stands all the same; the old id keeps the session as it was
	// before the login, never the login's.
	old = c.cookie().Value
	a.store.holdUpdates.Store(true)
	login = c.do("/login?user=dan")
	a.store.holdUpdates.Store(false)
	a.store.applyHeld(false)
	if login.code != http.StatusOK || !login.setsCookie() {
		t.Fatalf("login whose marker writes never landed: %+v, want it to stand", login)
	}
	for k, want := range map[string]string{"cart": "3", "user": "dan"} {
		if got := decode[map[string]any](t, c.mustGet("/get?k="+k)); got["v"] != want {
			t.Fatalf("after the login whose writes never landed, %s = %v, want %q", k, got, want)
		}
	}
	other = a.client()
	other.setCookieValue(old)
	if got := decode[map[string]any](t, other.mustGet("/get?k=user")); got["v"] != "bob" {
		t.Fatalf("the old id after a move never marked: user = %v, want the session as it was before the login", got)
	}
}

func TestRequestLoadedBeforeLoginFailsAfterIt(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	old := c.cookie().Value

	wDone := make(chan response)
	go func() { wDone <- c.do("/block?k=note") }()
	<-a.entered
	login := c.do("/login?user=ann")
	close(a.block)
	w := <-wDone

	if w.code != http.StatusConflict || w.setsCookie() {
		t.Fatalf("a write that loaded the session before the login and saved after it: %+v; want 409 and no cookie", w)
	}
	if err := <-a.errs; !errors.Is(err, session.ErrSessionMoved) {
		t.Fatalf("error handler got %v, want ErrSessionMoved", err)
	}
	if c.cookie().Value == old || !login.setsCookie() {
		t.Fatal("the login's cookie did not survive")
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=note")); got["ok"] != false {
		t.Fatalf("the stale request wrote into the new session: %v", got)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=user")); got["v"] != "ann" {
		t.Fatalf("the login was lost: %v", got)
	}
}

func TestReadOnlyRequestRacingLoginKeepsTheCookie(t *testing.T) {
	a := newApp(t, session.Options{Timeout: time.Hour})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	a.clock.Advance(30 * time.Minute) // so that the slow request touches
	rDone := make(chan response)
	go func() { rDone <- c.do("/block") }()
	<-a.entered
	c.do("/login?user=ann")
	close(a.block)
	if r := <-rDone; r.code != http.StatusOK || r.setsCookie() {
		t.Fatalf("a read-only request that raced the login: %+v; want 200 and no cookie", r)
	}
	a.wantNoError()
	if got := decode[map[string]any](t, c.mustGet("/get?k=user")); got["v"] != "ann" {
		t.Fatalf("after the race: %v", got)
	}
}

func TestLogoutDuringLoginWins(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	oldKey := a.storeKeyOf(c)
	other := a.client() // another tab, same cookie
	other.setCookieValue(c.cookie().Value)

	a.onFirstWrite(oldKey, func() {
		if r := other.do("/invalidate"); r.code != http.StatusOK || !r.clearsCookie() {
			t.Errorf("logout: %+v", r)
		}
	})
	login := c.do("/login?user=ann")
	if login.code != http.StatusOK || login.setsCookie() {
		t.Fatalf("a login that lost to a logout: %+v; want 200 and no cookie (the logout's response cleared it)", login)
	}
	if n := a.live(); n != 0 {
		t.Fatalf("%d live sessions after a logout that raced the login: the session came back", n)
	}
	if got := decode[map[string]any](t, c.mustGet("/keys")); got["new"] != true {
		t.Fatalf("still logged in after the logout: %v", got)
	}
}

func TestLogoutLoadedBeforeLoginFailsAfterIt(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	lDone := make(chan response)
	go func() { lDone <- c.do("/block?invalidate=1") }()
	<-a.entered
	c.do("/login?user=ann")
	close(a.block)
	if l := <-lDone; l.code != http.StatusConflict || l.setsCookie() {
		t.Fatalf("a logout that loaded the session before a login and ended it after: %+v; want 409, no cookie", l)
	}
	if err := <-a.errs; !errors.Is(err, session.ErrSessionMoved) {
		t.Fatalf("error handler got %v, want ErrSessionMoved", err)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=user")); got["v"] != "ann" {
		t.Fatalf("the login was undone by a logout that did not apply to it: %v", got)
	}
}

func TestOldIDAfterLoginIsUnknown(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	old := c.cookie().Value
	c.mustGet("/login?user=ann")

	stale := a.client()
	stale.setCookieValue(old)
	if got := decode[map[string]any](t, stale.mustGet("/keys")); got["new"] != true || got["keys"] != nil {
		t.Fatalf("the old id after the login: %v; want a new empty session", got)
	}
	// Reloading the login page, or submitting the form again, works.
	if r := stale.do("/login?user=bob"); r.code != http.StatusOK || !r.setsCookie() {
		t.Fatalf("a second login with the old id: %+v", r)
	}
	if got := decode[map[string]any](t, stale.mustGet("/get?k=cart")); got["ok"] != false {
		t.Fatalf("the old id reached the moved session's data: %v", got)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=user")); got["v"] != "ann" {
		t.Fatalf("the first login was disturbed: %v", got)
	}
	a.wantNoError()
}

func TestLogoutWhoseClientDisconnects(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=user&v=ann")
	cookie := c.cookie()

	handled := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slowlogout", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Invalidate()
		a.entered <- struct{}{}
		<-r.Context().Done() // the client hangs up before the response
	})
	inner := a.m.Middleware(mux)
	a.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handled)
		inner.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "/slowlogout", nil)
	req.Header.Set("Cookie", cookie.Name+"="+cookie.Value)
	go func() {
		<-a.entered
		cancel()
	}()
	a.srv.Config.Handler.ServeHTTP(httptest.NewRecorder(), req)
	<-handled
	if n := a.live(); n != 0 {
		t.Fatalf("a logout whose client disconnected left %d live sessions", n)
	}
}

func TestOneDeadlinePerCommit(t *testing.T) {
	a := newApp(t, session.Options{StoreTimeout: time.Hour})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	var mu sync.Mutex
	deadlines := map[time.Time]int{}
	h := func(ctx context.Context, op, key string) {
		if op == "get" {
			return // the load has its own
		}
		d, ok := ctx.Deadline()
		if !ok {
			t.Errorf("%s without a deadline", op)
		}
		mu.Lock()
		deadlines[d]++
		mu.Unlock()
	}
	a.store.hook.Store(&h)
	c.mustGet("/login?user=ann") // a write and a move: several store calls
	a.store.hook.Store(nil)
	if len(deadlines) != 1 {
		t.Fatalf("the login's store calls had %d deadlines (%v), want one for the whole commit", len(deadlines), deadlines)
	}
	for _, n := range deadlines {
		if n < 2 {
			t.Fatalf("the login made %d write calls; the test expects several", n)
		}
	}
}

func TestStoreErrorKeepsOuterHeaders(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	inner := a.srv.Config.Handler
	a.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		inner.ServeHTTP(w, r)
	})
	a.store.failWrites.Store(true)
	resp, err := c.c.Get(a.srv.URL + "/set?k=x&v=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("the error response lost the outer middleware's headers: %v", resp.Header)
	}
	<-a.errs
}

func TestMaxSize(t *testing.T) {
	a := newApp(t, session.Options{MaxSize: 4096})
	c := a.client()
	c.mustGet("/set?k=small&v=kept")
	big := strings.Repeat("x", 5000)
	r := c.do("/set?k=big&v=" + big)
	if r.code != http.StatusInternalServerError || r.setsCookie() {
		t.Fatalf("a save over MaxSize: %+v; want 500", r)
	}
	err := <-a.errs
	var tl *session.TooLargeError
	if !errors.Is(err, session.ErrTooLarge) || !errors.As(err, &tl) || tl.Max != 4096 || tl.Size <= 5000 {
		t.Fatalf("error %v (%#v), want a *TooLargeError with the size", err, tl)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=small")); got["v"] != "kept" {
		t.Fatalf("the stored record changed after a refused save: %v", got)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=big")); got["ok"] != false {
		t.Fatalf("the value over the limit was stored: %v", got)
	}
	// A new session over the limit is refused too, and stores nothing.
	fresh := a.client()
	if r := fresh.do("/set?k=big&v=" + big); r.code != http.StatusInternalServerError || r.setsCookie() {
		t.Fatalf("a new session over MaxSize: %+v", r)
	}
	<-a.errs
	if n := a.live(); n != 1 {
		t.Fatalf("%d live sessions, want 1", n)
	}
}

func TestNestedManagers(t *testing.T) {
	a := newApp(t, session.Options{})
	admin, err := session.New(session.Options{Store: a.store, Secrets: []string{secret}, CookieName: "admin", KeyPrefix: "admin:", Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/both", func(w http.ResponseWriter, r *http.Request) {
		if session.FromRequest(r) != admin.FromRequest(r) {
			t.Error("FromRequest is not the innermost manager's session")
		}
		a.m.FromRequest(r).Set("where", "site")
		admin.FromRequest(r).Set("where", "admin")
	})
	a.srv.Config.Handler = a.m.Middleware(admin.Middleware(mux))
	r := a.client().do("/both")
	if len(r.setCookie) != 2 || !strings.HasPrefix(r.setCookie[0], "admin=") && !strings.HasPrefix(r.setCookie[1], "admin=") {
		t.Fatalf("two nested managers: Set-Cookie %q, want one cookie each", r.setCookie)
	}
	if n := a.live(); n != 1 {
		t.Fatalf("the site manager sees %d sessions, want 1 (the admin's have their own prefix)", n)
	}
}

// TestLoginRaceRandomized runs, for several users at once, a login racing
// many note writes, at random, and checks the invariants: every
// acknowledged write is in the session the browser ends with, that session
// is the login's, and no response but the login's sets or clears the
// cookie. As with the CSRF check, a write is refused (403) when it does not
// reach an existing session, so a request that arrives with the old id
// after the move creates nothing.
func TestLoginRaceRandomized(t *testing.T) {
	a := newApp(t, session.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/note", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if s.IsNew() {
			http.Error(w, "no session", http.StatusForbidden)
			return
		}
		s.Set(r.FormValue("k"), "x")
	})
	mux.Handle("/", a.mux())
	a.srv.Config.Handler = a.m.Middleware(mux)
	const users, notes = 8, 25
	var wg sync.WaitGroup
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a.client()
			c.do("/set?k=seed&v=1")
			acked := map[string]bool{}
			var mu sync.Mutex
			var inner sync.WaitGroup
			for n := range notes {
				inner.Add(1)
				go func() {
					defer inner.Done()
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
					k := fmt.Sprintf("note%02d", n)
					r := c.do("/note?k=" + k)
					if r.setsCookie() {
						t.Errorf("user %d: a write that raced the login set or cleared the cookie: %+v", u, r)
					}
					switch r.code {
					case http.StatusOK:
						mu.Lock()
						acked[k] = true
						mu.Unlock()
					case http.StatusConflict, http.StatusForbidden:
					default:
						t.Errorf("user %d: note: status %d", u, r.code)
					}
				}()
			}
			time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
			login := c.do(fmt.Sprintf("/login?user=u%d", u))
			if login.code != http.StatusOK || !login.setsCookie() || login.clearsCookie() {
				t.Errorf("user %d: login %+v", u, login)
			}
			inner.Wait()
			if !strings.Contains(login.setCookie[0], c.cookie().Value) {
				t.Errorf("user %d: the browser does not hold the login's cookie", u)
			}
			got := decode[map[string]any](t, c.mustGet("/keys"))
			have := map[string]bool{}
			for _, k := range got["keys"].([]any) {
				have[k.(string)] = true
			}
			if !have["user"] || !have["seed"] {
				t.Errorf("user %d: the login's session lost data: %v", u, got["keys"])
			}
			for k := range acked {
				if !have[k] {
					t.Errorf("user %d: acknowledged write %s lost (keys %v)", u, k, got["keys"])
				}
			}
		}()
	}
	wg.Wait()
	// Drain the ErrSessionMoved reports of the refused writes.
	for {
		select {
		case err := <-a.errs:
			if !errors.Is(err, session.ErrSessionMoved) {
				t.Errorf("error handler: %v", err)
			}
		default:
			return
		}
	}
}

// A request that loaded the session, then saves a change after a logout
// and a new login (another tab), must not clear the browser's cookie: it
// is the new login's, and the late response would log the user out.
func TestLateWriteAfterLogoutKeepsTheNextLogin(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	c.mustGet("/set?k=cart&v=3")
	done := make(chan response)
	go func() { done <- c.do("/block?k=late") }()
	<-a.entered
	if r := c.do("/invalidate"); !r.clearsCookie() {
		t.Fatalf("logout %+v clears no cookie", r)
	}
	if r := c.do("/login?user=bob"); !r.setsCookie() {
		t.Fatalf("login %+v sets no cookie", r)
	}
	close(a.block)
	if r := <-done; r.code != http.StatusOK || r.setsCookie() {
		t.Fatalf("the late write to the ended session: %+v; want 200 and no cookie", r)
	}
	if got := decode[map[string]any](t, c.mustGet("/get?k=user")); got["v"] != "bob" {
		t.Fatalf("after a late write to the ended session, the next login is gone: %v", got)
	}
}
