package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gobeaker/beaker/internal/childproc"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/storetest"
)

// serverURL returns the value of the environment variable that names a test
// server. When it is unset the test is skipped, unless
// BEAKER_TEST_REQUIRE_SERVICES=1 (scripts/test.sh sets it), which makes it
// fail.
func serverURL(t *testing.T, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is not set and BEAKER_TEST_REQUIRE_SERVICES=1 (scripts/services/redis.sh sets it)", env)
		}
		t.Skipf("%s is not set: no Redis server to test against (scripts/test.sh starts one)", env)
	}
	return v
}

func open(t *testing.T, env string, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(serverURL(t, env), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func abandon(l store.Lease) { l.(*redisstore.Lease).Abandon() }

func TestConformance(t *testing.T) {
	for _, c := range []struct{ name, env string }{
		{"Single", "BEAKER_TEST_REDIS_URL"},
		{"Sentinel", "BEAKER_TEST_REDIS_SENTINEL"},
		{"Cluster", "BEAKER_TEST_REDIS_CLUSTER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, c.env, redisstore.Options{KeyPrefix: "redisstore-test:"})
			storetest.Run(t, s, storetest.Options{Abandon: abandon})
		})
	}
}

// TestClusterSpreadsKeys checks that the Cluster store really uses every
// master, so that the conformance run above covered more than one node.
func TestClusterSpreadsKeys(t *testing.T) {
	s := open(t, "BEAKER_TEST_REDIS_CLUSTER", redisstore.Options{})
	cc, ok := s.Client().(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", s.Client())
	}
	ctx := context.Background()
	prefix := fmt.Sprintf("spread-%d:", time.Now().UnixNano())
	for i := range 30 {
		if err := s.Set(ctx, prefix+strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	perMaster := map[string]int{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		perMaster[c.Options().Addr] = len(keys)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perMaster) < 3 {
		t.Fatalf("masters: %v, want 3", perMaster)
	}
	for addr, n := range perMaster {
		if n == 0 {
			t.Errorf("master %s holds none of 30 keys: %v", addr, perMaster)
		}
	}
	n := 0
	if err := s.Scan(ctx, prefix, func(string) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 30 {
		t.Fatalf("Scan over the Cluster found %d keys, want 30", n)
	}
}

// countHook counts the round trips a client makes: one per command, one per
// pipeline.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// TestRoundTrips checks the costs that the session layer relies on: a read
// is one round trip, an update with the version of that read is one more,
// and a touch is one.
func TestRoundTrips(t *testing.T) {
	for _, c := range []struct{ name, env string }{
		{"Single", "BEAKER_TEST_REDIS_URL"},
		{"Cluster", "BEAKER_TEST_REDIS_CLUSTER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, c.env, redisstore.Options{})
			ctx := context.Background()
			k := fmt.Sprintf("roundtrips-%d", time.Now().UnixNano())
			if err := s.Set(ctx, k, []byte("a"), time.Minute); err != nil {
				t.Fatal(err)
			}
			// Load the update script once: a first use costs a NOSCRIPT
			// reply and an EVAL, once per server and process.
			if err := s.Update(ctx, k, store.Entry{}, time.Minute, func(cur []byte, _ bool) ([]byte, error) { return cur, nil }); err != nil {
				t.Fatal(err)
			}
			h := &countHook{}
			s.Client().AddHook(h)
			count := func(what string, want int64, f func()) {
				t.Helper()
				before := h.n.Load()
				f()
				if got := h.n.Load() - before; got != want {
					t.Errorf("%s: %d round trips, want %d", what, got, want)
				}
			}
			var e store.Entry
			count("Get", 1, func() {
				var err error
				if e, _, err = s.Get(ctx, k); err != nil {
					t.Fatal(err)
				}
			})
			if e.Expires.IsZero() || time.Until(e.Expires) > time.Minute {
				t.Errorf("Expires = %v, want within a minute", e.Expires)
			}
			count("Update with the version of a Get", 1, func() {
				err := s.Update(ctx, k, e, time.Minute, func(cur []byte, _ bool) ([]byte, error) {
					return append(append([]byte(nil), cur...), 'b'), nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
			count("Touch", 1, func() {
				if _, err := s.Touch(ctx, k, time.Minute); err != nil {
					t.Fatal(err)
				}
			})
			// A stale version: the conflict reply carries the current value,
			// so the retry needs no separate read.
			count("Update with a stale version", 2, func() {
				err := s.Update(ctx, k, e, time.Minute, func(cur []byte, _ bool) ([]byte, error) {
					return append(append([]byte(nil), cur...), 'c'), nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
			got, _, err := s.Get(ctx, k)
			if err != nil || string(got.Value) != "abc" {
				t.Fatalf("Get = %q, %v; want \"abc\"", got.Value, err)
			}
		})
	}
}

// TestForeignValue checks that a value that the store did not write (by
// another program sharing the server) reads as missing and is replaced by
// an update.
func TestForeignValue(t *testing.T) {
	s := open(t, "BEAKER_TEST_REDIS_URL", redisstore.Options{})
	ctx := context.Background()
	k := fmt.Sprintf("foreign-%d", time.Now().UnixNano())
	for _, v := range []string{"", "x", "plain text that is long enough"} {
		if err := s.Client().Set(ctx, k, v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.Get(ctx, k); err != nil || found {
			t.Fatalf("Get of a foreign value %q = found %v, %v; want missing", v, found, err)
		}
		err := s.Update(ctx, k, store.Entry{}, time.Minute, func(cur []byte, found bool) ([]byte, error) {
			if found {
				return nil, errors.New("fn saw a foreign value as found")
			}
			return []byte("mine"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if e, found, err := s.Get(ctx, k); err != nil || !found || string(e.Value) != "mine" {
			t.Fatalf("Get after Update = %q, %v, %v", e.Value, found, err)
		}
	}
}

// TestUpdateConcurrentAcrossStores has two stores, as two processes would,
// increment one counter from 32 goroutines each.
func TestUpdateConcurrentAcrossStores(t *testing.T) {
	for _, c := range []struct{ name, env string }{
		{"Single", "BEAKER_TEST_REDIS_URL"},
		{"Cluster", "BEAKER_TEST_REDIS_CLUSTER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := open(t, c.env, redisstore.Options{})
			b := open(t, c.env, redisstore.Options{})
			ctx := context.Background()
			k := fmt.Sprintf("counter-%d", time.Now().UnixNano())
			const workers, rounds = 32, 5
			var wg sync.WaitGroup
			errs := make(chan error, 2*workers)
			for _, s := range []*redisstore.Store{a, b} {
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
		})
	}
}

// TestLockAcrossStores checks mutual exclusion between two stores with
// their own clients, as two processes would hold them.
func TestLockAcrossStores(t *testing.T) {
	a := open(t, "BEAKER_TEST_REDIS_URL", redisstore.Options{})
	b := open(t, "BEAKER_TEST_REDIS_URL", redisstore.Options{})
	ctx := context.Background()
	name := fmt.Sprintf("lock-%d", time.Now().UnixNano())
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

	// Mutual exclusion under contention, 10 goroutines on each store.
	var inside atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for _, s := range []*redisstore.Store{a, b} {
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

// TestLostWhenTokenGone checks that a holder learns when its lock was taken
// away behind its back (here: deleted by an operator), at its next renewal.
func TestLostWhenTokenGone(t *testing.T) {
	s := open(t, "BEAKER_TEST_REDIS_URL", redisstore.Options{KeyPrefix: "lost-test:"})
	ctx := context.Background()
	name := fmt.Sprintf("lock-%d", time.Now().UnixNano())
	l, ok, err := s.TryLock(ctx, name, 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	n, err := s.Client().Del(ctx, "lost-test:beaker:lock:"+name).Result()
	if err != nil || n != 1 {
		t.Fatalf("deleting the lock key: %d, %v (is the lock layout documented right?)", n, err)
	}
	select {
	case <-l.Lost():
	case <-time.After(2 * time.Second):
		t.Fatal("Lost() did not close after the lock key was deleted")
	}
	if err := l.Release(ctx); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Release of a lost lease: %v, want ErrLeaseLost", err)
	}
}

// TestCloseStopsRenewals checks that Close stops every renewal goroutine and
// closes the Lost channels of the leases still held.
func TestCloseStopsRenewals(t *testing.T) {
	url := serverURL(t, "BEAKER_TEST_REDIS_URL")
	before := runtime.NumGoroutine()
	s, err := redisstore.Open(url, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var leases []store.Lease
	for i := range 5 {
		l, err := s.Lock(ctx, fmt.Sprintf("close-%d-%d", time.Now().UnixNano(), i), time.Minute)
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
	if _, _, err := s.TryLock(ctx, "after-close", time.Minute); !errors.Is(err, redisstore.ErrClosed) {
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

// TestLockTakenDuringClose: a lock whose take is in flight when Close
// begins does not outlive Close. The hook runs Close once the lock is taken
// on the server, and lets the take go on once Close has begun: TryLock then
// returns ErrClosed, Close returns after it, and the lock is free.
func TestLockTakenDuringClose(t *testing.T) {
	url := serverURL(t, "BEAKER_TEST_REDIS_URL")
	opts := redisstore.Options{KeyPrefix: fmt.Sprintf("close-race-%d:", time.Now().UnixNano())}
	s, err := redisstore.Open(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	storetest.LockTakenDuringClose(t, s, func(f func()) { redisstore.SetLockTakenHook(s, f) }, redisstore.Closing(s),
		func() store.Locker { return open(t, "BEAKER_TEST_REDIS_URL", opts) }, redisstore.ErrClosed)
}

// redisServer returns the path of redis-server, for a test that starts a
// server of its own; without one, the test fails under
// BEAKER_TEST_REQUIRE_SERVICES=1 and skips otherwise.
func redisServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	return bin
}

// TestOutage stops a private Redis server under the store: calls must fail
// promptly (not hang), and work again once the server is back, with the
// same store.
func TestOutage(t *testing.T) {
	bin := redisServer(t)
	port := freePort(t)
	dir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "",
			"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "log"))
		childproc.DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitPort(t, port)
		return cmd
	}
	srv := start()
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })

	s, err := redisstore.Open(fmt.Sprintf("redis://127.0.0.1:%d/0", port), redisstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.TryLock(ctx, "held", 600*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}

	_ = srv.Process.Kill()
	_ = srv.Wait()
	ops := map[string]func() error{
		"Get":    func() error { _, _, err := s.Get(ctx, "k"); return err },
		"Set":    func() error { return s.Set(ctx, "k", []byte("w"), 0) },
		"Delete": func() error { return s.Delete(ctx, "other") },
		"Update": func() error {
			return s.Update(ctx, "k", store.Entry{}, 0, func([]byte, bool) ([]byte, error) { return []byte("u"), nil })
		},
		"Touch":   func() error { _, err := s.Touch(ctx, "k", time.Minute); return err },
		"TryLock": func() error { _, _, err := s.TryLock(ctx, "x", time.Minute); return err },
	}
	var slowest time.Duration
	for name, op := range ops {
		t0 := time.Now()
		err := op()
		if err == nil {
			t.Errorf("%s against a stopped server: no error", name)
		}
		d := time.Since(t0)
		slowest = max(slowest, d)
		if d > 3*time.Second {
			t.Errorf("%s against a stopped server took %v", name, d)
		}
	}
	t.Logf("the slowest call against the stopped server failed after %v", slowest.Round(time.Millisecond))
	// Renewals fail: the lease is lost once a whole lease has passed.
	select {
	case <-l.Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("a lease whose renewals fail was not declared lost")
	}

	srv = start()
	t0 := time.Now()
	for {
		err := s.Set(ctx, "k", []byte("back"), 0)
		if err == nil {
			break
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("the store did not recover after the server restarted: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("recovered %v after the restart", time.Since(t0).Round(time.Millisecond))
	if e, found, err := s.Get(ctx, "k"); err != nil || !found || string(e.Value) != "back" {
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

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in      string
		cluster bool
		want    string // addrs|db|master|user|pass|tls|clustermode
	}{
		{"redis://127.0.0.1:6380/2", false, "127.0.0.1:6380|2|||||false"},
		{"redis://localhost", false, "localhost:6379|0|||||false"},
		{"redis://u:p%40ss@h:1/0?pool_size=7", false, "h:1|0||u|p@ss||false"},
		{"rediss://h:1", false, "h:1|0||||tls|false"},
		{"h:7000", false, "h:7000|0|||||false"},
		{"redis://h:7000", true, "h:7000|0|||||true"},
		{"h1:1,h2:2,h3:3", false, "h1:1,h2:2,h3:3|0|||||false"},
		{"redis://:pw@h1:1,h2:2/0", false, "h1:1,h2:2|0|||pw||false"},
		{"redis://u:p@ss@h1:1,h2:2", false, "h1:1,h2:2|0||u|p@ss||false"},
		{"redis://h1:1,redis://h2:2", true, "h1:1,h2:2|0|||||true"},
		{"redis://node-1:7001, redis://node-2:7002", false, "node-1:7001,node-2:7002|0|||||false"},
		{"redis+sentinel://s1:26379,s2/mymaster/3", false, "s1:26379,s2:26379|3|mymaster||||false"},
		{"redis+sentinel://u:p@s1/m", false, "s1:26379|0|m|u|p||false"},
		{"rediss+sentinel://s1/m", false, "s1:26379|0|m|||tls|false"},
		{"unix:///run/redis.sock?db=4", false, "/run/redis.sock|4|||||false"},
	} {
		o, err := redisstore.ParseURL(c.in, c.cluster)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		tlsOn := ""
		if o.TLSConfig != nil {
			tlsOn = "tls"
		}
		got := fmt.Sprintf("%s|%d|%s|%s|%s|%s|%v", strings.Join(o.Addrs, ","), o.DB, o.MasterName,
			o.Username, o.Password, tlsOn, o.IsClusterMode)
		if got != c.want {
			t.Errorf("ParseURL(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if o, _ := redisstore.ParseURL("redis://h/0?pool_size=7", false); o == nil || o.PoolSize != 7 {
		t.Errorf("a query option of a single server's URL was not kept: %+v", o)
	}
	// Every option that go-redis's ParseURL takes reaches the client.
	o, err := redisstore.ParseURL("redis://h/0?protocol=2&client_name=app&max_retries=3&min_retry_backoff=1ms&max_retry_backoff=2ms"+
		"&dial_timeout=3s&read_timeout=4s&write_timeout=5s&pool_fifo=true&pool_size=6&pool_timeout=7s"+
		"&min_idle_conns=1&max_idle_conns=8&max_active_conns=9&max_concurrent_dials=2"+
		"&pipeline_pool_size=-1&pipeline_read_buffer_size=4096&pipeline_write_buffer_size=8192"+
		"&conn_max_idle_time=10s&conn_max_lifetime=1h&conn_max_lifetime_jitter=5m", false)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintln(o.Protocol, o.ClientName, o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff,
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolFIFO, o.PoolSize, o.PoolTimeout,
		o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns, o.MaxConcurrentDials,
		o.PipelinePoolSize, o.PipelineReadBufferSize, o.PipelineWriteBufferSize,
		o.ConnMaxIdleTime, o.ConnMaxLifetime, o.ConnMaxLifetimeJitter)
	if want := "2 app 3 1ms 2ms 3s 4s 5s true 6 7s 1 8 9 2 -1 4096 8192 10s 1h0m0s 5m0s\n"; got != want {
		t.Errorf("the query options of a single server's URL:\n got %s want %s", got, want)
	}
	for _, in := range []string{
		"", "http://h:1", "redis://h:1/x", "h1:1,h2:2/3", "h1:1,h2:notaport",
		"redis://h1:1,h2:2?pool_size=x", "redis://h1:1,h2:2?bogus=1", "redis://h1:1,h2:2?db=3", "redis://h1:1,h2:2#f",
		"redis://h1:1?socket_timeout=5,redis://h2:2?socket_timeout=6", "redis+sentinel://s1/m?bogus=1",
		"redis+sentinel://s1/m?db=x", "redis+sentinel://s1/m#f", "redis+sentinel://s1", "redis+sentinel://s1/m/x",
		"redis+sentinel://s1/m/1/2", "redis://h1:1,http://h2:2", "redis://h:1/2", "redis+sentinel://s1:x/m",
	} {
		cluster := in == "redis://h:1/2"
		if o, err := redisstore.ParseURL(in, cluster); !errors.Is(err, redisstore.ErrInvalidURL) {
			t.Errorf("ParseURL(%q) = %+v, %v; want an error wrapping ErrInvalidURL", in, o, err)
		}
	}
	_, err = redisstore.ParseURL("redis://user:secret@h:1/x", false)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestParseURLHidesPassword checks that no error of ParseURL, in any of its
// forms, shows the password, or a piece of it when the password holds a
// character that ends the part of the URL it is in (',', '/', '?', '@').
// Every piece of every password below holds "Qx7", and no other part of
// the URLs does.
func TestParseURLHidesPassword(t *testing.T) {
	for _, in := range []string{
		// One server: errors of url.Parse and of go-redis.
		"redis://user:Qx7hunter2@h:notaport/",
		"redis://:Qx7hunter2%zz@h:6379/",
		"redis://u:Qx7a/Qx7b@h:6379/0",
		"redis://u:Qx7a?Qx7b@h:6379",
		"redis://u:7?Qx7b=1@h:6379",
		"redis://u:Qx7a#Qx7b@h:6379",
		"redis://u:Qx7@h:6379/notanumber",
		"redis://u:Qx7@h:6379/0?pool_size=x",
		"rediss://u:Qx7@h:6379?bogus=1",
		"redis://u:Qx7\x01@h:6379",
		"unix://u:Qx7@/tmp/redis.sock?db=x",
		// redis-py's password option, in the query.
		"unix:///tmp/redis.sock?db=x&password=Qx7",
		"unix:///tmp/redis.sock?password=Qx7a&Qx7b&db=x",
		"redis://h:notaport/?password=Qx7",
		"redis://h:6379/0?Password=Qx7&bogus=1",
		"redis://h:6379/0?pass%77ord=Qx7&bogus=1",
		"redis://u:Qx7@h:6379/2",
		// A list of nodes.
		"redis://u:Qx7@h1:1,h2:notaport",
		"redis://u:Qx7a,Qx7b@h1,h2",
		"redis://u:Qx7a,5@h1,h2",
		"redis://u:Qx7a/5,Qx7b@h1,h2",
		"redis://u:Qx7%zz@h1,h2",
		"redis://u:Qx7a@h1,u:Qx7b@h2",
		"redis://u:Qx7@h1,ftp://h2",
		"redis://u:Qx7@h1/3,h2",
		"redis://u:Qx7@h1,h2?pool_size=x",
		"redis://u:Qx7@h1,h2?password=Qx7&db=3",
		"redis://u:Qx7a?Qx7b@h1,h2",
		"h1:1,u:Qx7@h2:bad",
		"u:Qx7@h://x",
		// Sentinel.
		"redis+sentinel://u:Qx7@s1:bad/m",
		"redis+sentinel://u:Qx7a/Qx7b@s1/m",
		"redis+sentinel://u:Qx7@s1",
		"redis+sentinel://u:Qx7%zz@s1/m",
		"redis+sentinel://u:Qx7@s1/m/x",
		"redis+sentinel://u:Qx7@s1/m/1/2",
		"redis+sentinel://u:Qx7@s1/m?x=1",
		"redis+sentinel://s1/m?password=Qx7&pool_size=x",
		"redis+sentinel://u:Qx7a?Qx7b@s1/m",
		// An '@' in the query's password is not the end of user info.
		"redis://host:6379/0?password=Qx7a@Qx7b&socket_timeout=x",
		"redis://h1,h2?password=Qx7a@Qx7b&socket_timeout=x",
		// The TLS options: a path that may be a piece of a password is
		// not shown, nor is ssl_password.
		"rediss://u:1?ssl_ca_certs=Qx7@h:6380",
		"rediss://h:6380/0?password=Qx7a&ssl_ca_certs=Qx7b",
		"rediss://h:6380/0?password=Qx7a&ssl_ca_data=Qx7b",
		"rediss://h:6380/0?ssl_certfile=/nonexistent/c.pem&password=Qx7a&ssl_keyfile=Qx7b",
		"rediss://u:Qx7@h:6380/0?ssl_certfile=/nonexistent/c.pem",
		"rediss://u:Qx7@h1,h2?ssl_ca_path=/nonexistent",
		"rediss+sentinel://u:Qx7@s1/m?ssl_ca_certs=/nonexistent/ca.pem",
		"rediss://h:6380/0?ssl_password=Qx7&ssl_certfile=/nonexistent/c.pem",
		"redis://u:Qx7@h/0?ssl_ca_certs=/etc/ca.pem",
	} {
		failed := false
		for _, cluster := range []bool{false, true} {
			_, err := redisstore.ParseURL(in, cluster)
			if err == nil {
				continue
			}
			failed = true
			if !errors.Is(err, redisstore.ErrInvalidURL) {
				t.Errorf("ParseURL(%q): %v does not wrap ErrInvalidURL", in, err)
			}
			if strings.Contains(err.Error(), "Qx7") {
				t.Errorf("ParseURL(%q, %v) shows the password: %v", in, cluster, err)
			}
		}
		if !failed {
			t.Errorf("ParseURL(%q) succeeded", in)
		}
	}
}

func TestOptionsFromConfig(t *testing.T) {
	o, err := redisstore.OptionsFromConfig(store.Config{
		Use: "session", Type: "ext:rediscluster", Timeout: 3 * time.Second,
		Params: map[string]string{"redis.key_prefix": "app1:", "redis.pool_size": "50", "redis.max_retries": "-1", "other": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.KeyPrefix != "app1:" || o.PoolSize != 50 || o.MaxRetries != -1 || !o.Cluster || o.Timeout != 3*time.Second {
		t.Fatalf("OptionsFromConfig = %+v", o)
	}
	if _, err := redisstore.OptionsFromConfig(store.Config{Params: map[string]string{"redis.pool_size": "many"}}); !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("OptionsFromConfig with a pool_size that is not a number: %v, want it to wrap strconv.ErrSyntax", err)
	}
	for _, p := range []map[string]string{
		{"redis.pool_size": "many"}, {"redis.pool_size": "-1"}, {"redis.max_retries": "-2"}, {"redis.poolsize": "5"},
	} {
		_, err := redisstore.OptionsFromConfig(store.Config{Type: "ext:redis", Params: p})
		if !errors.Is(err, redisstore.ErrInvalidOptions) {
			t.Errorf("OptionsFromConfig(%v): %v, want ErrInvalidOptions", p, err)
		}
	}
	d := redisstore.Driver()
	if _, err := d.Open(context.Background(), store.Config{Type: "ext:redis", URL: "http://x"}); !errors.Is(err, redisstore.ErrInvalidURL) {
		t.Errorf("Driver().Open with a bad URL: %v", err)
	}
}

func TestDriverOpen(t *testing.T) {
	url := serverURL(t, "BEAKER_TEST_REDIS_URL")
	st, err := redisstore.Driver().Open(context.Background(), store.Config{
		Use: "session", Type: "ext:redis", URL: url, Params: map[string]string{"redis.key_prefix": "driver-test:"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*redisstore.Store)
	defer s.Close()
	ctx := context.Background()
	k := fmt.Sprintf("k-%d", time.Now().UnixNano())
	if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Client().Exists(ctx, "driver-test:"+k).Result(); err != nil || n != 1 {
		t.Fatalf("the key prefix from Params was not used: %d, %v", n, err)
	}
}

// TestHungServer points the store at a server that accepts connections and
// never answers: calls must fail within the configured timeout (and
// go-redis's one retry), not hang.
func TestHungServer(t *testing.T) {
	addr := hungServer(t)
	s, err := redisstore.Open("redis://"+addr+"/0", redisstore.Options{Timeout: 200 * time.Millisecond})
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

// TestCommaInQueryIsOneServer: a comma in a single server's query (a
// password, a client name) does not make the URL a list of nodes, which
// would build a Cluster client and take the password's tail for a host.
func TestCommaInQueryIsOneServer(t *testing.T) {
	for _, in := range []string{"redis://host:6379/0?password=Qx7a,Qx7b", "redis://host:6379/1?client_name=a,b"} {
		o, err := redisstore.ParseURL(in, false)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", in, err)
			continue
		}
		if len(o.Addrs) != 1 || o.Addrs[0] != "host:6379" {
			t.Errorf("ParseURL(%q): addresses %q, want the one server", in, o.Addrs)
		}
	}
	for _, in := range []string{"redis://h1:1?socket_connect_timeout=2,redis://h2:2?socket_connect_timeout=2",
		"redis://h1:1?socket_timeout=5, redis://h2:2?socket_timeout=5"} {
		o, err := redisstore.ParseURL(in, false)
		if err != nil || len(o.Addrs) != 2 {
			t.Errorf("ParseURL(%q), Beaker 1.13's list with a query per node: %v, %v; want two nodes", in, o, err)
		}
	}
	if o, err := redisstore.ParseURL("redis://h:6379/0?password=a@b,c", false); err != nil || len(o.Addrs) != 1 || o.Password != "a@b,c" {
		t.Errorf("a query password with '@' and ',': %v, %v; want one server and the password", o, err)
	}
}
