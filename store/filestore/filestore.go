// Package filestore is a store that keeps one file per key under a folder:
// Beaker's "file" type (session.type = file, session.data_dir,
// session.lock_dir).
//
// # Layout
//
// The record of a key lives at
//
//	{data_dir}/records/{h[0]}/{h[:2]}/{h}.rec
//
// where h is the hex SHA-256 of the key (its first 40 digits). Hashing means
// that no key, whatever its bytes, can name a path outside the folder, and
// the two fan-out levels (16 folders of 16) keep a million keys at about
// 4000 files per folder. This is the shape of Python Beaker's own layout,
// container_file/{id[0]}/{id[:2]}/{id}.cache, with a hash in place of the
// raw id: the store maps keys to paths through one internal layout value,
// so Beaker's layout can become an option of this same store. Each record
// file holds the full key, the value, a version and the expiry, with a
// checksum (see record.go); a truncated or garbled file reads as missing and
// is logged.
//
// Folders are created 0700 and files 0600.
//
// # Writes
//
// A write goes to a temporary file in the record's own folder, which then
// takes the record's place in one atomic step, so a reader sees the old
// record or the new one, never half of one, and a crash (even kill -9 in the
// middle of the write) leaves the previous record in place. On Linux that
// step swaps the two names (renameat2 with RENAME_EXCHANGE) and then removes
// the previous record under its temporary name; elsewhere, and on file
// systems that cannot swap, it is a rename. The swap is there for speed. A
// rename over an existing file makes ext4 (auto_da_alloc, its default) start
// writing the new file to disk inside the rename; on the development
// machine a write of a small record took 140-260 µs with a rename and 20-35
// µs with the swap and the removal (go test -run '^$' -bench
// 'Replace/exchange$' ./store/filestore/, then 'Replace/rename$': each run
// alone, since the disk is still busy with one's writes when the next
// starts), and gorilla/sessions' truncate and write in place 85-130 µs.
//
// By default the data is not fsynced: the store is crash-safe against a
// dying process, not against a power failure, as in Python Beaker. After a
// power failure the last writes may be lost, and a record written in the
// seconds before it may read as missing (corrupt), since the swap does not
// get ext4's early write of a file renamed over another, which would often
// have kept the previous record; that early write is a heuristic of ext4
// only, not a promise. Options.Sync fsyncs the file before the swap and the
// folder after it. On the shared, busy 2-core development machine (ext4) a
// Set of 1 KB took 40-130 µs without it and 0.53-0.74 ms with it, and
// os.WriteFile of the same bytes in place (what gorilla/sessions'
// FilesystemStore does, without lock or crash safety) 130-215 µs in the same
// runs (go test -run '^$' -bench 'Set|TruncateWrite' ./store/filestore/).
//
// # Locks
//
// Every write of a key (Set, Update, Touch, Delete) holds an exclusive
// flock(2) on the key's lock file under {lock_dir}/{h[0]}/{h[:2]}/{h}.lock,
// and within the process a mutex per key, so an Update's read, fn and write
// happen with no other writer in between, across every process of the host
// that shares the folders: fn runs exactly once and no update is lost.
// Get takes no lock: a rename is atomic.
//
// The named locks of store.Locker are flock locks too (on lock files whose
// names are hashed apart from the keys' ones). A flock lock has no timed
// expiry: the lease duration is not used. The lock is held until Release or
// until the holder's process ends, when the kernel frees it at once; a holder
// that hangs keeps it. Lease.Lost closes on Release only. flock works between
// processes of one host; it is not reliable on network file systems, so the
// folders should be on a local disk.
//
// PurgeExpired walks the tree: it removes expired and corrupt records,
// temporary files left by a crash, lock files that nobody holds and fan-out
// folders that became empty. Nothing runs in the background: run it from
// cron or the beaker CLI (beaker sessions purge).
//
// The store needs flock, so it works on Linux, the BSDs and macOS; elsewhere
// New returns an error wrapping errors.ErrUnsupported.
package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Options configures a Store. Only DataDir is required.
type Options struct {
	// DataDir is the folder that holds the records (INI key
	// session.data_dir / cache.data_dir). It is created, 0700, if missing.
	// Required.
	DataDir string

	// LockDir is the folder that holds the lock files (INI key
	// session.lock_dir / cache.lock_dir). The default is DataDir/lock. It
	// must be on the same host as every process that shares DataDir.
	LockDir string

	// Sync makes every write fsync the new file before renaming it and the
	// folder after (INI key session.file.fsync). The default is false:
	// crash-safe against a dying process, not against a power cut. See the
	// package doc for the cost.
	Sync bool

	// Logger receives the warnings about corrupt records. The default is
	// slog.Default().
	Logger *slog.Logger

	// Now returns the current time. The default is time.Now.
	Now func() time.Time
}

