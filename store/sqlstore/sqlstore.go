// Package sqlstore is a store on an SQL database through database/sql:
// Beaker's "ext:database" type, with SQLite (pure Go, modernc.org/sqlite)
// as the embedded default and PostgreSQL (pgx).
//
// The root beaker package does not link it (SQLite alone adds megabytes to
// a binary); a program that wants it passes Driver() to beaker.Open.
//
// # Table
//
// Entries live in one table, beaker_store by default (session.table_name),
// created if missing:
//
//	key     BLOB/BYTEA  PRIMARY KEY  the store key, as bytes
//	value   BLOB/BYTEA  NOT NULL
//	version BIGINT      NOT NULL     random at every write, kept by Touch
//	expires BIGINT                   Unix microseconds; NULL: never
//
// with an index on expires, and a second table, <table>_lock, for the named
// locks. Python Beaker's own table is called beaker_cache and has other
// columns; a table of the configured name whose columns differ is an error
// (ErrTableMismatch), never a silent mismatch.
//
// Expiry times come from the clock of the process that writes, so the hosts
// that share a database need synchronised clocks (NTP), as for any lease.
//
// # Writes
//
// Update makes one conditional statement when the caller's Entry has a
// version: UPDATE … WHERE key = ? AND version = ? (and the row has not
// expired). For a missing key it inserts with INSERT … ON CONFLICT DO
// NOTHING, so two first writers never race into a unique-key error. When
// the statement changes no row, another writer got in first: Update reads
// the row again and calls fn again. An uncontended update of a session that
// the request loaded is one statement.
//
// SQLite runs in WAL mode with synchronous=NORMAL: readers never wait for the
// writer, and a commit does not wait for the disk (after a power cut, not a
// process crash, the last commits may be lost; the database stays
// consistent). Writes of the process go through one connection, so they
// queue in the process instead of failing with "database is locked"; other
// processes on the same file wait up to the busy timeout (5 s by default,
// timeout= in the URL, in seconds: 0 for no wait) or until the caller's
// context ends, and transactions begin IMMEDIATE. A read uses that
// connection too when it is free (its page cache is current after the
// store's own writes), else one of a pool. The store waits for the
// connections under the caller's context but hands SQLite a context without
// cancellation, which spares the goroutine per statement that the driver
// and database/sql start to watch a cancellable one (see onWriter).
//
// A database file removed or replaced while the store runs would stay open
// in its connections, which would go on writing into a file nothing can
// read after a restart. After each write the store checks that its path
// still names the file it opened (one stat(2); reads do not check): when
// not, the write fails with an error wrapping ErrFileReplaced and the store
// reopens the database at the path, creating it with its tables when it is
// missing, so the next write lands there.
//
// # Locks
//
// A named lock is a row of the lock table holding a random token and an
// expiry: TryLock inserts it, or takes over a row whose lease has run out,
// in one statement. While the lock is held, a goroutine of the lease renews
// the expiry every third of the lease; when a renewal finds the row gone or
// taken, or the lease runs out while the database cannot be reached, the
// lease is lost and Lost closes. Release deletes the row only if its token
// is still there. A holder that dies stops renewing, and the lock frees
// itself when its lease runs out.
//
// This design is the same on SQLite and PostgreSQL. PostgreSQL's advisory
// locks would free a dead holder's lock at once, but each held lock would
// pin one pooled connection for its whole life (a cache with many regions
// regenerating at once would drain the pool), and they do not survive a
// connection pooler in transaction mode (PgBouncer). Lease rows cost one
// UPDATE per lease/3 and make a lock's state visible with a SELECT.
//
// Close stops the renewal goroutines of the leases still held (they are then
// lost) and closes the database.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobeaker/beaker/store"
	msqlite "modernc.org/sqlite"
)

// DefaultTableName is the table used when Options.TableName is empty.
const DefaultTableName = "beaker_store"

