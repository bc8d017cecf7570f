package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/fakeclock"
	"github.com/gobeaker/beaker/internal/pgtest"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/sqlstore"
	"github.com/gobeaker/beaker/store/storetest"
)

// The helper processes of the cross-process cases get "URL\tTABLE".
func TestMain(m *testing.M) {
	storetest.HelperMain(func(ctx context.Context, config string) (store.Store, error) {
		u, table, _ := strings.Cut(config, "\t")
		return sqlstore.Open(ctx, sqlstore.Options{URL: u, TableName: table})
	})
	os.Exit(m.Run())
}

func randomTable(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "beaker_test_" + hex.EncodeToString(b[:])
}

// tableOn is a new table's name for url, removed after the test on a
// PostgreSQL server.
func tableOn(t *testing.T, url string) string {
	table := randomTable(t)
	if strings.HasPrefix(url, "postgres") {
		pgtest.DropOnCleanup(t, url, table)
	}
	return table
}

func open(t *testing.T, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func conformance(t *testing.T, url string) {
	table := tableOn(t, url)
	conformanceOn(t, open(t, sqlstore.Options{URL: url, TableName: table}), url, table)
}

func conformanceOn(t *testing.T, s *sqlstore.Store, url, table string) {
	storetest.Run(t, s, storetest.Options{
		TTL:     200 * time.Millisecond,
		Abandon: func(l store.Lease) { l.(*sqlstore.Lease).Abandon() },
		Helper:  &storetest.Helper{Config: url + "\t" + table},
	})
}

func sqliteURL(t *testing.T) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), "beaker.db") // an absolute path: four slashes
}

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	conformance(t, sqliteURL(t))
}

func TestSQLiteInMemory(t *testing.T) {
	s := open(t, sqlstore.Options{URL: "sqlite://"})
	storetest.Run(t, s, storetest.Options{TTL: 200 * time.Millisecond})
}

// twoStores checks that two Stores on one table behave as two processes:
// concurrent Updates from both lose nothing, and a lock taken through one
// excludes the other.
func twoStores(t *testing.T, url string) {
	table := tableOn(t, url)
	a := open(t, sqlstore.Options{URL: url, TableName: table})
	b := open(t, sqlstore.Options{URL: url, TableName: table})
	ctx := context.Background()
	const workers, rounds = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for i := range 2 * workers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range rounds {
				last, _, err := s.Get(ctx, "counter")
				if err == nil {
					err = s.Update(ctx, "counter", last, 0, func(cur []byte, found bool) ([]byte, error) {
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
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e, found, err := b.Get(ctx, "counter")
	if err != nil || !found || string(e.Value) != strconv.Itoa(2*workers*rounds) {
		t.Fatalf("Get = %q, %v, %v; want %d", e.Value, found, err, 2*workers*rounds)
	}
	l, ok, err := a.TryLock(ctx, "l", time.Minute)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "l", time.Minute); ok || err != nil {
		t.Fatalf("TryLock on the second store while the first holds the lock = %v, %v; want false, nil", ok, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteTwoStores(t *testing.T) { twoStores(t, sqliteURL(t)) }

// While another connection holds SQLite's write lock, a write waits for it
// (the store's own busy wait, not SQLite's), until the caller's context
// ends or, with no deadline, the busy timeout (timeout= in the URL) has
// passed; once the lock is free, the write goes through.
func TestSQLiteBusyWait(t *testing.T) {
	u := sqliteURL(t) + "?timeout=0.3"
	s := open(t, sqlstore.Options{URL: u})
	other := open(t, sqlstore.Options{URL: u})
	ctx := context.Background()
	conn, err := other.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Set(c, "k", []byte("v"), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set under a 100 ms deadline while locked = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("Set under a 100 ms deadline returned after %v", d)
	}

	start = time.Now()
	if err := s.Set(ctx, "k", []byte("v"), 0); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Set without a deadline while locked = %v, want database is locked", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("Set without a deadline gave up after %v, want the busy timeout (300 ms)", d)
	}
	if _, found, err := s.Get(ctx, "k"); found || err != nil {
		t.Fatalf("Get while locked = %v, %v; want not found (WAL: reads do not wait)", found, err)
	}

	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
	}()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Set after the lock is released: %v", err)
	}
}

// TestSQLiteTimeouts: a timeout= that is not a duration SQLite can wait is
// an error naming the parameter; 0 means no wait and a tiny positive one
// 1 ms (SQLite's unit), never the 5 s default: a write while another
// connection holds the write lock fails at once with either.
func TestSQLiteTimeouts(t *testing.T) {
	for _, v := range []string{"nan", "NaN", "inf", "-Inf", "+Infinity", "1e300", "1e400", "-1", "-0.001", "x", "", "2147484"} {
		s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: sqliteURL(t) + "?timeout=" + v})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, sqlstore.ErrURL) || !strings.Contains(err.Error(), "timeout=") {
			t.Errorf("timeout=%s: %v, want an error wrapping ErrURL that names timeout=", v, err)
		}
	}
	for _, v := range []string{"0", "1e-12", "0.0004"} {
		u := sqliteURL(t) + "?timeout=" + v
		s := open(t, sqlstore.Options{URL: u})
		other := open(t, sqlstore.Options{URL: u})
		ctx := context.Background()
		conn, err := other.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.Set(ctx, "k", []byte("v"), 0)
		if d := time.Since(start); err == nil || d > time.Second {
			t.Errorf("timeout=%s: Set while locked = %v after %v, want an error at once", v, err, d)
		}
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
		if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Errorf("timeout=%s: Set once the lock is free: %v", v, err)
		}
	}
}