// ErrNoDataDir is returned by New when Options.DataDir is empty.
var ErrNoDataDir = errors.New("filestore: data_dir is required")

// Store keeps one file per key. It implements store.Store, store.Updater,
// store.Toucher, store.Scanner, store.Purger and store.Locker. Its methods
// are safe for concurrent use, and several Stores (in one process or in
// several) may share one DataDir and LockDir.
type Store struct {
	dataDir string // DataDir/records
	lockDir string
	sync    bool
	log     *slog.Logger
	now     func() time.Time
	lay     layout
	keys    keyMutex
	noSwap  atomic.Bool // the file system refused RENAME_EXCHANGE: see replace
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Updater = (*Store)(nil)
	_ store.Toucher = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
	_ store.Purger  = (*Store)(nil)
	_ store.Locker  = (*Store)(nil)
)

// layout maps keys to file names. Today there is one layout, the native
// one; Python Beaker's (container_file/{id[0]}/{id[:2]}/{id}.cache holding a
// pickled dict, raw ids as names) is meant to be a second value of this
// type, chosen by an option, so that one Store serves both.
type layout struct {
	records string                  // folder under DataDir that holds the records
	ext     string                  // extension of a record file
	name    func(key string) string // file name of key's record and lock, without extension
	lock    func(name string) string
}

var nativeLayout = layout{
	records: "records",
	ext:     ".rec",
	name:    func(key string) string { return hashName("k\x00" + key) },
	lock:    func(name string) string { return hashName("l\x00" + name) },
}

func hashName(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:20])
}

// fanout returns the folder of a file named name: {name[0]}/{name[:2]}.
func fanout(root, name string) string {
	return filepath.Join(root, name[:1], name[:2])
}

// New returns a Store on opts.DataDir, creating the folders that are
// missing.
func New(opts Options) (*Store, error) {
	if opts.DataDir == "" {
		return nil, ErrNoDataDir
	}
	if err := flockSupported(); err != nil {
		return nil, err
	}
	s := &Store{
		dataDir: filepath.Join(opts.DataDir, nativeLayout.records),
		lockDir: opts.LockDir,
		sync:    opts.Sync,
		log:     opts.Logger,
		now:     opts.Now,
		lay:     nativeLayout,
	}
	if s.lockDir == "" {
		s.lockDir = filepath.Join(opts.DataDir, "lock")
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, d := range []string{s.dataDir, s.lockDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("filestore: %w", err)
		}
	}
	return s, nil
}

// Close implements io.Closer. The store starts no goroutine and holds no
// file between calls, so there is nothing to stop; leases stay held until
// released.
func (s *Store) Close() error { return nil }

func (s *Store) recordPath(name string) string {
	return filepath.Join(fanout(s.dataDir, name), name+s.lay.ext)
}

func (s *Store) lockPath(name string) string {
	return filepath.Join(fanout(s.lockDir, name), name+".lock")
}

// read returns the live record of key in the file named name. A missing,
// expired, corrupt or foreign file gives ok=false and err=nil.
func (s *Store) read(key, name string) (r record, ok bool, err error) {
	path := s.recordPath(name)
	b, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return record{}, false, nil
		}
		return record{}, false, err
	}
	r, err = decode(b)
	if err != nil || r.key != key {
		s.log.Warn("filestore: corrupt record treated as missing", slog.String("file", path))
		return record{}, false, nil
	}
	if !r.live(s.now().UnixNano()) {
		return record{}, false, nil
	}
	return r, true, nil
}

