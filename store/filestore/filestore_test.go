package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/childproc"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/storetest"
)

// writerEnv makes the test binary a process that rewrites one key in a loop
// until it is killed (TestKillDuringWrite).
const writerEnv = "FILESTORE_TEST_WRITER"

func TestMain(m *testing.M) {
	storetest.HelperMain(func(ctx context.Context, dir string) (store.Store, error) {
		return filestore.New(filestore.Options{DataDir: dir})
	})
	if dir := os.Getenv(writerEnv); dir != "" {
		writeForever(dir)
	}
	os.Exit(m.Run())
}

func newStore(t *testing.T, opts filestore.Options) *filestore.Store {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s, err := filestore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, filestore.Options{DataDir: dir})
	storetest.Run(t, s, storetest.Options{TTL: 100 * time.Millisecond, Local: true, Helper: &storetest.Helper{Config: dir}})
}

func TestConformanceSeparateLockDir(t *testing.T) {
	s := newStore(t, filestore.Options{LockDir: t.TempDir(), Sync: true})
	storetest.Run(t, s, storetest.Options{TTL: 100 * time.Millisecond, Local: true})
}

// Two Stores on one folder behave like two processes: the flock is per open
// file, so it excludes a second Store of the same process too.
func TestTwoStoresOneDir(t *testing.T) {
	dir := t.TempDir()
	a := newStore(t, filestore.Options{DataDir: dir})
	b := newStore(t, filestore.Options{DataDir: dir})
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
				err := s.Update(ctx, "counter", store.Entry{}, 0, func(cur []byte, found bool) ([]byte, error) {
					n, _ := strconv.Atoi(string(cur))
					return []byte(strconv.Itoa(n + 1)), nil
				})
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
	_ = l.Release(ctx)
}

// recordFiles returns the record files under dir.
func recordFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "records"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".rec") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestLayoutAndModes(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, filestore.Options{DataDir: dir})
	ctx := context.Background()
	evil := "../../../../etc/passwd\x00/" + strings.Repeat("x", 5000)
	if err := s.Set(ctx, evil, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	files := recordFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("record files: %q, want one", files)
	}
	rel, _ := filepath.Rel(dir, files[0])
	parts := strings.Split(rel, string(filepath.Separator))
	if len(parts) != 4 || parts[0] != "records" || len(parts[1]) != 1 || len(parts[2]) != 2 ||
		!strings.HasPrefix(parts[3], parts[2]) || !strings.HasPrefix(parts[2], parts[1]) {
		t.Fatalf("record path %q, want records/{h[0]}/{h[:2]}/{h}.rec", rel)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700 | fs.ModeDir
		}
		if path != dir && info.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, info.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, evil); err != nil || !found {
		t.Fatalf("Get = %v, %v", found, err)
	}
}

