// Package redisstore is a store on Redis: Beaker's "ext:redis" type (and
// Beaker 1.13's "ext:rediscluster"). One type serves a single server, a
// server watched by Sentinel and a Redis Cluster, through go-redis's
// UniversalClient.
//
// # Layout
//
// A value is kept under KeyPrefix+key as a plain Redis string that starts
// with a 9-byte header: a format byte (0xB1) and a random 64-bit version,
// drawn anew by every write. Keeping the version inside the value, rather
// than in a second key, keeps one key per entry (so Cluster needs no hash
// tag and every operation touches one slot), makes a read one GET, and lets
// a conditional write compare 9 bytes. A value without the header (written
// by another program) reads as missing, and an Update overwrites it.
//
// Versions are random rather than a counter, so a key that is deleted and
// written again never repeats a version that an older reader holds. They
// also make an update safe against go-redis's own retries: when a
// compare-and-set ran but its reply was lost and go-redis sent it again,
// the second run fails the comparison and returns the current value, whose
// version is the one the first run wrote, and Update recognises its own
// write instead of applying fn twice.
//
// # Cost
//
// Get is one round trip (GET and PTTL pipelined). Update with the Version of
// an earlier Get is one round trip when nobody wrote in between: a Lua
// compare-and-set. On a conflict the script returns the current value, so a
// retry needs no separate read. Touch is one PEXPIRE.
//
// # Locks
//
// A lock named k is the key KeyPrefix+"beaker:lock:"+k, taken with SET NX PX
// and a random token, renewed every third of the lease by a script that
// extends it only while it still holds the token, and released by a
// compare-and-delete script. When a renewal finds another token (the lease
// ran out and someone else took the lock), the lease's Lost channel closes.
// If renewals fail because the server cannot be reached, the lease is
// declared lost once its last successful renewal is a whole lease old.
//
// # Scan
//
// Scan iterates with SCAN MATCH over the server, or over every master of a
// Cluster.
//
// # TLS
//
// A rediss:// URL (rediss+sentinel:// for Sentinel) speaks TLS to every
// node, Sentinels included, and takes the options of redis-py's
// SSLConnection as Python Beaker's URLs write them (see ParseURL):
//
//	rediss://host:6380/0?ssl_ca_certs=/etc/ssl/redis-ca.pem&ssl_certfile=/etc/app/client.crt&ssl_keyfile=/etc/app/client.key
//
// ssl_ca_certs (a PEM file), ssl_ca_path (a directory: every file in it
// that holds PEM certificates) and ssl_ca_data (PEM text) give the CA
// certificates that verify the server, in place of the system's (redis-py
// adds them to those). ssl_certfile and ssl_keyfile give the client
// certificate and its key, for a server with tls-auth-clients; the key may
// sit in the certificate's file. ssl_min_version (TLSv1_2, TLSv1_3) raises
// the minimum version, TLS 1.2 by default. ssl_cert_reqs=none turns
// verification off and ssl_check_hostname=false verifies the chain only;
// Open logs a warning for each. An encrypted key (ssl_password) is refused:
// store the key unencrypted, readable only by the application. ssl_ciphers
// is ignored with a warning: crypto/tls chooses the cipher suites. Open
// reads the files when it makes the client; Driver's Validate (beaker
// check-config) does not.
//
// With a Cluster or Sentinel URL, every node's certificate is verified
// against the first host of the URL, as go-redis does: the name that a
// managed service's shared (often wildcard) certificate carries, where
// the nodes that CLUSTER SLOTS or a Sentinel hands out are IP addresses.
// Where each node has a certificate of its own name instead, add
// ssl_check_hostname=false, which still verifies each chain against the
// CA certificates.
//
// # Failures
//
// A client made by Open bounds the dial, each read and each write with
// Options.Timeout, honours the context's deadline, dials once per try and
// retries a failed command once, so an unreachable server gives an error
// within a few timeouts and a store that works again as soon as the server
// is back. go-redis reports dial failures through its own logger (see
// redis.SetLogger), apart from the errors the store returns.
package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gobeaker/beaker/store"
)