// expiry is the expiry of a record written now with ttl, in Unix
// nanoseconds (0: never); a ttl past the last time that holds (about 2262)
// is kept until then.
func (s *Store) expiry(ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	now := s.now().UnixNano()
	if now > math.MaxInt64-int64(ttl) { // ttl > 0: no overflow, whatever now's sign
		return math.MaxInt64
	}
	if now == -int64(ttl) {
		return 1 // the epoch, a nanosecond late: 0 is "never"
	}
	return now + int64(ttl)
}

// maxRetries bounds the attempts to create a file whose folder a
// concurrent PurgeExpired keeps removing.
const maxRetries = 10

// write replaces the record file named name with r: a temporary file in the
// same folder, renamed over it.
func (s *Store) write(name string, r *record) error {
	dir := fanout(s.dataDir, name)
	data := r.encode()
	for attempt := 0; ; attempt++ {
		err := s.writeIn(dir, name, data)
		// PurgeExpired may remove an empty folder between MkdirAll and the
		// creation of the file: make it again.
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == maxRetries {
			return err
		}
	}
}

func (s *Store) writeIn(dir, name string, data []byte) error {
	tmp, err := writeTemp(dir, name, data, s.sync)
	if errors.Is(err, fs.ErrNotExist) {
		// The fan-out folder is made on its first write only.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		tmp, err = writeTemp(dir, name, data, s.sync)
	}
	if err != nil {
		return err
	}
	if err := replace(tmp, filepath.Join(dir, name+s.lay.ext), &s.noSwap); err != nil {
		_ = unlink(tmp)
		return err
	}
	if s.sync {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// newVersion returns the version of a new state of a key: random, so that a
// key deleted and written again never comes back with a version that an
// earlier reader holds.
func newVersion() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, false, fmt.Errorf("filestore: get: %w", err)
	}
	r, ok, err := s.read(key, s.lay.name(key))
	if err != nil {
		return store.Entry{}, false, fmt.Errorf("filestore: get: %w", err)
	}
	if !ok {
		return store.Entry{}, false, nil
	}
	e := store.Entry{Value: r.value, Version: store.Version(r.version)}
	if r.expires != 0 {
		e.Expires = time.Unix(0, r.expires)
	}
	return e, true, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("filestore: set: %w", store.ErrNegativeTTL)
	}
	name := s.lay.name(key)
	unlock, err := s.lockKey(ctx, name)
	if err != nil {
		return fmt.Errorf("filestore: set: %w", err)
	}
	defer unlock()
	r := record{key: key, value: value, version: newVersion(), expires: s.expiry(ttl)}
	if err := s.write(name, &r); err != nil {
		return fmt.Errorf("filestore: set: %w", err)
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	name := s.lay.name(key)
	unlock, err := s.lockKey(ctx, name)
	if err != nil {
		return fmt.Errorf("filestore: delete: %w", err)
	}
	defer unlock()
	if err := unlink(s.recordPath(name)); err != nil {
		return fmt.Errorf("filestore: delete: %w", err)
	}
	return nil
}

// Update implements store.Updater. It holds the key's lock (a mutex in the
// process, flock across processes) while it reads the record, calls fn and
// writes the result, so fn is called exactly once. The version check that a
// network store needs for its first try is implied by the lock: last is
// not needed.
func (s *Store) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	if ttl < 0 {
		return fmt.Errorf("filestore: update: %w", store.ErrNegativeTTL)
	}
	name := s.lay.name(key)
	unlock, err := s.lockKey(ctx, name)
	if err != nil {
		return fmt.Errorf("filestore: update: %w", err)
	}
	defer unlock()
	cur, found, err := s.read(key, name)
	if err != nil {
		return fmt.Errorf("filestore: update: %w", err)
	}
	var v []byte
	if found {
		v = cur.value
	}
	next, err := fn(v, found)
	if err != nil {
		return err
	}
	r := record{key: key, value: next, version: newVersion(), expires: s.expiry(ttl)}
	if err := s.write(name, &r); err != nil {
		return fmt.Errorf("filestore: update: %w", err)
	}
	return nil
}

// Touch implements store.Toucher. The record file is rewritten with the new
// expiry and the same value and version.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < 0 {
		return false, fmt.Errorf("filestore: touch: %w", store.ErrNegativeTTL)
	}
	name := s.lay.name(key)
	unlock, err := s.lockKey(ctx, name)
	if err != nil {
		return false, fmt.Errorf("filestore: touch: %w", err)
	}
	defer unlock()
	r, found, err := s.read(key, name)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("filestore: touch: %w", err)
		}
		return false, err
	}
	r.expires = s.expiry(ttl)
	if err := s.write(name, &r); err != nil {
		return false, fmt.Errorf("filestore: touch: %w", err)
	}
	return true, nil
}

