package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/pgtest"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
	"github.com/redis/go-redis/v9"
)

// Server-side session stores beside their peers: filestore and SQLite
// against gorilla/sessions' FilesystemStore (issue 10), redisstore against
// scs's redisstore (issue 11). Each group holds a bare case, so that the
// ratios command prints the cost each library adds over the HTTP cycle.

// redisIdle is the idle timeout configured on both Redis cases: scs then
// commits every loaded session, changed or not, to extend it; beaker
// extends it at most once per tenth of it.
const redisIdle = 30 * time.Minute

// storeCase is one server-side session library under test.
type storeCase struct {
	name string
	// open opens beaker's store, with its files (if any) in dir; nil for a
	// peer. The handler is BeakerOn over it, with the idle timeout idle.
	open func(tb testing.TB, dir string) store.Store
	idle time.Duration
	// peer builds a peer's handler for mode, with its files (if any) in dir.
	peer func(tb testing.TB, dir string, mode Mode) http.Handler
	// files is true when the case keeps its sessions in dir.
	files bool
	// commitsAlways: see benchCase.
	commitsAlways bool
}

var bareStoreCase = storeCase{name: "bare", peer: func(testing.TB, string, Mode) http.Handler { return Bare() }}

// diskCases are the sessions kept on this host's disk.
var diskCases = []storeCase{
	bareStoreCase,
	{name: "beaker-file", files: true, open: func(tb testing.TB, dir string) store.Store {
		st, err := OpenFile(dir)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
	{name: "beaker-sqlite", files: true, open: func(tb testing.TB, dir string) store.Store {
		st, err := OpenSQLite(dir)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
	{name: "gorilla-fs", files: true, peer: func(tb testing.TB, dir string, mode Mode) http.Handler {
		return GorillaFS(dir, mode)
	}},
}

// redisCases are the sessions kept in the Redis at BEAKER_TEST_REDIS_URL.
var redisCases = []storeCase{
	bareStoreCase,
	{name: "beaker-redis", idle: redisIdle, open: func(tb testing.TB, _ string) store.Store {
		st, err := OpenRedis(redisURL(tb))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
	{name: "scs-redis", commitsAlways: true, peer: func(tb testing.TB, _ string, mode Mode) http.Handler {
		h, done := SCSRedis(redisURL(tb), mode, redisIdle)
		tb.Cleanup(done)
		return h
	}},
}

// redisURL returns BEAKER_TEST_REDIS_URL. When it is unset the test or
// benchmark is skipped, unless BEAKER_TEST_REQUIRE_SERVICES=1, which makes
// it fail.
func redisURL(tb testing.TB) string { return serverURL(tb, "BEAKER_TEST_REDIS_URL") }

// serverURL is the address of a test server from the variable env, which
// scripts/services sets; without it the test skips, or fails when
// BEAKER_TEST_REQUIRE_SERVICES=1.
func serverURL(tb testing.TB, env string) string {
	tb.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("%s is not set and BEAKER_TEST_REQUIRE_SERVICES=1 (scripts/services sets it)", env)
		}
		tb.Skipf("%s is not set: no server (make bench starts Redis; scripts/test.sh starts them all)", env)
	}
	return u
}

// serverCases are the other server-backed stores, which TestSanityStores
// checks (the benchmarks leave them out): PostgreSQL, Redis Cluster and
// Sentinel, memcached.
var serverCases = []storeCase{
	{name: "beaker-postgres", open: func(tb testing.TB, _ string) store.Store {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		u, table := serverURL(tb, "BEAKER_TEST_POSTGRES_URL"), "bench_"+hex.EncodeToString(rnd[:])
		pgtest.DropOnCleanup(tb, u, table)
		st, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: u, TableName: table})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
	{name: "beaker-rediscluster", open: func(tb testing.TB, _ string) store.Store {
		return openRedisAt(tb, serverURL(tb, "BEAKER_TEST_REDIS_CLUSTER"))
	}},
	{name: "beaker-redissentinel", open: func(tb testing.TB, _ string) store.Store {
		return openRedisAt(tb, serverURL(tb, "BEAKER_TEST_REDIS_SENTINEL"))
	}},
	{name: "beaker-memcached", open: func(tb testing.TB, _ string) store.Store {
		st, err := memcachestore.Open(serverURL(tb, "BEAKER_TEST_MEMCACHED"), memcachestore.Options{KeyPrefix: "beaker-bench:"})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
}

func openRedisAt(tb testing.TB, url string) store.Store {
	st, err := redisstore.Open(url, redisstore.Options{KeyPrefix: "beaker-bench:"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// handler builds c's handler for mode with its files in dir; wrap, when not
// nil, wraps beaker's store.
func (c storeCase) handler(tb testing.TB, dir string, mode Mode, wrap func(store.Store) store.Store) http.Handler {
	tb.Helper()
	if c.open == nil {
		return c.peer(tb, dir, mode)
	}
	st := c.open(tb, dir)
	if wrap != nil {
		st = wrap(st)
	}
	h, err := BeakerOn(st, mode, c.idle)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// benchCases turns cs into benchCases, each in a fresh temporary folder.
func benchCases(cs []storeCase) []benchCase {
	out := make([]benchCase, len(cs))
	for i, c := range cs {
		out[i] = benchCase{name: c.name, ours: c.open != nil, commitsAlways: c.commitsAlways, make: func(tb testing.TB, mode Mode) http.Handler {
			return c.handler(tb, tb.TempDir(), mode, nil)
		}}
	}
	return out
}

// BenchmarkCycleFileSQLite is BenchmarkCycle on filestore and on SQLite
// (WAL, synchronous=NORMAL), both in a temporary folder, beside gorilla's
// FilesystemStore.
func BenchmarkCycleFileSQLite(b *testing.B) { benchCasesCycle(b, benchCases(diskCases), Counter) }

// BenchmarkCycleFileSQLiteReadOnly is BenchmarkCycleReadOnly on the same
// stores: nothing is written.
func BenchmarkCycleFileSQLiteReadOnly(b *testing.B) {
	benchCasesCycle(b, benchCases(diskCases), ReadOnly)
}

// BenchmarkCycleRedis is BenchmarkCycle on redisstore beside scs's
// redisstore, with the same idle timeout on both. Skipped when
// BEAKER_TEST_REDIS_URL is unset.
func BenchmarkCycleRedis(b *testing.B) {
	redisURL(b)
	benchCasesCycle(b, benchCases(redisCases), Counter)
}

// BenchmarkCycleRedisReadOnly is BenchmarkCycleReadOnly on the same stores:
// beaker makes one round trip (a GET), scs two (a GET, then a commit that
// extends the idle timeout).
func BenchmarkCycleRedisReadOnly(b *testing.B) {
	redisURL(b)
	benchCasesCycle(b, benchCases(redisCases), ReadOnly)
}

// countingStore counts the calls that reach a store.
type countingStore struct {
	store.Store
	gets, writes atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.writes.Add(1)
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.writes.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	s.writes.Add(1)
	return s.Store.(store.Updater).Update(ctx, key, last, ttl, fn)
}

func (s *countingStore) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.writes.Add(1)
	return s.Store.(store.Toucher).Touch(ctx, key, ttl)
}

// roundTrips counts the round trips a go-redis client makes: one per
// command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// fileState is what a folder holds: each file's size and modification time.
func fileState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%v %d", fi.ModTime(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSanityStores checks that each server-side case really saves and
// loads a session (as TestSanity does), and what the benchmarks claim about
// writes: a changing request on beaker writes once, a read-only request
// writes nothing, on beaker (counted at the store, and for files in the
// folder) and on gorilla's FilesystemStore (in the folder); on Redis, a
// read-only request costs beaker one round trip and a changing one two.
func TestSanityStores(t *testing.T) {
	for _, group := range []struct {
		name  string
		cases []storeCase
	}{{"disk", diskCases}, {"redis", redisCases}, {"servers", serverCases}} {
		for _, c := range group.cases {
			if c.name == "bare" {
				continue
			}
			for _, m := range sanityModes {
				t.Run(c.name+"/"+m.name, func(t *testing.T) {
					dir := t.TempDir()
					var counted *countingStore
					var hook *roundTrips
					h := c.handler(t, dir, m.mode, func(st store.Store) store.Store {
						if rs, ok := st.(*redisstore.Store); ok && c.name == "beaker-redis" {
							hook = &roundTrips{}
							rs.Client().AddHook(hook)
						}
						counted = &countingStore{Store: st}
						return counted
					})
					cookie := checkCase(t, benchCase{name: c.name, ours: c.open != nil, commitsAlways: c.commitsAlways}, h, m.mode)

					var files map[string]string
					if c.files {
						files = fileState(t, dir)
					}
					var gets, writes, trips int64
					if counted != nil {
						gets, writes = counted.gets.Load(), counted.writes.Load()
					}
					if hook != nil {
						trips = hook.n.Load()
					}
					const n = 3
					for i := range n {
						if rec := serve(h, cookie); rec.Code != http.StatusOK {
							t.Fatalf("extra request %d: status %d", i, rec.Code)
						}
					}
					wantWrites := int64(n)
					if m.mode == ReadOnly {
						wantWrites = 0
						if c.files {
							if after := fileState(t, dir); !maps.Equal(files, after) {
								t.Errorf("read-only requests changed the files:\nbefore %v\nafter  %v", files, after)
							}
						}
					}
					if counted != nil {
						if got := counted.gets.Load() - gets; got != n {
							t.Errorf("%d requests made %d store reads, want %d", n, got, n)
						}
						if got := counted.writes.Load() - writes; got != wantWrites {
							t.Errorf("%d requests made %d store writes, want %d", n, got, wantWrites)
						}
					}
					if hook != nil {
						if got, want := hook.n.Load()-trips, n+wantWrites; got != want {
							t.Errorf("%d requests made %d round trips, want %d", n, got, want)
						}
					}
				})
			}
		}
	}
}
