// Package bench compares beaker's sessions and caches with peer libraries
// (alexedwards/scs, gorilla/sessions, otter, ristretto), side by side in one
// process. It is its own module so that the peers never enter the main
// module's go.mod.
//
// The benchmarks live in this package's tests; run them with make bench
// (scripts/bench.sh), which prints the benchstat table and the ratios of
// beaker to each peer. The handlers below are shared by the benchmarks and by
// cmd/loadserver (make load).
package bench

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
)

// Mode is what a benchmark handler does with the session.
type Mode int

const (
	// Counter loads the session, reads the int "counter", stores counter+1
	// and writes it in the body.
	Counter Mode = iota
	// ReadOnly reads "counter" and writes it in the body; it stores 1 only
	// when the session has no counter yet (the seed request).
	ReadOnly
	// Counter2K is Counter on a session that also holds BigValue under
	// "big", stored by the seed request, so that every request decodes and
	// re-encodes 2000 more bytes.
	Counter2K
)

// CounterKey is the session key of the counter.
const CounterKey = "counter"

// BigKey is the session key of BigValue in Counter2K mode.
const BigKey = "big"

// BigValue is the 2000-byte string stored in Counter2K mode.
var BigValue = strings.Repeat("0123456789", 200)

// Secret signs beaker's session cookie in the benchmarks (not a real secret).
const Secret = "bench-secret-0123456789abcdef"

// gorillaKeys returns the gorilla CookieStore keys: a 64-byte HMAC-SHA256
// key and a 32-byte AES-256 key (signed and encrypted), fresh on each call.
func gorillaKeys() (hash, block []byte) {
	return []byte(strings.Repeat("h", 64)), []byte(strings.Repeat("b", 32))
}

// writeInt writes n as the response body.
func writeInt(w http.ResponseWriter, n int) {
	var buf [20]byte
	_, _ = w.Write(strconv.AppendInt(buf[:0], int64(n), 10))
}

// Bare returns a handler that uses no session: the cost of the HTTP cycle
// itself, to subtract from the other cases.
func Bare() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeInt(w, 1)
	})
}

// Vary returns Bare's handler that also answers "Vary: Cookie", as any
// cookie session must once it reads the cookie (beaker, scs, Django and
// Flask all do). Sent the session cookie, it is the floor that net/http
// puts under every cookie session: parsing the Cookie header and sending
// a response header that is not empty.
func Vary() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Vary"] = []string{"Cookie"}
		writeInt(w, 1)
	})
}

// Beaker returns beaker's session middleware over a memstore with a handler
// for mode, and a function that releases the store.
func Beaker(mode Mode) (http.Handler, func(), error) {
	st := memstore.New(memstore.Options{})
	h, err := BeakerOn(st, mode, 0)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return h, func() { st.Close() }, nil
}

// BeakerOn returns beaker's session middleware over st, with the idle
// timeout idle (0: none), and a handler for mode. The caller closes st.
func BeakerOn(st store.Store, mode Mode, idle time.Duration) (http.Handler, error) {
	m, err := session.New(session.Options{Store: st, Secrets: []string{Secret}, Timeout: idle})
	if err != nil {
		return nil, err
	}
	return m.Middleware(beakerHandler(mode)), nil
}

// beakerHandler is the handler for mode on beaker's session API, shared by
// server-side and cookie sessions.
func beakerHandler(mode Mode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, ok := session.Get[int](s, CounterKey)
		switch {
		case mode == ReadOnly && ok:
		case mode == Counter2K && !ok:
			s.Set(BigKey, BigValue)
			fallthrough
		default:
			n++
			s.Set(CounterKey, n)
		}
		writeInt(w, n)
	})
}

// OpenFile opens a filestore (session.type = file) with its data and lock
// folders under dir.
func OpenFile(dir string) (*filestore.Store, error) {
	return filestore.New(filestore.Options{DataDir: filepath.Join(dir, "data"), LockDir: filepath.Join(dir, "lock")})
}