// Options configures a Store. The zero value is ready to use. The fields
// under "Connection" apply only when the store makes its own client (Open,
// Driver); New uses the client it is given as it is.
type Options struct {
	// KeyPrefix is prepended to every Redis key the store uses, so that
	// several applications can share one database. The default is ""
	// (callers already namespace their keys: "session:…", "cache:…").
	// INI key: session.redis.key_prefix (cache.redis.key_prefix).
	KeyPrefix string

	// Logger receives the store's logs (lost leases). The default is
	// slog.Default().
	Logger *slog.Logger

	// Connection.

	// Cluster makes Open use a Cluster client even for a single address
	// (Beaker's ext:rediscluster type sets it). Several comma-separated
	// addresses mean Cluster anyway. The default, false, is a single
	// server (or Sentinel, for a redis+sentinel:// URL).
	Cluster bool

	// Timeout bounds the dial, each read and each write of one command.
	// The default is 2s (session.store_timeout, cache.store_timeout when
	// the settings give one), so that an outage gives an error promptly.
	Timeout time.Duration

	// PoolSize is the number of connections kept per server. The default
	// is go-redis's, 10 per CPU; raise it for more concurrent requests than
	// that. INI key: session.redis.pool_size.
	PoolSize int

	// MaxRetries is how often go-redis retries a command that failed on
	// the network. The default is 1; -1 disables retries. Retries are safe
	// for every operation of the store (see the package documentation).
	// INI key: session.redis.max_retries.
	MaxRetries int
}

// DefaultTimeout is the connection timeout used when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// DefaultLease is the lease given to a lock taken with a zero lease:
// store.DefaultLease.
const DefaultLease = store.DefaultLease

// ErrInvalidURL is wrapped by the errors of ParseURL and Open for a URL that
// cannot be parsed.
var ErrInvalidURL = errors.New("redisstore: invalid URL")

// ErrInvalidOptions is wrapped by Driver's Open for a backend setting that
// is unknown or has a bad value.
var ErrInvalidOptions = errors.New("redisstore: invalid setting")

// ErrClosed is returned by the lock methods of a closed Store.
var ErrClosed = errors.New("redisstore: store closed")

// Store is a store on Redis. It implements store.Store, store.Updater,
// store.Toucher, store.Locker and store.Scanner, and is safe for concurrent
// use. Close stops its lease renewals.
type Store struct {
	c       redis.UniversalClient
	owned   bool // Close closes c
	prefix  string
	timeout time.Duration // a deadline for an operation whose context has none
	log     *slog.Logger

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	mu        sync.Mutex     // orders enter against Close's close(closed)
	leases    sync.WaitGroup // lock takes in flight and renewal goroutines

	lockTaken func() // a test's hook: called by tryLock once it took a lock
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Updater = (*Store)(nil)
	_ store.Toucher = (*Store)(nil)
	_ store.Locker  = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
)

// New returns a Store that uses client. The caller keeps ownership of the
// client: Close does not close it. The connection fields of opts are not
// used.
func New(client redis.UniversalClient, opts Options) *Store {
	return newStore(client, false, opts)
}

// Open parses url (see ParseURL), makes a client with the connection fields
// of opts and returns a Store that owns it: Close closes the client. It does
// not contact the server: an unreachable server shows in the first
// operation, but it reads the files that url's TLS options name
// (ssl_ca_certs, ssl_certfile, …), and a file that cannot be read or holds
// no certificate or key is its error. It logs a warning (to opts.Logger)
// for each redis-py query option of url that the store ignores or that
// weakens it (ssl_cert_reqs=none).
func Open(url string, opts Options) (*Store, error) { return open(url, opts, true) }

// open is Open, which logs the url's warnings only if logNotes: Driver's
// Open leaves them to its Validate, which beaker.Check reports.
func open(url string, opts Options, logNotes bool) (*Store, error) {
	uo, notes, err := openURL(url, opts.Cluster)
	if err != nil {
		return nil, err
	}
	applyConnOptions(uo, opts)
	s := newStore(redis.NewUniversalClient(uo), true, opts)
	if logNotes {
		for _, n := range notes {
			s.log.Warn("redisstore: url: "+n.Msg, "option", n.Option)
		}
	}
	return s, nil
}

func applyConnOptions(uo *redis.UniversalOptions, opts Options) {
	t := opts.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	if uo.DialTimeout == 0 {
		uo.DialTimeout = t
	}
	if uo.ReadTimeout == 0 {
		uo.ReadTimeout = t
	}
	if uo.WriteTimeout == 0 {
		uo.WriteTimeout = t
	}
	if uo.PoolTimeout == 0 {
		uo.PoolTimeout = t
	}
	// One dial attempt per command try: go-redis's default (5 attempts 100ms
	// apart) makes a refused connection take half a second per try.
	if uo.DialerRetries == 0 {
		uo.DialerRetries = 1
	}
	uo.ContextTimeoutEnabled = true
	if opts.PoolSize > 0 {
		uo.PoolSize = opts.PoolSize
	}
	switch {
	case opts.MaxRetries != 0:
		uo.MaxRetries = opts.MaxRetries
	case uo.MaxRetries == 0:
		uo.MaxRetries = 1
	}
}