// Options configures a Store. Only URL is required.
type Options struct {
	// URL names the database in SQLAlchemy's form (INI key session.url /
	// cache.url): sqlite:///relative.db, sqlite:////absolute.db,
	// postgresql://user:pass@host:port/db (postgresql+psycopg2:// and
	// postgres:// too). Required.
	URL string

	// TableName is the table of the entries (INI key session.table_name /
	// cache.table_name); the named locks use TableName_lock. A letter or
	// underscore, then letters, digits and underscores, at most 58 in all.
	// The default is DefaultTableName, beaker_store.
	TableName string

	// BaseDir is the folder that a relative SQLite path is relative to
	// (Params key "here", which beaker.Open leaves unset). The default is
	// the working directory, as SQLAlchemy takes it for Python Beaker.
	BaseDir string

	// PoolSize bounds the open connections to PostgreSQL, and the reading
	// connections of SQLite (INI key session.sql.pool_size). The default is
	// 10.
	PoolSize int

	// Timeout bounds each store operation, on top of the caller's context,
	// and the connection to PostgreSQL (INI key session.store_timeout). The
	// default is no bound on operations and a 5 s connect timeout.
	Timeout time.Duration

	// Logger receives the warnings about corrupt rows. The default is
	// slog.Default().
	Logger *slog.Logger

	// Now returns the current time. The default is time.Now.
	Now func() time.Time
}

// Errors of Open.
var (
	// ErrBadTableName is returned for a table name that is not a plain SQL
	// identifier.
	ErrBadTableName = errors.New("sqlstore: bad table name")

	// ErrTableMismatch is returned when the table exists with other columns
	// (for example Python Beaker's beaker_cache table).
	ErrTableMismatch = errors.New("sqlstore: existing table has other columns")
)

// ErrClosed is wrapped by the errors of TryLock and Lock on a closed Store.
var ErrClosed = errors.New("sqlstore: store closed")

// ErrFileReplaced is wrapped by the error of a write to a SQLite database
// whose file was removed or replaced under the store (it found so once
// the write was done): the write went to the old file, and is lost with
// it. The store has then reopened the database at its path (creating it,
// with its tables, when it is missing), so that the next writes land there;
// when that failed, the next write tries again.
var ErrFileReplaced = errors.New("sqlstore: the SQLite database file was removed or replaced")