// OpenSQLite opens an sqlstore on the SQLite file dir/sessions.db
// (session.type = ext:database, WAL mode with synchronous=NORMAL).
func OpenSQLite(dir string) (*sqlstore.Store, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "sessions.db"))
	if err != nil {
		return nil, err
	}
	return sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + abs})
}

// OpenRedis opens a redisstore on url (redis://host:port/db) whose keys
// start with "beaker-bench:".
func OpenRedis(url string) (*redisstore.Store, error) {
	return redisstore.Open(url, redisstore.Options{KeyPrefix: "beaker-bench:"})
}

// BeakerCookie returns beaker's client-side session middleware (the whole
// session sealed in the cookie, session.type = cookie) with a handler for
// mode: the peer of gorilla's CookieStore.
func BeakerCookie(mode Mode) (http.Handler, error) {
	m, err := session.NewCookie(session.CookieOptions{Options: session.Options{Secrets: []string{Secret}}})
	if err != nil {
		return nil, err
	}
	return m.Middleware(beakerHandler(mode)), nil
}

// SCS returns alexedwards/scs's LoadAndSave middleware over its memstore with
// a handler for mode. The store runs no cleanup goroutine (its StopCleanup
// races with the goroutine's start in v2.9.0).
func SCS(mode Mode) http.Handler {
	sm := scs.New()
	sm.Store = scsmem.NewWithCleanupInterval(0)
	return scsHandler(sm, mode)
}

// SCSRedis returns scs's LoadAndSave middleware over its redisstore (on a
// redigo pool dialing url, redis://host:port/db) with the idle timeout idle
// (0: none) and a handler for mode, and a function that closes the pool.
// With an idle timeout scs commits every loaded session, changed or not, to
// extend it.
func SCSRedis(url string, mode Mode, idle time.Duration) (http.Handler, func()) {
	pool := &redigo.Pool{
		MaxIdle:     16,
		IdleTimeout: time.Minute,
		Dial:        func() (redigo.Conn, error) { return redigo.DialURL(url) },
	}
	sm := scs.New()
	sm.Store = scsredis.NewWithPrefix(pool, "scs-bench:")
	sm.IdleTimeout = idle
	return scsHandler(sm, mode), func() { pool.Close() }
}

func scsHandler(sm *scs.SessionManager, mode Mode) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		n, ok := sm.Get(ctx, CounterKey).(int)
		switch {
		case mode == ReadOnly && ok:
		case mode == Counter2K && !ok:
			sm.Put(ctx, BigKey, BigValue)
			fallthrough
		default:
			n++
			sm.Put(ctx, CounterKey, n)
		}
		writeInt(w, n)
	})
	return sm.LoadAndSave(h)
}

// Gorilla returns a handler for mode on a gorilla/sessions CookieStore
// (signed and encrypted): Get, then Save when something changed.
func Gorilla(mode Mode) http.Handler {
	return gorillaHandler(sessions.NewCookieStore(gorillaKeys()), mode)
}

// GorillaFS returns a handler for mode on a gorilla/sessions
// FilesystemStore in dir, with the CookieStore's keys (the cookie carries
// the signed and encrypted session id, the file the encrypted values): Get,
// then Save, which rewrites the file, when something changed.
func GorillaFS(dir string, mode Mode) http.Handler {
	hash, block := gorillaKeys()
	return gorillaHandler(sessions.NewFilesystemStore(dir, hash, block), mode)
}

func gorillaHandler(st sessions.Store, mode Mode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := st.Get(r, "session") // a bad cookie gives a new session and an error
		n, ok := s.Values[CounterKey].(int)
		switch {
		case mode == ReadOnly && ok:
		case mode == Counter2K && !ok:
			s.Values[BigKey] = BigValue
			fallthrough
		default:
			n++
			s.Values[CounterKey] = n
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		writeInt(w, n)
	})
}