func newStore(c redis.UniversalClient, owned bool, opts Options) *Store {
	s := &Store{c: c, owned: owned, prefix: opts.KeyPrefix, log: opts.Logger, closed: make(chan struct{}), timeout: opts.Timeout}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// bound gives one operation a deadline of the store's Timeout when ctx has
// none: go-redis retries a timed-out command on a new connection, so
// without it a frozen server holds a call for several timeouts.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Client returns the store's Redis client.
func (s *Store) Client() redis.UniversalClient { return s.c }

// Close stops the renewal of every lease still held (their Lost channels
// close; the locks free themselves when their leases run out) and, when the
// store made its client (Open), closes the client. A TryLock or Lock in
// flight returns an error wrapping ErrClosed, having deleted the lock if it
// took it, and Close waits for it. Calling Close again returns the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.closed)
		s.mu.Unlock()
		s.leases.Wait() // lock takes in flight give up their lock
		if s.owned {
			s.closeErr = s.c.Close()
		}
	})
	return s.closeErr
}

// The value header: a format byte and a big-endian version.
const (
	formatByte = 0xB1
	headerLen  = 9
)

func encode(v []byte, ver uint64) []byte {
	b := make([]byte, headerLen+len(v))
	b[0] = formatByte
	binary.BigEndian.PutUint64(b[1:headerLen], ver)
	copy(b[headerLen:], v)
	return b
}

func header(ver uint64) string {
	var b [headerLen]byte
	b[0] = formatByte
	binary.BigEndian.PutUint64(b[1:], ver)
	return string(b[:])
}

// decode splits a stored string into its value and version; ok is false
// for a value that this store did not write.
func decode(b []byte) (v []byte, ver uint64, ok bool) {
	if len(b) < headerLen || b[0] != formatByte {
		return nil, 0, false
	}
	ver = binary.BigEndian.Uint64(b[1:headerLen])
	if ver == 0 {
		return nil, 0, false
	}
	return b[headerLen:], ver, true
}

func newVersion() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

func (s *Store) key(k string) string { return s.prefix + k }

// fail wraps err for operation op on key, and also wraps ctx.Err() when
// ctx is done, so that callers can test for context.Canceled whatever
// go-redis returned.
func fail(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s %q: %w (%w)", op, key, cerr, err)
	}
	return fmt.Errorf("redisstore: %s %q: %w", op, key, err)
}

func checkTTL(op, key string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("redisstore: %s %q: ttl %v: %w", op, key, ttl, store.ErrNegativeTTL)
	}
	return nil
}

// millis rounds a positive duration up to whole milliseconds.
func millis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond) // d+time.Millisecond-1 would overflow for the longest ttls
	if d%time.Millisecond != 0 && ms < math.MaxInt64/int64(time.Millisecond) {
		ms++ // at most that, so that ms milliseconds still fit in a Duration
	}
	return ms
}

// Get implements store.Store: one round trip (GET and PTTL pipelined).
func (s *Store) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return store.Entry{}, false, fail(ctx, "get", key, err)
	}
	k := s.key(key)
	p := s.c.Pipeline()
	get := p.Get(ctx, k)
	pttl := p.PTTL(ctx, k)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return store.Entry{}, false, fail(ctx, "get", key, err)
	}
	raw, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return store.Entry{}, false, nil
	}
	if err != nil {
		return store.Entry{}, false, fail(ctx, "get", key, err)
	}
	v, ver, ok := decode(raw)
	if !ok {
		return store.Entry{}, false, nil
	}
	e := store.Entry{Value: v, Version: store.Version(ver)}
	if d, err := pttl.Result(); err == nil && d > 0 {
		e.Expires = time.Now().Add(d)
	}
	return e, true, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := checkTTL("set", key, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "set", key, err)
	}
	var exp time.Duration
	if ttl > 0 {
		exp = time.Duration(millis(ttl)) * time.Millisecond
	}
	if err := s.c.Set(ctx, s.key(key), encode(value, newVersion()), exp).Err(); err != nil {
		return fail(ctx, "set", key, err)
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return fail(ctx, "delete", key, err)
	}
	if err := s.c.Del(ctx, s.key(key)).Err(); err != nil {
		return fail(ctx, "delete", key, err)
	}
	return nil
}

// casScript writes ARGV[2] (with a ttl of ARGV[3] ms, "0" for none) when
// the key's header is ARGV[1], or, when ARGV[1] is empty, when the key holds
// no value of this store. It returns {1} on success; on a conflict {0} when
// the key is missing, or {0, current} so that the caller can retry without
// reading.
var casScript = redis.NewScript(`
local h = redis.call('GETRANGE', KEYS[1], 0, 8)
local ok
if ARGV[1] == '' then
  ok = #h < 9 or string.byte(h, 1) ~= 177
else
  ok = h == ARGV[1]
end
if ok then
  if ARGV[3] == '0' then
    redis.call('SET', KEYS[1], ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  end
  return {1}
end
local v = redis.call('GET', KEYS[1])
if not v then return {0} end
return {0, v}
`)