// Store is an SQL store. It implements store.Store, store.Updater,
// store.Toucher, store.Scanner, store.Purger and store.Locker. Its methods
// are safe for concurrent use; several Stores, in one process or many, may
// share one table. Create it with Open and stop it with Close.
type Store struct {
	dialect dialect
	rdb     *sql.DB // reads (and, for PostgreSQL, writes)
	wdb     *sql.DB // writes: one connection for SQLite
	q       queries
	st      stmts // SQLite: the hot queries, prepared once
	timeout time.Duration

	// SQLite: wsem holds a token while a goroutine uses wdb's connection
	// (see onWriter), rsem one per reader of rdb (see onReader), and busy
	// is how long a write waits for another process's lock. All nil or
	// zero for PostgreSQL.
	wsem, rsem chan struct{}
	busy       time.Duration

	// SQLite on a file: the database's path, what it and its -wal and
	// -shm files named when the store opened them (see checkFile; guarded
	// by wsem), and what reopen needs. Empty for PostgreSQL and an
	// in-memory database.
	path     string
	fileInfo os.FileInfo
	walInfo  [2]os.FileInfo // -wal, -shm; nil when missing
	// reopenDue: a reopening closed the connections but failed; the next
	// write reopens before it runs.
	reopenDue bool
	table     string
	poolSize  int

	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	leases  map[*Lease]struct{} // held leases, whose renewal Close stops
	reopens int                 // the database's reopenings (see reopen)
	closed  bool
	takes   sync.WaitGroup // lock takes in flight, which Close waits for

	// Tests' hooks: lockTaken is called by tryLock once it took a lock,
	// closing by Close once it has set closed, releasing by Release once
	// Close would wait for it, renewing by a renewal before its write.
	lockTaken, closing, releasing, renewing func()
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Updater = (*Store)(nil)
	_ store.Toucher = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
	_ store.Purger  = (*Store)(nil)
	_ store.Locker  = (*Store)(nil)
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,57}$`)

// Open connects to the database named by opts.URL, creates the tables if
// they are missing and checks their columns. It logs a warning (to
// opts.Logger) for each option of the URL that the store accepts but
// ignores (SQLAlchemy's isolation_level, detect_types, cached_statements).
func Open(ctx context.Context, opts Options) (*Store, error) { return open(ctx, opts, true) }

// open is Open, which logs the url's warnings only if logNotes: Driver's
// Open leaves them to its Validate, which beaker.Check reports.
func open(ctx context.Context, opts Options, logNotes bool) (*Store, error) {
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if !identRE.MatchString(opts.TableName) {
		return nil, fmt.Errorf("%w %q: want letters, digits and underscores, at most 58", ErrBadTableName, opts.TableName)
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 10
	}
	t, err := parseURL(opts.URL, opts.BaseDir)
	if err != nil {
		return nil, err
	}
	if t.path != "" {
		// Absolute once: the check after each write stats the path, and
		// must not follow the process's later changes of directory.
		if t.path, err = filepath.Abs(t.path); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrURL, err)
		}
	}
	s := &Store{
		dialect: t.dialect,
		timeout: opts.Timeout,
		log:     opts.Logger,
		now:     opts.Now,
		q:       newQueries(t.dialect, opts.TableName),
		leases:  make(map[*Lease]struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch t.dialect {
	case sqlite:
		s.rdb, s.wdb, s.fileInfo, err = openSQLite(t, opts.PoolSize)
		s.wsem, s.busy = make(chan struct{}, 1), sqliteBusy(t)
		if t.path != "" {
			s.path, s.table, s.poolSize = t.path, opts.TableName, opts.PoolSize
		}
		if s.rdb != s.wdb {
			s.rsem = make(chan struct{}, opts.PoolSize)
		}
	case postgres:
		s.rdb, err = openPostgres(t, opts)
		s.wdb = s.rdb
	}
	if err != nil {
		return nil, err
	}
	if err := s.setup(ctx, opts.TableName); err != nil {
		s.closeDBs()
		return nil, err
	}
	if t.dialect == sqlite {
		// modernc's SQLite parses every query it is given; pgx caches
		// PostgreSQL's statements itself.
		if err := s.prepare(ctx); err != nil {
			s.closeDBs()
			return nil, err
		}
		s.walInfo = s.statWAL()
	}
	if logNotes {
		for _, n := range t.notes {
			s.log.Warn("sqlstore: url: "+n.Msg, "option", n.Option)
		}
	}
	return s, nil
}

// setupTimeout bounds Open's table creation and checks.
const setupTimeout = 30 * time.Second

// stmts are prepared statements of the hot queries; a nil one is run as
// plain text.
type stmts struct {
	get, getW, set, del, insert, touch, updateLive, updateAny, updateKeep *sql.Stmt
}

// prepare prepares the hot queries: reads on rdb and on wdb, writes on
// wdb.
func (s *Store) prepare(ctx context.Context) error {
	var err error
	p := func(db *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		err = s.retryBusy(ctx, func(ctx context.Context) error {
			st, err = db.PrepareContext(ctx, q)
			return err
		})
		return st
	}
	s.st = stmts{
		get: p(s.rdb, s.q.get), getW: p(s.wdb, s.q.get), set: p(s.wdb, s.q.set), del: p(s.wdb, s.q.del), insert: p(s.wdb, s.q.insert),
		touch: p(s.wdb, s.q.touch), updateLive: p(s.wdb, s.q.updateLive), updateAny: p(s.wdb, s.q.updateAny),
		updateKeep: p(s.wdb, s.q.updateKeep),
	}
	if err != nil {
		return fmt.Errorf("sqlstore: preparing statements: %w", err)
	}
	return nil
}

// execW runs a write on wdb: through st when it is prepared, else as text.
func (s *Store) execW(ctx context.Context, st *sql.Stmt, q string, args ...any) (res sql.Result, err error) {
	err = s.onWriter(ctx, func(ctx context.Context) error {
		if st != nil {
			res, err = st.ExecContext(ctx, args...)
		} else {
			res, err = s.wdb.ExecContext(ctx, q, args...)
		}
		return err
	})
	return res, err
}

// SQLite's statements keep the caller's deadline without being handed a
// cancellable context. modernc's driver starts a goroutine for every
// statement run under a context that can be cancelled, to interrupt it, and
// database/sql another for every query's rows; on the 2-core development
// machine those goroutines made a Get and an Update a quarter slower (go
// test -run '^$' -bench GetUpdate ./store/sqlstore/: 53-58 µs with a
// deadline, 41-50 µs without; now both the same). So the store waits for a
// connection itself, under the caller's context (wsem, rsem), runs the
// statement under a context with the same values and no cancellation, and
// the writing connection, which has no busy timeout, leaves the waits for
// another process's lock to onWriter, which ends them with the caller's
// context. What no longer ends with the context is a statement that runs:
// on a local database that is microseconds once it has its locks, at most
// a purge batch (1000 rows) or a scan page (500 keys), and SQLite could not
// interrupt a disk that hangs either.

// onWriter runs f with wdb's connection to itself: it waits for the
// connection as long as ctx allows, then calls f with ctx's values but no
// cancellation. While another process holds SQLite's write lock (f fails
// with SQLITE_BUSY: the statement did nothing) it calls f again, backing
// off as SQLite's own busy handler does, until the busy timeout has passed
// or ctx is done. For PostgreSQL it calls f(ctx).
func (s *Store) onWriter(ctx context.Context, f func(context.Context) error) error {
	if s.wsem == nil {
		return f(ctx)
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()
	if s.reopenDue {
		// An earlier reopening failed once it had closed the
		// connections: until one succeeds, a write could land in a file
		// the store cannot vouch for.
		if err := s.reopen(ctx); err != nil {
			return fmt.Errorf("%w; reopening it: %w", ErrFileReplaced, err)
		}
		s.log.Warn("sqlstore: reopened the SQLite database after it was removed or replaced", "path", s.path)
	}
	err := s.retryBusy(ctx, f)
	if s.path != "" {
		// After a failed write too: when a reopening failed, the writes
		// fail (no file, no table) until one succeeds.
		if cerr := s.checkFile(ctx); cerr != nil && err != nil {
			return fmt.Errorf("%w; the write: %w", cerr, err)
		} else if cerr != nil {
			return cerr
		}
	}
	return err
}

// checkFile makes sure, after a write, that the store's path still names
// the database file it opened: one stat(2) per write, none per read. A
// file removed (or replaced) under the store stays open in its
// connections, which went on writing into it while nothing could read it
// after a restart. When the file is gone or another, the write's data are
// lost with the old file: checkFile reopens the database at the path and
// returns ErrFileReplaced (wrapping the reopening's error too when that
// failed: the next write tries again). wsem is held.
func (s *Store) checkFile(ctx context.Context) error {
	fi, err := os.Stat(s.path)
	switch {
	case err == nil && os.SameFile(fi, s.fileInfo):
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return nil // cannot tell (EACCES, EIO): the write stands
	}
	if err := s.reopen(ctx); err != nil {
		return fmt.Errorf("%w; reopening it: %w", ErrFileReplaced, err)
	}
	s.log.Warn("sqlstore: the SQLite database file was removed or replaced; reopened it", "path", s.path)
	return ErrFileReplaced
}

// reopen closes every connection to the old file and opens the database at
// s.path again, with its tables. wsem is held, so the writing connection is
// idle; reopen takes every reader's token too, so that no connection of
// the pool is in use (but one that a caller of DB took and still holds
// goes back to the pool after).
func (s *Store) reopen(ctx context.Context) error {
	for i := range cap(s.rsem) {
		select {
		case s.rsem <- struct{}{}:
		case <-ctx.Done():
			for range i {
				<-s.rsem
			}
			return ctx.Err()
		}
	}
	defer func() {
		for range cap(s.rsem) {
			<-s.rsem
		}
	}()
	// Close the idle connections, which now are all of them. SQLite does
	// not checkpoint a moved database when it closes it, and leaves its
	// -wal and -shm files: those still at the path are removed, else the
	// new file would be read through the old file's log.
	s.wdb.SetMaxIdleConns(0)
	s.wdb.SetMaxIdleConns(1)
	s.rdb.SetMaxIdleConns(0)
	s.rdb.SetMaxIdleConns(s.poolSize)
	s.reopenDue = true // until the new file is set up
	for i, fi := range s.statWAL() {
		if fi != nil && s.walInfo[i] != nil && os.SameFile(fi, s.walInfo[i]) {
			if err := os.Remove(s.path + walSuffixes[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	fi, err := createFile(s.path)
	if err != nil {
		return err
	}
	if err := s.setup(ctx, s.table); err != nil {
		return err
	}
	s.fileInfo, s.walInfo, s.reopenDue = fi, s.statWAL(), false
	// The locks held were rows of the old file: another Store may take
	// them now, so their holders lose them.
	s.mu.Lock()
	held := make([]*Lease, 0, len(s.leases))
	for l := range s.leases {
		held = append(held, l)
	}
	s.reopens++ // a take under way when the leases were read is not counted on
	s.mu.Unlock()
	for _, l := range held {
		l.markLost()
	}
	return nil
}

// walSuffixes are the names of SQLite's files beside the database in WAL
// mode.
var walSuffixes = [2]string{"-wal", "-shm"}

// statWAL returns what the -wal and -shm names of s.path name (nil for a
// missing one). While the store is open they are the files its
// connections use: the writing connection never closes, so SQLite keeps
// them.
func (s *Store) statWAL() (fis [2]os.FileInfo) {
	if s.path == "" {
		return fis
	}
	for i, suffix := range walSuffixes {
		fis[i], _ = os.Stat(s.path + suffix)
	}
	return fis
}

// onReader runs f with a reading connection: wdb's when it is free, since
// its page cache is current after the store's own writes (a connection of
// rdb finds the database changed and reads pages again), else one of rdb,
// waiting for it as long as ctx allows. f gets ctx's values without its
// cancellation, and onW tells it which connection it has. For PostgreSQL it
// calls f(ctx, false).
//
// The connections of rdb keep SQLite's busy timeout (they also serve DB's
// users): a read in WAL mode does not wait for writers, and waits for a
// lock only while another process recovers the database after a crash.
func (s *Store) onReader(ctx context.Context, f func(ctx context.Context, onW bool) error) error {
	if s.wsem == nil {
		return f(ctx, false)
	}
	select {
	case s.wsem <- struct{}{}:
		defer func() { <-s.wsem }()
		return s.retryBusy(ctx, func(ctx context.Context) error { return f(ctx, true) })
	default:
	}
	if s.rsem == nil { // an in-memory database: one connection
		return s.onWriter(ctx, func(ctx context.Context) error { return f(ctx, true) })
	}
	select {
	case s.rsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.rsem }()
	return f(context.WithoutCancel(ctx), false)
}

// busyDelays is the schedule of SQLite's own busy handler
// (sqliteDefaultBusyCallback): the wait before each new try, the last one
// repeated.
var busyDelays = [...]time.Duration{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100}

// retryBusy calls f under ctx without its cancellation, again while it
// fails with SQLITE_BUSY, until s.busy has passed or ctx is done.
func (s *Store) retryBusy(ctx context.Context, f func(context.Context) error) error {
	dctx := context.WithoutCancel(ctx)
	var waited time.Duration
	for try := 0; ; try++ {
		err := f(dctx)
		if err == nil || !isBusy(err) {
			return err
		}
		d := busyDelays[min(try, len(busyDelays)-1)] * time.Millisecond
		if d = min(d, s.busy-waited); d <= 0 {
			return err
		}
		waited += d
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code):
// another connection holds a lock the statement needs.
func isBusy(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 5 // SQLITE_BUSY
}

// setup creates the tables if missing and checks the columns of the entry
// table.
func (s *Store) setup(ctx context.Context, table string) error {
	// Creating tables and switching SQLite to WAL can wait on other
	// processes opening the same database: a bound of its own, not one
	// operation's.
	ctx, cancel := context.WithTimeout(ctx, max(setupTimeout, s.timeout))
	defer cancel()
	var db querier = s.wdb
	if s.dialect == postgres {
		// PostgreSQL's CREATE ... IF NOT EXISTS is not safe against itself:
		// two processes that open a new table at once both find it missing,
		// and one fails with a unique violation in the catalog (pg_type or
		// pg_class, SQLSTATE 23505). An advisory lock on the table's name,
		// held by the connection that runs the setup, makes them take turns.
		conn, err := s.wdb.Conn(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: creating table %s on %v: %w", table, s.dialect, err)
		}
		defer conn.Close()
		lock := "github.com/gobeaker/beaker/store/sqlstore setup " + table
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext($1))`, lock); err != nil {
			return fmt.Errorf("sqlstore: creating table %s on %v: %w", table, s.dialect, err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, lock)
		db = conn
	}
	// On SQLite, retryBusy waits while another process holds the lock. The
	// caller holds wsem, or nobody else has the store yet.
	run := func(ctx context.Context, f func(context.Context) error) error {
		if s.wsem == nil {
			return f(ctx)
		}
		return s.retryBusy(ctx, f)
	}
	exec := func(stmt string) error {
		return run(ctx, func(ctx context.Context) error {
			_, err := db.ExecContext(ctx, stmt)
			return err
		})
	}
	for _, stmt := range s.q.create {
		if err := exec(stmt); err != nil {
			return fmt.Errorf("sqlstore: creating table %s on %v: %w", table, s.dialect, err)
		}
	}
	if err := run(ctx, func(ctx context.Context) error { return s.checkColumns(ctx, db, table) }); err != nil {
		return err
	}
	if err := exec(s.q.index); err != nil {
		return fmt.Errorf("sqlstore: creating the index of %s on %v: %w", table, s.dialect, err)
	}
	return nil
}