// TestSQLiteFileRemoved: the database's files removed under a running
// store (an operator's rm, a cleanup job), then replaced (a backup restored
// with mv). The store used to go on writing into the unlinked file: every
// write succeeded and was gone at the next start. Now the first write after
// the change fails with ErrFileReplaced and the store reopens the database
// at its path: later writes land in the file the path names, another Store
// on the path reads them, and the store's own reading connections read
// that file too.
func TestSQLiteFileRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	url := "sqlite:///" + path
	s := open(t, sqlstore.Options{URL: url})
	ctx := context.Background()
	if err := s.Set(ctx, "before", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	count := func() int { // through the reading pool, not the writing connection
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM beaker_store").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows before the removal, want 1", n)
	}
	removeDatabase(t, path)
	// A connection opened now (the pool's idle one, then a new one) does
	// not make an empty database at the path: only the store makes it,
	// 0600, with its tables.
	c1, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := s.DB().Conn(ctx); err == nil {
		if err := c2.PingContext(ctx); err == nil {
			t.Error("a new connection opened the removed database")
		}
		c2.Close()
	}
	c1.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a connection made a database at the path: %v", err)
	}
	if err := s.Set(ctx, "lost", []byte("2"), 0); !errors.Is(err, sqlstore.ErrFileReplaced) {
		t.Fatalf("Set after the file was removed: %v, want ErrFileReplaced", err)
	}
	if err := s.Set(ctx, "after", []byte("3"), 0); err != nil {
		t.Fatalf("Set after the store reopened the database: %v", err)
	}
	if e, found, err := s.Get(ctx, "after"); err != nil || !found || string(e.Value) != "3" {
		t.Fatalf("Get(after) = %q, %v, %v", e.Value, found, err)
	}
	if n := count(); n != 1 {
		t.Errorf("the reading connections see %d rows, want 1 (the new file's)", n)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the new database file: %v, %v; want mode 0600", fi, err)
	}
	other := open(t, sqlstore.Options{URL: url})
	if e, found, err := other.Get(ctx, "after"); err != nil || !found || string(e.Value) != "3" {
		t.Errorf("another Store on the path: Get(after) = %q, %v, %v; want the write made after the reopening", e.Value, found, err)
	}
	for _, k := range []string{"before", "lost"} {
		if _, found, err := other.Get(ctx, k); err != nil || found {
			t.Errorf("another Store on the path: Get(%s) = %v, %v; want it gone with the removed file", k, found, err)
		}
	}
	other.Close()

	// The file replaced by another database: the store moves to it the same
	// way, and the old file's -wal and -shm, still at the path, are not
	// taken for the new one's.
	backup := filepath.Join(t.TempDir(), "backup.db")
	b := open(t, sqlstore.Options{URL: "sqlite:///" + backup})
	if err := b.Set(ctx, "restored", []byte("4"), 0); err != nil {
		t.Fatal(err)
	}
	b.Close() // checkpoints: the whole database is in backup.db
	if err := os.Rename(backup, path); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "lost2", []byte("5"), 0); !errors.Is(err, sqlstore.ErrFileReplaced) {
		t.Fatalf("Set after the file was replaced: %v, want ErrFileReplaced", err)
	}
	if e, found, err := s.Get(ctx, "restored"); err != nil || !found || string(e.Value) != "4" {
		t.Errorf("Get(restored) after the file was replaced = %q, %v, %v", e.Value, found, err)
	}
	if err := s.Set(ctx, "after2", []byte("6"), 0); err != nil {
		t.Fatalf("Set after the store reopened the replaced database: %v", err)
	}
	if n := count(); n != 2 {
		t.Errorf("the reading connections see %d rows, want 2 (restored, after2)", n)
	}

	// The database file alone removed: its -wal and -shm, left at the path,
	// are the old file's, and must not be read as the new one's.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "lost3", []byte("7"), 0); !errors.Is(err, sqlstore.ErrFileReplaced) {
		t.Fatalf("Set after the database file alone was removed: %v, want ErrFileReplaced", err)
	}
	if err := s.Set(ctx, "after3", []byte("8"), 0); err != nil {
		t.Fatalf("Set after the store reopened the database: %v", err)
	}
	if n := count(); n != 1 {
		t.Errorf("the reading connections see %d rows, want 1 (after3)", n)
	}
}