// Update implements store.Updater. With last.Version set, an uncontended
// update is one round trip; each conflict costs one more, and needs no
// separate read.
func (s *Store) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := checkTTL("update", key, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "update", key, err)
	}
	var (
		cur    []byte
		curVer uint64
		found  bool
	)
	if last.Version != 0 {
		cur, curVer, found = last.Value, uint64(last.Version), true
	} else {
		e, f, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		cur, curVer, found = e.Value, uint64(e.Version), f
	}
	ms := "0"
	if ttl > 0 {
		ms = fmt.Sprint(millis(ttl))
	}
	k := s.key(key)
	conflicts := 0
	for {
		if !found {
			cur = nil
		}
		next, err := fn(cur, found)
		if err != nil {
			return err
		}
		expect := ""
		if found {
			expect = header(curVer)
		}
		ver := newVersion()
		res, err := casScript.Run(ctx, s.c, []string{k}, expect, encode(next, ver), ms).Slice()
		if err != nil {
			return fail(ctx, "update", key, err)
		}
		if len(res) == 0 {
			return fail(ctx, "update", key, fmt.Errorf("unexpected script reply %v", res))
		}
		if n, _ := res[0].(int64); n == 1 {
			return nil
		}
		cur, curVer, found = nil, 0, false
		if len(res) > 1 {
			raw, _ := res[1].(string)
			var v uint64
			if cur, v, found = decode([]byte(raw)); found {
				if v == ver {
					// A retried script call: the first run wrote our value.
					return nil
				}
				curVer = v
			}
		}
		if err := ctx.Err(); err != nil {
			return fail(ctx, "update", key, err)
		}
		// Under heavy contention on one key, writers that retry at once
		// keep colliding; a short random pause, growing with the
		// conflicts, lets each through in turn.
		conflicts++
		switch {
		case conflicts == lockAfterConflicts:
			// Still losing: queue behind the other writers that got here,
			// so that each gets its turn instead of all colliding.
			l, err := s.Lock(ctx, updateLockPrefix+key, updateLockLease)
			if err != nil {
				return fail(ctx, "update", key, err)
			}
			defer l.Release(context.WithoutCancel(ctx))
		case conflicts > 1:
			if err := pause(ctx, conflicts); err != nil {
				return fail(ctx, "update", key, err)
			}
		}
	}
}

// An Update that keeps losing its compare-and-set to other writers of the
// same key takes a lock on the key (in the lock namespace, under a name no
// caller's lock can have) after lockAfterConflicts conflicts.
const (
	lockAfterConflicts = 4
	updateLockPrefix   = "\x00update\x00"
	updateLockLease    = 5 * time.Second
)

// pause sleeps a random time under 100µs×2^(n-2), at most 20ms, or until
// ctx is done.
func pause(ctx context.Context, n int) error {
	d := min(100*time.Microsecond<<min(n-2, 10), 20*time.Millisecond)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(d)) + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Touch implements store.Toucher with PEXPIRE (PERSIST for ttl 0). It never
// creates a key.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := checkTTL("touch", key, ttl); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fail(ctx, "touch", key, err)
	}
	k := s.key(key)
	if ttl > 0 {
		ok, err := s.c.PExpire(ctx, k, time.Duration(millis(ttl))*time.Millisecond).Result()
		if err != nil {
			return false, fail(ctx, "touch", key, err)
		}
		return ok, nil
	}
	p := s.c.Pipeline()
	exists := p.Exists(ctx, k)
	p.Persist(ctx, k)
	if _, err := p.Exec(ctx); err != nil {
		return false, fail(ctx, "touch", key, err)
	}
	return exists.Val() == 1, nil
}

// Scan implements store.Scanner with SCAN MATCH, on every master of a
// Cluster. fn is never called concurrently.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "scan", prefix, err)
	}
	match := globEscape(s.key(prefix)) + "*"
	var (
		mu    sync.Mutex
		seen  = map[string]bool{}
		fnErr error
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, match, 1000).Iterator()
		for it.Next(ctx) {
			k := strings.TrimPrefix(it.Val(), s.prefix)
			mu.Lock()
			if fnErr != nil {
				mu.Unlock()
				return fnErr
			}
			if seen[k] {
				mu.Unlock()
				continue
			}
			seen[k] = true
			if err := fn(k); err != nil {
				fnErr = err
				mu.Unlock()
				return err
			}
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.c)
	}
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fail(ctx, "scan", prefix, err)
	}
	return nil
}

// globEscape escapes the characters that SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