// querier is a *sql.DB or a *sql.Conn.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// checkColumns makes sure that the tables have the store's columns: a
// table of the same name made by something else is an error.
func (s *Store) checkColumns(ctx context.Context, db querier, table string) error {
	for _, c := range []struct {
		name string
		want []string
	}{
		{table, []string{"expires", "key", "value", "version"}},
		{table + "_lock", []string{"expires", "name", "token"}},
	} {
		rows, err := db.QueryContext(ctx, s.q.columns, c.name)
		if err != nil {
			return fmt.Errorf("sqlstore: reading the columns of %s: %w", c.name, err)
		}
		var got []string
		for rows.Next() {
			var col string
			if err := rows.Scan(&col); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: reading the columns of %s: %w", c.name, err)
			}
			got = append(got, strings.ToLower(col))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlstore: reading the columns of %s: %w", c.name, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			return fmt.Errorf("%w: table %s has columns (%s), want (%s); set table_name to another table (Python Beaker's own is beaker_cache)",
				ErrTableMismatch, c.name, strings.Join(got, ", "), strings.Join(c.want, ", "))
		}
	}
	return nil
}

// Close stops the renewal of the leases still held (they are lost; their
// rows expire after their lease) and closes the database. A TryLock or Lock
// in flight returns an error wrapping ErrClosed, having released the lock if
// it took it, and Close waits for it before it closes the database. It is
// idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	leases := make([]*Lease, 0, len(s.leases))
	for l := range s.leases {
		leases = append(leases, l)
	}
	s.mu.Unlock()
	if s.closing != nil {
		s.closing()
	}
	s.takes.Wait()
	for _, l := range leases {
		l.stopRenewal(true)
	}
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	for _, st := range []*sql.Stmt{s.st.get, s.st.getW, s.st.set, s.st.del, s.st.insert, s.st.touch, s.st.updateLive, s.st.updateAny, s.st.updateKeep} {
		if st != nil {
			st.Close()
		}
	}
	err := s.rdb.Close()
	if s.wdb != s.rdb {
		err = errors.Join(err, s.wdb.Close())
	}
	return err
}