// Scan implements store.Scanner. It reads every record file, so it costs a
// walk of the whole tree whatever the prefix.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	err := s.walkRecords(ctx, func(path string, r record, ok bool) error {
		if ok && r.live(s.now().UnixNano()) && strings.HasPrefix(r.key, prefix) {
			return fn(r.key)
		}
		return nil
	}, nil)
	return err
}

// walkRecords calls fn for every record file under the records folder, with
// ok=false for one that does not decode, and tmp (when not nil) for every
// temporary file. It stops at fn's first error, which it returns unchanged.
func (s *Store) walkRecords(ctx context.Context, fn func(path string, r record, ok bool) error, tmp func(path string, d fs.DirEntry)) error {
	var fnErr error
	err := filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		base := d.Name()
		if strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-") {
			if tmp != nil {
				tmp(path, d)
			}
			return nil
		}
		if !strings.HasSuffix(base, s.lay.ext) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		r, derr := decode(b)
		if derr == nil && s.lay.name(r.key)+s.lay.ext != base {
			derr = errCorrupt // a record copied under another name
		}
		if err := fn(path, r, derr == nil); err != nil {
			fnErr = err
			return fs.SkipAll
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("filestore: walk %s: %w", s.dataDir, err)
	}
	return nil
}

// tempMaxAge is how old a temporary file must be before PurgeExpired takes
// it for the leftover of a crashed write.
const tempMaxAge = time.Minute

// PurgeExpired implements store.Purger. It removes expired and corrupt
// records (counted in removed), temporary files older than a minute (left by
// a crash in the middle of a write), lock files that no process holds, and
// fan-out folders that are empty.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	removed := 0
	now := s.now()
	err := s.walkRecords(ctx, func(path string, r record, ok bool) error {
		if ok && r.live(now.UnixNano()) {
			return nil
		}
		name := strings.TrimSuffix(filepath.Base(path), s.lay.ext)
		gone, err := s.removeDead(ctx, path, name)
		if err != nil {
			return err
		}
		if gone {
			removed++
		}
		return nil
	}, func(path string, d fs.DirEntry) {
		if info, err := d.Info(); err == nil && now.Sub(info.ModTime()) > tempMaxAge {
			_ = os.Remove(path)
		}
	})
	if err != nil {
		return removed, fmt.Errorf("filestore: purge: %w", err)
	}
	if err := removeEmptyDirs(s.dataDir); err != nil {
		return removed, fmt.Errorf("filestore: purge: %w", err)
	}
	if err := s.purgeLocks(ctx); err != nil {
		return removed, fmt.Errorf("filestore: purge: %w", err)
	}
	return removed, nil
}

// removeDead removes the record file at path, named name, if it is still
// expired or corrupt once the key's lock is held.
func (s *Store) removeDead(ctx context.Context, path, name string) (bool, error) {
	unlock, err := s.lockKey(ctx, name)
	if err != nil {
		return false, err
	}
	defer unlock()
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if r, err := decode(b); err == nil && s.lay.name(r.key) == name && r.live(s.now().UnixNano()) {
		return false, nil // written again meanwhile
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// removeEmptyDirs removes the empty folders below root, deepest first
// (root itself stays).
func removeEmptyDirs(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && path != root {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i]) // fails, as it should, unless empty
	}
	return err
}

// keyMutex serialises the writers of one key within the process, so that
// they queue on a channel instead of polling flock.
type keyMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (k *keyMutex) lock(ctx context.Context, name string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyLock)
	}
	l := k.m[name]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[name] = l
	}
	l.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, name)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// lockKey takes the write lock of the record named name: the in-process
// mutex, then the flock of its lock file.
func (s *Store) lockKey(ctx context.Context, name string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock, err := s.keys.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	fd, _, err := lockFile(ctx, s.lockPath(name), true)
	if err != nil {
		unlock()
		return nil, err
	}
	return func() { unlockFile(fd); unlock() }, nil
}
