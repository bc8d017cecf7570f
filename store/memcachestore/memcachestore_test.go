package memcachestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gobeaker/beaker/internal/childproc"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/storetest"
)

// servers returns BEAKER_TEST_MEMCACHED, the test servers in Beaker's
// spelling. When it is unset the test is skipped, unless
// BEAKER_TEST_REQUIRE_SERVICES=1 (scripts/test.sh sets it), which makes it
// fail.
func servers(t *testing.T) string {
	t.Helper()
	v := os.Getenv("BEAKER_TEST_MEMCACHED")
	if v == "" {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("BEAKER_TEST_MEMCACHED is not set and BEAKER_TEST_REQUIRE_SERVICES=1 (scripts/services/memcached.sh sets it)")
		}
		t.Skip("BEAKER_TEST_MEMCACHED is not set: no memcached to test against (scripts/test.sh starts two)")
	}
	return v
}

func open(t *testing.T, opts memcachestore.Options) *memcachestore.Store {
	t.Helper()
	s, err := memcachestore.Open(servers(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func unique(s string) string { return fmt.Sprintf("%s-%d", s, time.Now().UnixNano()) }

func TestConformance(t *testing.T) {
	if n := len(strings.Split(servers(t), ";")); n < 2 {
		t.Logf("only %d server: the suite does not spread keys", n)
	}
	s := open(t, memcachestore.Options{KeyPrefix: "memcachestore-test:"})
	storetest.Run(t, s, storetest.Options{
		TTL:     time.Second, // memcached counts whole seconds
		Abandon: func(l store.Lease) { l.(*memcachestore.Lease).Abandon() },
	})
}

// TestKeysSpreadOverServers checks that the store uses every server of its
// list, so that the conformance run covered both.
func TestKeysSpreadOverServers(t *testing.T) {
	list := servers(t)
	addrs, err := memcachestore.ParseServers(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) < 2 {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("BEAKER_TEST_MEMCACHED names one server only (%q); scripts/test.sh starts two", list)
		}
		t.Skipf("one server only: %q", list)
	}
	s := open(t, memcachestore.Options{})
	ctx := context.Background()
	base := unique("spread")
	for i := range 40 {
		if err := s.Set(ctx, base+strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range addrs {
		c := memcache.New(a)
		n := 0
		for i := range 40 {
			if _, err := c.Get(base + strconv.Itoa(i)); err == nil {
				n++
			}
		}
		if n == 0 || n == 40 {
			t.Errorf("server %s holds %d of 40 keys, want some but not all", a, n)
		}
	}
}

// TestAwkwardKeys stores keys that memcached refuses as they are: long,
// with spaces, with control characters, and keys that look like the
// store's own hashed keys. Each must round-trip and stay distinct.
func TestAwkwardKeys(t *testing.T) {
	s := open(t, memcachestore.Options{KeyPrefix: "awkward:"})
	ctx := context.Background()
	base := unique("k")
	keys := []string{
		base + strings.Repeat("x", 300),
		base + strings.Repeat("x", 301),
		base + " with spaces",
		base + "\x00\x01\n\x7f",
		base + "é ü",
		"beaker:h:" + base,
		"beaker:lock:" + base,
	}
	for i, k := range keys {
		if err := s.Set(ctx, k, []byte(strconv.Itoa(i)), time.Minute); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		e, found, err := s.Get(ctx, k)
		if err != nil || !found || string(e.Value) != strconv.Itoa(i) {
			t.Errorf("Get(%q) = %q, %v, %v; want %d", k, e.Value, found, err, i)
		}
		l, ok, err := s.TryLock(ctx, k, time.Minute)
		if err != nil || !ok {
			t.Fatalf("TryLock(%q) = %v, %v", k, ok, err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValueTooLarge(t *testing.T) {
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 2<<20)
	s := open(t, memcachestore.Options{})
	k := unique("big")
	if err := s.Set(ctx, k, big, 0); !errors.Is(err, memcachestore.ErrValueTooLarge) {
		t.Fatalf("Set of 2 MiB: %v, want ErrValueTooLarge", err)
	}
	err := s.Update(ctx, k, store.Entry{}, 0, func([]byte, bool) ([]byte, error) { return big, nil })
	if !errors.Is(err, memcachestore.ErrValueTooLarge) {
		t.Fatalf("Update to 2 MiB: %v, want ErrValueTooLarge", err)
	}
	// Without the client's check, the server's refusal gives the same error.
	unchecked := open(t, memcachestore.Options{MaxItemSize: -1})
	err = unchecked.Set(ctx, k, big, 0)
	if !errors.Is(err, memcachestore.ErrValueTooLarge) {
		t.Fatalf("Set of 2 MiB refused by the server: %v, want ErrValueTooLarge", err)
	}
	// The server's own error is wrapped too, not only quoted.
	if w, ok := err.(interface{ Unwrap() []error }); !ok || !slices.ContainsFunc(w.Unwrap(), func(e error) bool {
		return strings.Contains(e.Error(), "too large") && !errors.Is(e, memcachestore.ErrValueTooLarge)
	}) {
		t.Errorf("the server's refusal is not wrapped: %v", err)
	}
	// The connection that saw the refusal is not reused in a bad state.
	if err := unchecked.Set(ctx, k, []byte("small"), 0); err != nil {
		t.Fatal(err)
	}
	if e, _, err := unchecked.Get(ctx, k); err != nil || string(e.Value) != "small" {
		t.Fatalf("Get after a refused write = %q, %v", e.Value, err)
	}
}

// TestLongTTL checks that a ttl over 30 days is sent as an absolute time:
// sent as a relative number of seconds, memcached would read it as a Unix
// time in 1970 and the entry would be gone at once.
func TestLongTTL(t *testing.T) {
	s := open(t, memcachestore.Options{})
	ctx := context.Background()
	k := unique("long")
	for _, ttl := range []time.Duration{31 * 24 * time.Hour, 400 * 24 * time.Hour} {
		if err := s.Set(ctx, k, []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.Get(ctx, k); err != nil || !found {
			t.Fatalf("Get after Set with ttl %v = %v, %v; want found", ttl, found, err)
		}
		if found, err := s.Touch(ctx, k, ttl); err != nil || !found {
			t.Fatalf("Touch with ttl %v = %v, %v", ttl, found, err)
		}
		if _, found, err := s.Get(ctx, k); err != nil || !found {
			t.Fatalf("Get after Touch with ttl %v = %v, %v; want found", ttl, found, err)
		}
	}
}

func TestUpdateConcurrentAcrossStores(t *testing.T) {
	a := open(t, memcachestore.Options{})
	b := open(t, memcachestore.Options{})
	ctx := context.Background()
	k := unique("counter")
	const workers, rounds = 32, 5
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for _, s := range []*memcachestore.Store{a, b} {
		for range workers {
			wg.Go(func() {
				for range rounds {
					last, _, err := s.Get(ctx, k)
					if err == nil {
						err = s.Update(ctx, k, last, time.Minute, func(cur []byte, found bool) ([]byte, error) {
							n, _ := strconv.Atoi(string(cur))
							return []byte(strconv.Itoa(n + 1)), nil
						})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e, _, err := a.Get(ctx, k)
	if err != nil || string(e.Value) != strconv.Itoa(2*workers*rounds) {
		t.Fatalf("counter = %q, %v; want %d", e.Value, err, 2*workers*rounds)
	}
}

func TestLockAcrossStores(t *testing.T) {
	a := open(t, memcachestore.Options{})
	b := open(t, memcachestore.Options{})
	ctx := context.Background()
	name := unique("lock")
	la, ok, err := a.TryLock(ctx, name, time.Minute)
	if err != nil || !ok {
		t.Fatalf("a.TryLock = %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, name, time.Minute); err != nil || ok {
		t.Fatalf("b.TryLock while a holds the lock = %v, %v; want false, nil", ok, err)
	}
	got := make(chan error, 1)
	go func() {
		lb, err := b.Lock(ctx, name, time.Minute)
		if err == nil {
			err = lb.Release(ctx)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("b.Lock returned (%v) while a held the lock", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b.Lock did not get the lock after a released it")
	}

	var inside atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for _, s := range []*memcachestore.Store{a, b} {
		for range 10 {
			wg.Go(func() {
				for range 3 {
					l, err := s.Lock(ctx, name, time.Minute)
					if err != nil {
						errs <- err
						return
					}
					if inside.Add(1) != 1 {
						errs <- errors.New("two holders at once across stores")
					}
					time.Sleep(time.Millisecond)
					inside.Add(-1)
					if err := l.Release(ctx); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestLostWhenTokenGone(t *testing.T) {
	s := open(t, memcachestore.Options{KeyPrefix: "lost-test:"})
	ctx := context.Background()
	name := unique("lock")
	l, ok, err := s.TryLock(ctx, name, time.Second)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if err := s.Client().Delete("lost-test:beaker:lock:" + name); err != nil {
		t.Fatalf("deleting the lock key: %v (is the lock layout documented right?)", err)
	}
	select {
	case <-l.Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("Lost() did not close after the lock key was deleted")
	}
	if err := l.Release(ctx); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Release of a lost lease: %v, want ErrLeaseLost", err)
	}
}

// TestLockTakenDuringClose: a lock whose take is in flight when Close
// begins does not outlive Close. The hook runs Close once the lock is taken
// on the server, and lets the take go on once Close has begun: TryLock then
// returns ErrClosed, Close returns after it, and the lock is free.
func TestLockTakenDuringClose(t *testing.T) {
	opts := memcachestore.Options{KeyPrefix: unique("close-race") + ":"}
	s, err := memcachestore.Open(servers(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	storetest.LockTakenDuringClose(t, s, func(f func()) { memcachestore.SetLockTakenHook(s, f) }, memcachestore.Closing(s),
		func() store.Locker { return open(t, opts) }, memcachestore.ErrClosed)
}

func TestCloseStopsRenewals(t *testing.T) {
	list := servers(t)
	before := runtime.NumGoroutine()
	s, err := memcachestore.Open(list, memcachestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var leases []store.Lease
	for i := range 5 {
		l, err := s.Lock(ctx, unique("close")+strconv.Itoa(i), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		select {
		case <-l.Lost():
		default:
			t.Fatal("a lease's Lost() is open after Close")
		}
	}
	if _, _, err := s.TryLock(ctx, "after-close", time.Minute); !errors.Is(err, memcachestore.ErrClosed) {
		t.Fatalf("TryLock after Close: %v, want ErrClosed", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutage stops one of two private memcached servers under the store:
// calls for keys on it fail promptly, calls for keys on the other go on, and
// everything works again once the server is back.
func TestOutage(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("memcached is not installed")
		}
		t.Skip("memcached is not installed")
	}
	p1, p2 := freePort(t), freePort(t)
	start := func(port int) *exec.Cmd {
		cmd := exec.Command(bin, "-u", "nobody", "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "16")
		childproc.DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitPort(t, port)
		return cmd
	}
	stop := func(cmd *exec.Cmd) { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	s1, s2 := start(p1), start(p2)
	t.Cleanup(func() { stop(s1); stop(s2) })
	a1, a2 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)

	s, err := memcachestore.Open(a1+";"+a2, memcachestore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Find one key on each server.
	var onDown, onUp string
	direct := memcache.New(a1)
	for i := 0; onDown == "" || onUp == ""; i++ {
		k := "k" + strconv.Itoa(i)
		if err := s.Set(ctx, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := direct.Get(k); err == nil {
			onDown = k
		} else {
			onUp = k
		}
	}
	// And a lock whose key is on the server that will stop.
	var l store.Lease
	for i := 0; l == nil; i++ {
		name := "l" + strconv.Itoa(i)
		li, ok, err := s.TryLock(ctx, name, 1500*time.Millisecond)
		if err != nil || !ok {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		if _, err := direct.Get("beaker:lock:" + name); err == nil {
			l = li
		} else if err := li.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}

	stop(s1)
	ops := map[string]func() error{
		"Get":    func() error { _, _, err := s.Get(ctx, onDown); return err },
		"Set":    func() error { return s.Set(ctx, onDown, []byte("w"), 0) },
		"Delete": func() error { return s.Delete(ctx, onDown) },
		"Update": func() error {
			return s.Update(ctx, onDown, store.Entry{}, 0, func([]byte, bool) ([]byte, error) { return []byte("u"), nil })
		},
		"Touch": func() error { _, err := s.Touch(ctx, onDown, time.Minute); return err },
	}
	var slowest time.Duration
	for name, op := range ops {
		t0 := time.Now()
		if err := op(); err == nil {
			t.Errorf("%s against a stopped server: no error", name)
		}
		d := time.Since(t0)
		slowest = max(slowest, d)
		if d > 3*time.Second {
			t.Errorf("%s against a stopped server took %v", name, d)
		}
	}
	t.Logf("the slowest call against the stopped server failed after %v", slowest.Round(time.Millisecond))
	if e, found, err := s.Get(ctx, onUp); err != nil || !found || string(e.Value) != "v" {
		t.Fatalf("Get of a key on the server still up = %q, %v, %v", e.Value, found, err)
	}
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("a lease whose renewals fail was not declared lost")
	}

	s1 = start(p1)
	t0 := time.Now()
	for {
		err := s.Set(ctx, onDown, []byte("back"), 0)
		if err == nil {
			break
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("the store did not recover after the server restarted: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("recovered %v after the restart", time.Since(t0).Round(time.Millisecond))
	if e, found, err := s.Get(ctx, onDown); err != nil || !found || string(e.Value) != "back" {
		t.Fatalf("Get after recovery = %q, %v, %v", e.Value, found, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server on port %d: %v", port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseServers(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:11211":                      "127.0.0.1:11211",
		"h1:1;h2:2":                            "h1:1 h2:2",
		" h1:1 ; h2:2 ;":                       "h1:1 h2:2",
		"h1:1,h2:2":                            "h1:1 h2:2",
		"cachehost":                            "cachehost:11211",
		"[::1]:5000;[::1]":                     "[::1]:5000 [::1]:11211",
		"memcached://h:1":                      "h:1",
		"/run/memcached.sock;h:2":              "/run/memcached.sock h:2",
		"10.0.0.1:11211;10.0.0.2:11211;h3:300": "10.0.0.1:11211 10.0.0.2:11211 h3:300",
		// A value continued onto the next INI line keeps the line break.
		"10.0.0.1:11211;\n    10.0.0.2:11211": "10.0.0.1:11211 10.0.0.2:11211",
		"h1:1;\r\n\th2:2\n":                   "h1:1 h2:2",
		"h1:1\nh2:2\vh3:3\fh4:4\u00a0h5:5":    "h1:1 h2:2 h3:3 h4:4 h5:5",
		// python-memcache's server strings (memcache.py, _Host).
		"unix:/var/run/memcached.sock":       "/var/run/memcached.sock",
		"unix:memcached.sock":                "./memcached.sock",
		"unix:./run/mc.sock;h:1":             "./run/mc.sock h:1",
		"inet:127.0.0.1:11211":               "127.0.0.1:11211",
		"inet:cachehost":                     "cachehost:11211",
		"inet6:[::1]:11211":                  "[::1]:11211",
		"inet6:[2001:db8::7]":                "[2001:db8::7]:11211",
		"[fe80::1%eth0]:5000":                "[fe80::1%eth0]:5000",
		"memcached://inet6:[::1]:5;inet:h:6": "[::1]:5 h:6",
	} {
		got, err := memcachestore.ParseServers(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("ParseServers(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ; ", "h:x", "h:0", "h:70000", "::1", "h:1:2", "user@h:1", "h:", "h:+5",
		"inet6:[::1]:x", "inet6:::1", "inet6:::1:11211", "inet6:[cachehost]:1", "inet6:[::1]x", "inet6:[::1",
		"inet:[::1]:1", "inet:::1", "[cachehost]:1", "[1.2.3.4]:1", "[::1]]:1", "[[::1]]:1", "[::1]:1:2", "unix:",
		"inet:h/x:1", "tcp:h:1"} {
		if got, err := memcachestore.ParseServers(in); !errors.Is(err, memcachestore.ErrInvalidURL) {
			t.Errorf("ParseServers(%q) = %q, %v; want an error wrapping ErrInvalidURL", in, got, err)
		}
	}
}

// TestServerAddresses: gomemcache's ServerList, which Open hands the
// addresses, reads each form as the server it names: a Unix socket for
// unix:, TCP to the IPv6 address for inet6:.
func TestServerAddresses(t *testing.T) {
	addrs, err := memcachestore.ParseServers("unix:/var/run/memcached.sock;unix:mc.sock;inet:127.0.0.1:11211;inet6:[::1]:11212;[::1]")
	if err != nil {
		t.Fatal(err)
	}
	var ss memcache.ServerList
	if err := ss.SetServers(addrs...); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = ss.Each(func(a net.Addr) error { got = append(got, a.Network()+" "+a.String()); return nil })
	want := []string{"unix /var/run/memcached.sock", "unix ./mc.sock", "tcp 127.0.0.1:11211", "tcp [::1]:11212", "tcp [::1]:11211"}
	if !slices.Equal(got, want) {
		t.Errorf("the ServerList holds %q, want %q", got, want)
	}
}

// TestPythonMemcacheForms runs a store on a memcached listening on a Unix
// socket and one on IPv6 [::1] (127.0.0.1 on a machine without an IPv6
// loopback), named as python-memcache names them (unix:/path, and
// inet6:[::1]:port or inet:127.0.0.1:port), and finds its keys on both.
func TestPythonMemcacheForms(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("memcached is not installed")
		}
		t.Skip("memcached is not installed")
	}
	// The second server on the IPv6 loopback (inet6:), or, on a machine
	// without one, on 127.0.0.1 (inet:).
	host, form := "::1", "inet6:[::1]:%d"
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Logf("no IPv6 loopback (%v): the inet: form instead", err)
		host, form = "127.0.0.1", "inet:127.0.0.1:%d"
		if l, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	dir, err := os.MkdirTemp("", "mc") // short: a socket's path is at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // memcached -u nobody makes the socket
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "mc.sock")
	args := []string{"-U", "0", "-m", "16"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root without it
	}
	for _, listen := range [][]string{{"-s", sock, "-a", "0777"}, {"-l", host, "-p", strconv.Itoa(port)}} {
		cmd := exec.Command(bin, append(slices.Clone(args), listen...)...)
		childproc.DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	waitDial(t, "unix", sock)
	waitDial(t, "tcp", addr)

	s, err := memcachestore.Open(fmt.Sprintf("unix:%s;"+form, sock, port), memcachestore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 20 {
		if err := s.Set(ctx, "k"+strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{sock, addr} {
		c := memcache.New(a)
		n := 0
		for i := range 20 {
			if _, err := c.Get("k" + strconv.Itoa(i)); err == nil {
				n++
			}
		}
		if n == 0 || n == 20 {
			t.Errorf("the server at %s holds %d of 20 keys, want some but not all", a, n)
		}
	}
}

func waitDial(t *testing.T, network, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server at %s %s: %v", network, addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOpenContinuedLine: a server list continued onto a second INI line
// ("a:11211;" then "    b:11211") opens and serves, on both servers.
func TestOpenContinuedLine(t *testing.T) {
	addrs, err := memcachestore.ParseServers(servers(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := memcachestore.Open(strings.Join(addrs, ";\n    "), memcachestore.Options{KeyPrefix: "continued:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	base := unique("continued")
	for i := range 20 {
		if err := s.Set(ctx, base+strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range addrs {
		c := memcache.New(a)
		n := 0
		for i := range 20 {
			if _, err := c.Get("continued:" + base + strconv.Itoa(i)); err == nil {
				n++
			}
		}
		if len(addrs) > 1 && (n == 0 || n == 20) {
			t.Errorf("server %s holds %d of 20 keys, want some but not all", a, n)
		}
	}
}

// TestParseServersHidesPassword: memcached takes no password, but a list
// may hold one by mistake (SASL users); no error quotes it, nor a piece of
// it when it holds a separator (',', ';', ' ').
func TestParseServersHidesPassword(t *testing.T) {
	for _, in := range []string{
		"memcached://u:Qx7@h:11211",
		"u:Qx7@h",
		"h:1;u:Qx7@h2:2",
		"h:x;u:Qx7@h2:2",
		"u:Qx7a,Qx7b@h",
		"u:Qx7a Qx7b@h:1",
		"h:1;u:Qx7a;Qx7b@h2",
		"u:Qx7a;/Qx7b@h",
	} {
		_, err := memcachestore.ParseServers(in)
		if !errors.Is(err, memcachestore.ErrInvalidURL) {
			t.Errorf("ParseServers(%q): %v, want an error wrapping ErrInvalidURL", in, err)
		} else if strings.Contains(err.Error(), "Qx7") {
			t.Errorf("ParseServers(%q) shows the password: %v", in, err)
		}
		if _, err := memcachestore.Open(in, memcachestore.Options{}); err == nil || strings.Contains(err.Error(), "Qx7") {
			t.Errorf("Open(%q): %v, want an error that hides the password", in, err)
		}
	}
}

// TestOpenUnresolvableHost: a server name that does not resolve is not an
// invalid server list: Open's error wraps the resolver's.
func TestOpenUnresolvableHost(t *testing.T) {
	_, err := memcachestore.Open("no-such-host.invalid:11211", memcachestore.Options{})
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || errors.Is(err, memcachestore.ErrInvalidURL) {
		t.Errorf("Open with a host that does not resolve: %v, want a *net.DNSError and not ErrInvalidURL", err)
	}
}

func TestOptionsFromConfig(t *testing.T) {
	o, err := memcachestore.OptionsFromConfig(store.Config{
		Use: "cache", Type: "ext:memcached", Timeout: 3 * time.Second,
		Params: map[string]string{"memcached.key_prefix": "app1:", "memcached.max_idle_conns": "200",
			"memcached.max_item_size": "2m", "other": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.KeyPrefix != "app1:" || o.MaxIdleConns != 200 || o.MaxItemSize != 2<<20 || o.Timeout != 3*time.Second {
		t.Fatalf("OptionsFromConfig = %+v", o)
	}
	if _, err := memcachestore.OptionsFromConfig(store.Config{Params: map[string]string{"memcached.max_idle_conns": "many"}}); !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("OptionsFromConfig with a max_idle_conns that is not a number: %v, want it to wrap strconv.ErrSyntax", err)
	}
	for _, p := range []map[string]string{
		{"memcached.max_idle_conns": "many"}, {"memcached.max_idle_conns": "-1"},
		{"memcached.max_item_size": "0"}, {"memcached.max_item_size": "1g"},
		{"memcached.key_prefix": "has space"}, {"memcached.prefix": "x"},
	} {
		_, err := memcachestore.OptionsFromConfig(store.Config{Type: "ext:memcached", Params: p})
		if !errors.Is(err, memcachestore.ErrInvalidOptions) {
			t.Errorf("OptionsFromConfig(%v): %v, want ErrInvalidOptions", p, err)
		}
	}
	if _, err := memcachestore.New(memcache.New("h:1"), memcachestore.Options{KeyPrefix: "a b"}); !errors.Is(err, memcachestore.ErrInvalidOptions) {
		t.Errorf("New with a key prefix holding a space: %v, want ErrInvalidOptions", err)
	}
	d := memcachestore.Driver()
	if _, err := d.Open(context.Background(), store.Config{Type: "ext:memcached", URL: ";"}); !errors.Is(err, memcachestore.ErrInvalidURL) {
		t.Errorf("Driver().Open with no server: %v", err)
	}
}

func TestDriverOpen(t *testing.T) {
	list := servers(t)
	st, err := memcachestore.Driver().Open(context.Background(), store.Config{
		Use: "session", Type: "ext:memcached", URL: list, Params: map[string]string{"memcached.key_prefix": "driver-test:"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*memcachestore.Store)
	defer s.Close()
	ctx := context.Background()
	k := unique("k")
	if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Get("driver-test:" + k); err != nil {
		t.Fatalf("the key prefix from Params was not used: %v", err)
	}
}

// TestHungServer points the store at a server that accepts connections and
// never answers: calls must fail within the configured timeout (gomemcache
// sets it as the socket deadline), not hang.
func TestHungServer(t *testing.T) {
	addr := hungServer(t)
	s, err := memcachestore.Open(addr, memcachestore.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	_, _, err = s.Get(context.Background(), "k")
	d := time.Since(t0)
	if err == nil {
		t.Fatal("Get against a server that never answers: no error")
	}
	if d > 2*time.Second {
		t.Fatalf("Get against a server that never answers took %v with a 200ms timeout", d)
	}
	t.Logf("failed after %v: %v", d.Round(time.Millisecond), err)
}

// hungServer listens on a free port, accepts connections and never writes.
func hungServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