// DB returns the database of the store's reads (with SQLite the writes go
// through a second, one-connection handle). It is for operators' tools and
// tests; the store owns it. A connection taken from it (DB.Conn, a
// transaction) and held while the store reopens a SQLite file that was
// removed (see ErrFileReplaced) goes on using the old file.
func (s *Store) DB() *sql.DB { return s.rdb }

func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return ctx, func() {}
}

func (s *Store) micros(t time.Time) int64 { return t.UnixMicro() }

// expiry returns the expires column for ttl: NULL for no expiry.
func (s *Store) expiry(ttl time.Duration) sql.NullInt64 {
	if ttl == 0 {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: s.micros(s.now().Add(ttl)), Valid: true}
}

// keepExpiry is how close (in microseconds) an update's new expiry must be
// to the one the row has for the row to keep its own: a session without an
// idle timeout writes "created + lifetime" every time, give or take the
// clock's reading.
const keepExpiry = 1000

// newVersion returns a random positive version, so that a key deleted and
// written again never comes back with a version an earlier reader holds.
func newVersion() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if v := int64(binary.BigEndian.Uint64(b[:]) >> 1); v != 0 {
			return v
		}
	}
}

// row is what read found under a key.
type row struct {
	exists  bool   // a row is there, live or not
	live    bool   // it is valid and has not expired
	value   []byte // when live
	version any    // the raw version column, for a conditional write
	expires int64  // unix microseconds; 0: never
}