// TestSQLiteFolderRemoved: the database's folder removed, and a file put
// in its place, so that the store cannot reopen the database: writes fail
// (with ErrFileReplaced) while the folder cannot be made, without running,
// and the first write once it can reopens the database and succeeds.
func TestSQLiteFolderRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	path := filepath.Join(dir, "b.db")
	s := open(t, sqlstore.Options{URL: "sqlite:///" + path})
	ctx := context.Background()
	if err := s.Set(ctx, "before", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // MkdirAll fails
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Set(ctx, "k", []byte("2"), 0); !errors.Is(err, sqlstore.ErrFileReplaced) {
			t.Fatalf("Set while the folder cannot be made: %v, want ErrFileReplaced", err)
		}
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	// The failed reopenings closed the connections: the store reopens the
	// database before the next write runs, which then lands in it.
	if err := s.Set(ctx, "k", []byte("4"), 0); err != nil {
		t.Fatalf("the first Set once the folder can be made: %v, want it to reopen the database and succeed", err)
	}
	other := open(t, sqlstore.Options{URL: "sqlite:///" + path})
	if e, found, err := other.Get(ctx, "k"); err != nil || !found || string(e.Value) != "4" {
		t.Errorf("another Store on the path: Get(k) = %q, %v, %v", e.Value, found, err)
	}
}