func TestCorruptRecordIsMissing(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	var mu sync.Mutex
	s := newStore(t, filestore.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(&syncWriter{mu: &mu, w: &logs}, nil))})
	ctx := context.Background()
	value := bytes.Repeat([]byte("session data "), 100)
	for i, damage := range []func(b []byte) []byte{
		func(b []byte) []byte { return b[:len(b)/2] },                                  // truncated
		func(b []byte) []byte { return nil },                                           // empty
		func(b []byte) []byte { b[len(b)-1] ^= 1; return b },                           // one bit flipped
		func(b []byte) []byte { return []byte("garbage that is not a record at all") }, // garbage
	} {
		key := "k" + strconv.Itoa(i)
		if err := s.Set(ctx, key, value, time.Hour); err != nil {
			t.Fatal(err)
		}
		files := recordFiles(t, dir)
		var path string
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte(key+"session")) {
				path = f
			}
		}
		b, _ := os.ReadFile(path)
		if err := os.WriteFile(path, damage(b), 0o600); err != nil {
			t.Fatal(err)
		}
		if e, found, err := s.Get(ctx, key); err != nil || found {
			t.Fatalf("damage %d: Get = %q, %v, %v; want missing, no error", i, e.Value, found, err)
		}
		if found, err := s.Touch(ctx, key, time.Hour); err != nil || found {
			t.Fatalf("damage %d: Touch = %v, %v; want false, nil", i, found, err)
		}
		err := s.Update(ctx, key, store.Entry{}, time.Hour, func(cur []byte, found bool) ([]byte, error) {
			if found {
				return nil, errors.New("a corrupt record was found")
			}
			return []byte("fresh"), nil
		})
		if err != nil {
			t.Fatalf("damage %d: Update: %v", i, err)
		}
		if e, _, _ := s.Get(ctx, key); string(e.Value) != "fresh" {
			t.Fatalf("damage %d: Get after Update = %q", i, e.Value)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "corrupt record"); n < 4 {
		t.Fatalf("%d corrupt records logged, want at least 4; log: %s", n, logs.String())
	}
	// A corrupt file is removed by the purge.
	if err := s.Set(ctx, "bad", value, 0); err != nil {
		t.Fatal(err)
	}
	for _, f := range recordFiles(t, dir) {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte("badsession")) {
			_ = os.WriteFile(f, b[:10], 0o600)
		}
	}
	if n, err := s.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1 (the corrupt file)", n, err)
	}
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func TestPurgeRemovesFoldersTempAndLocks(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	clock := func() time.Time { return now }
	s := newStore(t, filestore.Options{DataDir: dir, Now: clock})
	ctx := context.Background()
	for i := range 50 {
		if err := s.Set(ctx, "k"+strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, "keep", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	held, err := s.Lock(ctx, "held", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	// A crash in the middle of a write leaves a temporary file behind.
	keepDir := filepath.Dir(recordFiles(t, dir)[0])
	tmp := filepath.Join(keepDir, ".0123.tmp-99")
	if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-time.Hour)
	_ = os.Chtimes(tmp, old, old)

	now = now.Add(2 * time.Minute)
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 50 {
		t.Fatalf("PurgeExpired = %d, %v; want 50", n, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old temporary file survived the purge: %v", err)
	}
	if files := recordFiles(t, dir); len(files) != 1 {
		t.Fatalf("records after purge: %q, want only keep's", files)
	}
	count := func(root string) (dirs, files int) {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && path != root {
				if d.IsDir() {
					dirs++
				} else {
					files++
				}
			}
			return nil
		})
		return
	}
	if d, f := count(filepath.Join(dir, "records")); d != 2 || f != 1 {
		t.Fatalf("records tree after purge: %d folders, %d files; want 2 and 1", d, f)
	}
	if d, f := count(filepath.Join(dir, "lock")); d != 2 || f != 1 {
		t.Fatalf("lock tree after purge: %d folders, %d files; want only the held lock's (2 and 1)", d, f)
	}
	// The held lock is still exclusive after the purge; a purged one works.
	if _, ok, err := s.TryLock(ctx, "held", time.Minute); ok || err != nil {
		t.Fatalf("TryLock of the held lock after a purge = %v, %v", ok, err)
	}
	if err := s.Set(ctx, "k1", []byte("again"), 0); err != nil {
		t.Fatal(err)
	}
}

// Purges that run beside writers, lockers and each other never make an
// operation fail or two holders share a lock.
func TestPurgeConcurrentWithWrites(t *testing.T) {
	s := newStore(t, filestore.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := s.PurgeExpired(context.Background()); err != nil {
				errs <- err
				return
			}
		}
	})
	var inside sync.Mutex
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 300; i++ {
				k := fmt.Sprintf("w%d-%d", w, i%7)
				if err := s.Set(context.Background(), k, []byte("v"), time.Nanosecond); err != nil {
					errs <- err
					return
				}
				l, err := s.Lock(context.Background(), "shared", time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if !inside.TryLock() {
					errs <- errors.New("two holders of one lock")
				} else {
					inside.Unlock()
				}
				_ = l.Release(context.Background())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	if _, err := filestore.New(filestore.Options{}); !errors.Is(err, filestore.ErrNoDataDir) {
		t.Fatalf("New without DataDir: %v, want ErrNoDataDir", err)
	}
	d := filestore.Driver()
	if d.Types[0] != "file" {
		t.Fatalf("Types = %q", d.Types)
	}
	ctx := context.Background()
	if _, err := d.Open(ctx, store.Config{Use: "session", Params: map[string]string{}}); !errors.Is(err, filestore.ErrNoDataDir) {
		t.Fatalf("Open without data_dir: %v", err)
	}
	if _, err := d.Open(ctx, store.Config{Use: "session", DataDir: t.TempDir(), Params: map[string]string{"file.fsync": "maybe"}}); err == nil {
		t.Fatal("Open with file.fsync = maybe: no error")
	}
	lockDir := filepath.Join(t.TempDir(), "locks")
	s, err := d.Open(ctx, store.Config{Use: "session", DataDir: t.TempDir(), LockDir: lockDir, Params: map[string]string{"file.fsync": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.(store.Locker).Lock(ctx, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lockDir); err != nil {
		t.Fatalf("lock_dir not used: %v", err)
	}
}

// writeForever is the body of the writer process of TestKillDuringWrite:
// it rewrites one key with large values, alternately all 'a' and all 'b',
// until it is killed.
func writeForever(dir string) {
	s, err := filestore.New(filestore.Options{DataDir: dir})
	if err != nil {
		os.Exit(2)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		v := bytes.Repeat([]byte{"ab"[i%2]}, 4<<20)
		if err := s.Set(ctx, "key", v, 0); err != nil {
			os.Exit(3)
		}
		if i == 0 {
			os.Stdout.WriteString("written\n")
		}
	}
}

// kill -9 of a process in the middle of writes leaves a whole record: the
// old value or the new one, never a mix or a truncated file.
func TestKillDuringWrite(t *testing.T) {
	dir := t.TempDir()
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		childproc.DieWithParent(cmd)
		cmd.Env = append(os.Environ(), writerEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		if _, err := out.Read(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+round*13) * time.Millisecond) // somewhere in a write
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s := newStore(t, filestore.Options{DataDir: dir})
		e, found, err := s.Get(context.Background(), "key")
		if err != nil || !found {
			t.Fatalf("round %d: Get after kill -9 = %v, %v; want the last whole record", round, found, err)
		}
		if len(e.Value) != 4<<20 || (!bytes.Equal(e.Value, bytes.Repeat([]byte("a"), 4<<20)) && !bytes.Equal(e.Value, bytes.Repeat([]byte("b"), 4<<20))) {
			t.Fatalf("round %d: a torn record of %d bytes", round, len(e.Value))
		}
	}
}

func BenchmarkSet(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run("fsync="+strconv.FormatBool(sync), func(b *testing.B) {
			s, err := filestore.New(filestore.Options{DataDir: b.TempDir(), Sync: sync})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			v := bytes.Repeat([]byte("x"), 1024)
			for b.Loop() {
				if err := s.Set(ctx, "session:abc", v, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetUpdate(b *testing.B) {
	s, err := filestore.New(filestore.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	v := bytes.Repeat([]byte("x"), 1024)
	_ = s.Set(ctx, "session:abc", v, time.Hour)
	for b.Loop() {
		last, _, err := s.Get(ctx, "session:abc")
		if err != nil {
			b.Fatal(err)
		}
		err = s.Update(ctx, "session:abc", last, time.Hour, func(cur []byte, found bool) ([]byte, error) { return v, nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTruncateWrite is the baseline of BenchmarkSet: what gorilla's
// FilesystemStore does (os.WriteFile: truncate and write in place, no lock,
// not crash-safe), on the same disk in the same run.
func BenchmarkTruncateWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "session_abc")
	v := bytes.Repeat([]byte("x"), 1024)
	for b.Loop() {
		if err := os.WriteFile(path, v, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExpiryBefore1970: on a clock before 1970 (a negative Unix time) a
// record written with a 1 s ttl is gone a minute later, and one written
// with the longest ttl a Duration holds is still there.
func TestExpiryBefore1970(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC).UnixNano())
	s := newStore(t, filestore.Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	for key, ttl := range map[string]time.Duration{"short": time.Second, "long": time.Duration(math.MaxInt64)} {
		if err := s.Set(ctx, key, []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	now.Add(int64(time.Minute))
	if _, found, err := s.Get(ctx, "short"); found || err != nil {
		t.Errorf("a record with a 1 s ttl a minute later: found %v, %v", found, err)
	}
	if _, found, err := s.Get(ctx, "long"); !found || err != nil {
		t.Errorf("a record with the longest ttl: found %v, %v", found, err)
	}
	// A record that expires at the epoch: its expiry, 0, is not "never".
	if err := s.Set(ctx, "epoch", []byte("v"), time.Duration(-now.Load())); err != nil {
		t.Fatal(err)
	}
	now.Store(int64(time.Minute))
	if _, found, err := s.Get(ctx, "epoch"); found || err != nil {
		t.Errorf("a record that expired at the epoch, a minute later: found %v, %v", found, err)
	}
}