// read reads the row of key. A row whose columns do not decode (a
// hand-edited SQLite row) is logged and reported as existing but not live.
func (s *Store) read(ctx context.Context, key []byte) (row, error) {
	var (
		value        []byte
		version, exp any
	)
	err := s.onReader(ctx, func(ctx context.Context, onW bool) error {
		var q *sql.Row
		switch {
		case onW && s.st.getW != nil:
			q = s.st.getW.QueryRowContext(ctx, key)
		case s.st.get != nil:
			q = s.st.get.QueryRowContext(ctx, key)
		default:
			q = s.rdb.QueryRowContext(ctx, s.q.get, key)
		}
		return q.Scan(&value, &version, &exp)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, nil
	}
	if err != nil {
		return row{}, err
	}
	r := row{exists: true, version: version, value: value}
	_, vok := version.(int64)
	e, eok := exp.(int64)
	if exp == nil {
		e, eok = 0, true
	}
	if value == nil {
		r.value = []byte{} // an empty BLOB scans as nil
	}
	if !vok || !eok {
		s.log.Warn("sqlstore: corrupt row treated as missing", slog.String("table", s.q.table))
		return r, nil
	}
	r.expires = e
	r.live = e == 0 || e > s.micros(s.now())
	return r, nil
}

func entryOf(r row) store.Entry {
	e := store.Entry{Value: r.value, Version: store.Version(r.version.(int64))}
	if r.expires != 0 {
		e.Expires = time.UnixMicro(r.expires)
	}
	return e
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, false, fmt.Errorf("sqlstore: get: %w", err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	r, err := s.read(ctx, []byte(key))
	if err != nil {
		return store.Entry{}, false, fmt.Errorf("sqlstore: get: %w", err)
	}
	if !r.live {
		return store.Entry{}, false, nil
	}
	return entryOf(r), true, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: set: %w", err)
	}
	if ttl < 0 {
		return fmt.Errorf("sqlstore: set: %w", store.ErrNegativeTTL)
	}
	if value == nil {
		value = []byte{}
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.execW(ctx, s.st.set, s.q.set, []byte(key), value, newVersion(), s.expiry(ttl)); err != nil {
		return fmt.Errorf("sqlstore: set: %w", err)
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: delete: %w", err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.execW(ctx, s.st.del, s.q.del, []byte(key)); err != nil {
		return fmt.Errorf("sqlstore: delete: %w", err)
	}
	return nil
}

// Update implements store.Updater. With a version in last, its first try is
// one conditional UPDATE without a read; see the package doc. When the new
// expiry is within a millisecond of the one the row has, the row keeps its
// own (one index write fewer, which is most of a small update's cost on
// SQLite).
func (s *Store) Update(ctx context.Context, key string, last store.Entry, ttl time.Duration, fn store.UpdateFunc) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: update: %w", err)
	}
	if ttl < 0 {
		return fmt.Errorf("sqlstore: update: %w", store.ErrNegativeTTL)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	k := []byte(key)
	var cur row
	if last.Version != 0 {
		cur = row{exists: true, live: true, value: last.Value, version: int64(last.Version)}
		if !last.Expires.IsZero() {
			cur.expires = s.micros(last.Expires)
		}
	} else {
		var err error
		if cur, err = s.read(ctx, k); err != nil {
			return fmt.Errorf("sqlstore: update: %w", err)
		}
	}
	for {
		var v []byte
		if cur.live {
			v = cur.value
		}
		next, err := fn(v, cur.live)
		if err != nil {
			return err
		}
		if next == nil {
			next = []byte{}
		}
		var res sql.Result
		exp := s.expiry(ttl)
		switch {
		case cur.live && exp.Valid && cur.expires != 0 && max(exp.Int64-cur.expires, cur.expires-exp.Int64) < keepExpiry:
			// Within a millisecond of the expiry the row has: keep that
			// one, which spares SQLite a write of the expiry's index.
			res, err = s.execW(ctx, s.st.updateKeep, s.q.updateKeep, next, newVersion(), k, cur.version, cur.expires, s.micros(s.now()))
		case cur.live:
			res, err = s.execW(ctx, s.st.updateLive, s.q.updateLive, next, newVersion(), exp, k, cur.version, s.micros(s.now()))
		case cur.exists: // expired or corrupt: replace it if nobody did
			res, err = s.execW(ctx, s.st.updateAny, s.q.updateAny, next, newVersion(), exp, k, cur.version)
		default:
			res, err = s.execW(ctx, s.st.insert, s.q.insert, k, next, newVersion(), exp)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlstore: update: %w", err)
		} else if n == 1 {
			return nil
		}
		// Another writer got in first: read its value and try again.
		if cur, err = s.read(ctx, k); err != nil {
			return fmt.Errorf("sqlstore: update: %w", err)
		}
	}
}

// Touch implements store.Toucher: one UPDATE of the expiry of a live row.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("sqlstore: touch: %w", err)
	}
	if ttl < 0 {
		return false, fmt.Errorf("sqlstore: touch: %w", store.ErrNegativeTTL)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.execW(ctx, s.st.touch, s.q.touch, s.expiry(ttl), []byte(key), s.micros(s.now()))
	if err != nil {
		return false, fmt.Errorf("sqlstore: touch: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: touch: %w", err)
	}
	return n == 1, nil
}