// A row that does not decode (hand-edited: SQLite keeps any type in any
// column) reads as missing, is logged, and Update replaces it.
func TestSQLiteCorruptRow(t *testing.T) {
	s := open(t, sqlstore.Options{URL: sqliteURL(t)})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE beaker_store SET "version" = 'garbage', "expires" = x'00ff'`); err != nil {
		t.Fatal(err)
	}
	if e, found, err := s.Get(ctx, "k"); err != nil || found {
		t.Fatalf("Get of a garbage row = %q, %v, %v; want missing, no error", e.Value, found, err)
	}
	if _, err := s.Touch(ctx, "k", time.Hour); err != nil {
		t.Fatalf("Touch of a garbage row: %v", err)
	}
	if _, found, err := s.Get(ctx, "k"); err != nil || found {
		t.Fatalf("Get of a garbage row after Touch = %v, %v; want missing", found, err)
	}
	err := s.Update(ctx, "k", store.Entry{}, time.Hour, func(cur []byte, found bool) ([]byte, error) {
		if found {
			return nil, errors.New("the garbage row was found")
		}
		return []byte("fresh"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if e, found, err := s.Get(ctx, "k"); err != nil || !found || string(e.Value) != "fresh" {
		t.Fatalf("Get after Update = %q, %v, %v", e.Value, found, err)
	}
}

// Python Beaker's table (or any other table of that name) is an error, not a
// silent mismatch.
func TestTableMismatch(t *testing.T) {
	url := sqliteURL(t)
	s := open(t, sqlstore.Options{URL: url, TableName: "other"})
	_, err := s.DB().Exec(`CREATE TABLE beaker_cache (id INTEGER PRIMARY KEY, namespace VARCHAR(255) NOT NULL UNIQUE,
		accessed DATETIME NOT NULL, created DATETIME NOT NULL, data BLOB NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlstore.Open(context.Background(), sqlstore.Options{URL: url, TableName: "beaker_cache"})
	if !errors.Is(err, sqlstore.ErrTableMismatch) || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("Open on Beaker's table: %v, want ErrTableMismatch naming its columns", err)
	}
	for _, bad := range []string{"x; DROP TABLE y", "1abc", "a.b", strings.Repeat("a", 59), "naïve"} {
		if _, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: url, TableName: bad}); !errors.Is(err, sqlstore.ErrBadTableName) {
			t.Errorf("TableName %q: %v, want ErrBadTableName", bad, err)
		}
	}
}