// scanPage is how many keys Scan reads per query.
const scanPage = 500

// Scan implements store.Scanner. It reads the keys in pages, in key order,
// through the primary key's index, and calls fn between queries, so fn may
// use the store.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: scan: %w", err)
	}
	lo := []byte(prefix)
	hi := prefixEnd(lo)
	first := true
	for {
		keys, err := s.scanPage(ctx, lo, hi, first)
		if err != nil {
			return fmt.Errorf("sqlstore: scan: %w", err)
		}
		for _, k := range keys {
			if err := fn(string(k)); err != nil {
				return err
			}
		}
		if len(keys) < scanPage {
			return nil
		}
		lo, first = keys[len(keys)-1], false
	}
}

func (s *Store) scanPage(ctx context.Context, lo, hi []byte, first bool) ([][]byte, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	op := ">"
	if first {
		op = ">="
	}
	q, args := s.q.scan(op, hi != nil), []any{lo, s.micros(s.now())}
	if hi != nil {
		args = append(args, hi)
	}
	var keys [][]byte
	err := s.onReader(ctx, func(ctx context.Context, onW bool) error {
		keys = keys[:0]
		db := s.rdb
		if onW {
			db = s.wdb
		}
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	return keys, err
}

// prefixEnd returns the smallest byte string greater than every string that
// starts with p, or nil if there is none (p is empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// purgeBatch is how many rows one DELETE of PurgeExpired removes at most,
// so that a large purge never holds a long write lock.
const purgeBatch = 1000

// PurgeExpired implements store.Purger. It deletes expired entries in
// batches of 1000 rows, then the expired rows of the lock table.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: purge: %w", err)
	}
	removed := 0
	now := s.micros(s.now())
	for {
		n, err := s.exec(ctx, s.q.purge, now, purgeBatch)
		removed += int(n)
		if err != nil {
			return removed, fmt.Errorf("sqlstore: purge: %w", err)
		}
		if n < purgeBatch {
			break
		}
	}
	if _, err := s.exec(ctx, s.q.purgeLocks, now); err != nil {
		return removed, fmt.Errorf("sqlstore: purge locks: %w", err)
	}
	return removed, nil
}

// exec runs a write statement and returns the number of rows it changed.
func (s *Store) exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.execW(ctx, nil, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