func TestURLs(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := sqlstore.Driver()
	for _, c := range []struct {
		url, file string
	}{
		{"sqlite:///rel.db", filepath.Join(dir, "rel.db")},                              // relative to "here"
		{"sqlite:///sub%20dir/x.db?timeout=2.5", filepath.Join(dir, "sub dir", "x.db")}, // the folder is created
		{"sqlite+pysqlite:////" + filepath.Join(dir, "abs.db")[1:], filepath.Join(dir, "abs.db")},
	} {
		s, err := d.Open(ctx, store.Config{Use: "session", Type: "ext:database", URL: c.url, Params: map[string]string{"here": dir}})
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		s.(*sqlstore.Store).Close()
		if fi, err := os.Stat(c.file); err != nil {
			t.Errorf("%s: no database at %s: %v", c.url, c.file, err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: database file mode %v, want 0600", c.url, fi.Mode())
		}
	}
	for _, c := range []struct{ typ, url string }{
		{"ext:database", "mysql://u@h/db"},
		{"ext:database", "sqlite:///x.db?mode=ro"},
		{"ext:database", "sqlite://relative.db"},
		{"ext:database", "no scheme"},
		{"ext:database", ""},
		{"postgresql", "sqlite:///x.db"},
		{"sqlite", "postgresql://u:secret@127.0.0.1:1/db"},
	} {
		_, err := d.Open(ctx, store.Config{Use: "session", Type: c.typ, URL: c.url, Params: map[string]string{"here": dir}})
		if err == nil {
			t.Errorf("type %s, url %q: no error", c.typ, c.url)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// The parser's error is wrapped beside ErrURL.
	for _, u := range []string{"sqlite:///x%zz.db", "sqlite:///x.db?timeout=%zz"} {
		_, err := d.Open(ctx, store.Config{Use: "session", Type: "ext:database", URL: u, Params: map[string]string{"here": dir}})
		var esc url.EscapeError
		if !errors.Is(err, sqlstore.ErrURL) || !errors.As(err, &esc) {
			t.Errorf("url %q: %v, want an error wrapping ErrURL and a url.EscapeError", u, err)
		}
	}
	_, err := d.Open(ctx, store.Config{Use: "session", Type: "ext:database", URL: "postgresql+psycopg2://u:secret@127.0.0.1:1/db?connect_timeout=1"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open on a closed port: %v; want an error that hides the password", err)
	}
	if _, err := d.Open(ctx, store.Config{Use: "session", Type: "ext:database", URL: "sqlite://", Params: map[string]string{"sql.pool_size": "0"}}); err == nil {
		t.Error("sql.pool_size = 0: no error")
	}
}

// TestURLsHidePassword: no error of Open for a URL it cannot use shows the
// password, or a piece of it when the password holds a character that
// ends the part it is in. Open fails before it connects for all of them.
func TestURLsHidePassword(t *testing.T) {
	for _, in := range []string{
		"postgresql://u:Qx7@h:99999/db",
		"postgresql://u:Qx7%zz@h/db",
		"postgresql://u:Qx7@h/db?sslmode=bogus",
		"postgresql://u:Qx7@h/db?connect_timeout=x",
		"postgres://u:Qx7a/Qx7b@h/db",
		"postgres://u:Qx7\x01@h/db",
		"u:Qx7@h://x",
		"mysql://u:Qx7@h/db",
	} {
		_, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: in})
		if !errors.Is(err, sqlstore.ErrURL) {
			t.Errorf("Open(%q): %v, want an error wrapping ErrURL", in, err)
		} else if strings.Contains(strings.ToLower(err.Error()), "qx7") {
			t.Errorf("Open(%q) shows the password: %v", in, err)
		}
	}
}

// Close stops the renewal goroutines of held leases, which are then lost.
func TestCloseStopsLeases(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: sqliteURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.TryLock(context.Background(), "x", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	default:
		t.Fatal("a lease held at Close is not lost")
	}
	if _, _, err := s.TryLock(context.Background(), "y", time.Minute); !errors.Is(err, sqlstore.ErrClosed) {
		t.Errorf("TryLock after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Lock(context.Background(), "y", time.Minute); !errors.Is(err, sqlstore.ErrClosed) {
		t.Errorf("Lock after Close: %v, want ErrClosed", err)
	}
}

// TestLockTakenDuringClose: a lock whose take is in flight when Close
// begins does not outlive Close. The hooks run Close once the lock is taken,
// and let the take go on once Close has marked the store closed: TryLock
// then returns ErrClosed, Close returns after it, and the lock is free.
func TestLockTakenDuringClose(t *testing.T) {
	url := sqliteURL(t)
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	closing := make(chan struct{})
	storetest.LockTakenDuringClose(t, s, func(f func()) { sqlstore.SetHooks(s, f, func() { close(closing) }) }, closing,
		func() store.Locker { return open(t, sqlstore.Options{URL: url}) }, sqlstore.ErrClosed)
}

// BenchmarkSQLiteGetUpdate is the store's part of a session update: a Get,
// then an Update with its entry, of a 1 KB value, under a context with a
// deadline (as session.Manager gives each request's store calls) or none.
func BenchmarkSQLiteGetUpdate(b *testing.B) {
	for _, deadline := range []bool{true, false} {
		b.Run("deadline="+strconv.FormatBool(deadline), func(b *testing.B) {
			s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + filepath.Join(b.TempDir(), "b.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			v := []byte(strings.Repeat("x", 1024))
			_ = s.Set(context.Background(), "session:abc", v, time.Hour)
			for b.Loop() {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if deadline {
					ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
				}
				last, _, err := s.Get(ctx, "session:abc")
				if err == nil {
					err = s.Update(ctx, "session:abc", last, time.Hour, func(cur []byte, found bool) ([]byte, error) { return v, nil })
				}
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// updateKeepsExpiry: an update whose expiry is within a millisecond of the
// row's keeps the row's own; a Touch between the read and the update (a
// new expiry, the same version) is not undone by it, nor does it make the
// update fail.
func updateKeepsExpiry(t *testing.T, url string) {
	clock := fakeclock.New()
	s := open(t, sqlstore.Options{URL: url, TableName: tableOn(t, url), Now: clock.Now})
	ctx := context.Background()
	set := func(v string) store.UpdateFunc {
		return func([]byte, bool) ([]byte, error) { return []byte(v), nil }
	}
	get := func() store.Entry {
		t.Helper()
		e, found, err := s.Get(ctx, "k")
		if err != nil || !found {
			t.Fatalf("Get: found %v, err %v", found, err)
		}
		return e
	}
	if err := s.Set(ctx, "k", []byte("a"), time.Hour); err != nil {
		t.Fatal(err)
	}
	first := get()
	clock.Advance(500 * time.Microsecond)
	if err := s.Update(ctx, "k", first, time.Hour, set("b")); err != nil {
		t.Fatal(err)
	}
	second := get()
	if string(second.Value) != "b" || second.Version == first.Version {
		t.Fatalf("after the update: %q version %v (was %v)", second.Value, second.Version, first.Version)
	}
	if !second.Expires.Equal(first.Expires) {
		t.Errorf("an update half a millisecond later moved the expiry from %v to %v", first.Expires, second.Expires)
	}
	// A Touch after the read (a new expiry, the same version): the
	// update's first try, which would keep the expiry it read, misses; it
	// reads again and writes its own.
	if found, err := s.Touch(ctx, "k", 2*time.Hour); err != nil || !found {
		t.Fatalf("Touch: %v %v", found, err)
	}
	if err := s.Update(ctx, "k", second, time.Hour, set("c")); err != nil {
		t.Fatal(err)
	}
	third := get()
	if string(third.Value) != "c" {
		t.Fatalf("after a touch and an update: %q, want c", third.Value)
	}
	if d := third.Expires.Sub(clock.Now()); d != time.Hour {
		t.Errorf("after a touch (2 h) and an update with a 1 h ttl, the row expires in %v", d)
	}
	// An update with a different ttl moves the expiry.
	if err := s.Update(ctx, "k", third, time.Hour, set("d")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Millisecond)
	if err := s.Update(ctx, "k", get(), time.Hour, set("e")); err != nil {
		t.Fatal(err)
	}
	if d := get().Expires.Sub(clock.Now()); d != time.Hour {
		t.Errorf("an update 2 ms after the last, with a 1 h ttl, left the row expiring in %v", d)
	}
}

func TestSQLiteUpdateKeepsExpiry(t *testing.T) { updateKeepsExpiry(t, sqliteURL(t)) }

// removeDatabase removes the SQLite database at path with its -wal and
// -shm files, as an operator's rm would, under a store that has it open.
func removeDatabase(t *testing.T, path string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// newLockedStore opens a store on a new SQLite database and takes the lock
// L on it.
func newLockedStore(t *testing.T) (s *sqlstore.Store, l store.Lease, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "b.db")
	s = open(t, sqlstore.Options{URL: "sqlite:///" + path})
	l, ok, err := s.TryLock(context.Background(), "L", time.Minute)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	return s, l, path
}

// TestSQLiteReopenLosesLeases: the locks held when the store reopens a
// replaced database were rows of the old file, which another Store may now
// take: their holders lose them at once, not at their next renewal.
func TestSQLiteReopenLosesLeases(t *testing.T) {
	s, l, path := newLockedStore(t)
	ctx := context.Background()
	removeDatabase(t, path)
	if err := s.Set(ctx, "k", []byte("v"), 0); !errors.Is(err, sqlstore.ErrFileReplaced) {
		t.Fatalf("Set after the file was removed: %v, want ErrFileReplaced", err)
	}
	select {
	case <-l.Lost():
	default:
		t.Fatal("the lease of a lock in the old file is still held after the reopening")
	}
}

// TestSQLiteRelativePathAfterChdir: a store opened on a relative path
// keeps its database when the process changes directory afterwards (a
// daemon that moves to /): the path is made absolute at Open, and no write
// is taken for one into a replaced file.
func TestSQLiteRelativePathAfterChdir(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	t.Chdir(first)
	s := open(t, sqlstore.Options{URL: "sqlite:///rel.db"})
	ctx := context.Background()
	if err := s.Set(ctx, "a", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	t.Chdir(second)
	if err := s.Set(ctx, "b", []byte("2"), 0); err != nil {
		t.Fatalf("Set after a change of directory: %v", err)
	}
	if _, found, err := s.Get(ctx, "a"); !found || err != nil {
		t.Fatalf("Get(a) after a change of directory: %v, %v; want the database as it was", found, err)
	}
	if _, err := os.Stat(filepath.Join(second, "rel.db")); err == nil {
		t.Fatal("a database was made in the new working directory")
	}
}

// TestSQLiteReleaseAfterFileRemoved: releasing a lock whose delete is the
// write that finds the database file removed returns (the reopening marks
// the leases lost, this one included), and the store serves writes after
// it; Release used to hold the lease's lock across the delete, and the
// reopening waited for it for ever, with every other caller behind it.
func TestSQLiteReleaseAfterFileRemoved(t *testing.T) {
	s, l, path := newLockedStore(t)
	ctx := context.Background()
	removeDatabase(t, path)
	released := make(chan error, 1)
	go func() { released <- l.Release(ctx) }()
	select {
	case err := <-released:
		if !errors.Is(err, sqlstore.ErrFileReplaced) {
			t.Errorf("Release: %v, want an error wrapping ErrFileReplaced", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Release did not return: the reopening waits for the lease's lock")
	}
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Set after the release: %v", err)
	}
	if err := l.Release(ctx); !errors.Is(err, sqlstore.ErrFileReplaced) {
		t.Errorf("a second Release: %v, want what the first returned", err)
	}
}

// TestCloseWaitsForRelease: Close waits for a Release whose delete is under
// way (here, waiting for the writing connection), so that the delete runs
// and the lock is free; it closed the database under it, and the row
// stayed until its lease ran out.
func TestCloseWaitsForRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + path})
	if err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.TryLock(context.Background(), "L", time.Minute)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	releaseWhileClosing(t, s, l, path, sqlstore.HoldWriter(s), true)
}

// releaseWhileClosing calls l.Release while the test holds s's writing
// connection (free gives it back), then Close once the Release is one
// that Close must wait for; it checks that Close waits for it (when
// checkWait: it gives Close the time to return if it does not), that the
// Release succeeds, and that another Store on path finds the lock free.
func releaseWhileClosing(t *testing.T, s *sqlstore.Store, l store.Lease, path string, free func(), checkWait bool) {
	t.Helper()
	ctx := context.Background()
	waiting := make(chan struct{})
	sqlstore.SetReleasingHook(s, func() { close(waiting) })
	released := make(chan error, 1)
	go func() { released <- l.Release(ctx) }()
	<-waiting
	closing := make(chan struct{})
	sqlstore.SetHooks(s, nil, func() { close(closing) })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	<-closing
	if checkWait {
		select {
		case err := <-closed:
			free()
			t.Fatalf("Close returned (%v) while a Release waited to delete its row", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	free()
	if err := <-released; err != nil {
		t.Fatalf("Release while Close runs: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	other := open(t, sqlstore.Options{URL: "sqlite:///" + path})
	if l2, ok, err := other.TryLock(ctx, "L", time.Second); err != nil || !ok {
		t.Errorf("the lock is still held after Release and Close: TryLock = %v, %v", ok, err)
	} else {
		_ = l2.Release(ctx)
	}
}

// TestReleaseDuringRenewalThenClose: a Release that must first wait for
// its lease's renewal (a write, here waiting for the writing connection)
// is already one Close waits for, so that its delete runs and the lock is
// free; it used to count itself only after the renewal, and a Close in
// between closed the database first, leaving the row for its lease.
func TestReleaseDuringRenewalThenClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + path})
	if err != nil {
		t.Fatal(err)
	}
	renewing := make(chan struct{}, 1)
	sqlstore.SetRenewingHook(s, func() { // before the renewal starts: it reads the hook
		select {
		case renewing <- struct{}{}:
		default:
		}
	})
	l, ok, err := s.TryLock(context.Background(), "L", 3*time.Second)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	free := sqlstore.HoldWriter(s)
	<-renewing // the renewal's write waits for the writer (after a third of the lease)
	releaseWhileClosing(t, s, l, path, free, false)
}
