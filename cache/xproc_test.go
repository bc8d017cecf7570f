package cache_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/internal/childproc"
	"github.com/gobeaker/beaker/internal/pgtest"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// Cross-process dogpile
//
// TestCrossProcessOneCreator starts the test binary twice more as helper
// processes (TestMain runs xprocHelper instead of the tests when
// xprocEnv is set). Each opens its own store on the same backend and its
// own Manager, says "ready", and waits on its stdin; the test then releases
// both at once, and each asks its region for the same missing key. The
// creator appends a line to a shared file (O_APPEND), so the file counts
// its runs across processes, and it does not return before both processes
// have entered GetOrCreate (plus creatorHold), so the two calls really
// overlap.

// xprocEnv holds the helper's xprocConfig, as JSON.
const xprocEnv = "BEAKER_CACHE_XPROC_HELPER"

// creatorHold is how long the creator keeps running after both processes
// have entered GetOrCreate: time for the other one to find the key
// missing and wait for the creation lock.
const creatorHold = 300 * time.Millisecond

func TestMain(m *testing.M) {
	if c := os.Getenv(xprocEnv); c != "" {
		if err := xprocHelper(c); err != nil {
			fmt.Fprintln(os.Stderr, "xproc helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// xprocConfig tells a helper process which store to open and where the
// shared files are.
type xprocConfig struct {
	Kind    string // redis, memcached, file, sql
	URL     string // server address(es), data folder or database URL
	Table   string // sql: the table
	Prefix  string // the region's key prefix, unique to the test
	Key     string
	Runs    string // the file the creator appends a line to
	Entered string // the file each process appends a line to before GetOrCreate
}

// xprocResult is what a helper reports.
type xprocResult struct {
	PID   int
	Value string
	Err   string
	Stats cache.Stats
}

func openXprocStore(ctx context.Context, c xprocConfig) (store.Store, error) {
	switch c.Kind {
	case "redis":
		return redisstore.Open(c.URL, redisstore.Options{})
	case "memcached":
		return memcachestore.Open(c.URL, memcachestore.Options{})
	case "file":
		return filestore.New(filestore.Options{DataDir: c.URL})
	case "sql":
		return sqlstore.Open(ctx, sqlstore.Options{URL: c.URL, TableName: c.Table})
	}
	return nil, fmt.Errorf("unknown kind %q", c.Kind)
}

// countLines returns the number of lines in the file at path (0 when it
// does not exist).
func countLines(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return strings.Count(string(b), "\n"), err
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func xprocHelper(conf string) error {
	var c xprocConfig
	if err := json.Unmarshal([]byte(conf), &c); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := openXprocStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.(io.Closer).Close()
	m, err := cache.New(cache.Options{Logger: quiet, Regions: []cache.RegionOptions{
		{Name: "xproc", Store: st, Prefix: c.Prefix, Expire: time.Hour},
	}})
	if err != nil {
		return err
	}
	defer m.Close()
	r, _ := m.Region("xproc")
	pid := os.Getpid()
	creator := func(ctx context.Context) (string, error) {
		if err := appendLine(c.Runs, fmt.Sprint(pid)); err != nil {
			return "", err
		}
		for {
			n, err := countLines(c.Entered)
			if err != nil {
				return "", err
			}
			if n >= 2 {
				break
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		time.Sleep(creatorHold)
		return fmt.Sprintf("made by process %d", pid), nil
	}

	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start: %w", err)
	}
	if err := appendLine(c.Entered, fmt.Sprint(pid)); err != nil {
		return err
	}
	res := xprocResult{PID: pid}
	v, err := cache.GetOrCreate(ctx, r, c.Key, creator)
	res.Value, res.Stats = v, r.Stats()
	if err != nil {
		res.Err = err.Error()
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// xprocProc is a running helper process.
type xprocProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr syncBuffer
	done   chan error
}

// syncBuffer is a strings.Builder safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startXproc(t *testing.T, c xprocConfig) *xprocProc {
	t.Helper()
	conf, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	childproc.DieWithParent(cmd)
	cmd.Env = append(os.Environ(), xprocEnv+"="+string(conf))
	p := &xprocProc{cmd: cmd, lines: make(chan string, 4), done: make(chan error, 1)}
	cmd.Stderr = &p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a helper process: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait() // after the scanner: Wait closes the pipe
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-p.done
		p.done <- err
	})
	return p
}

// line returns the helper's next line of output.
func (p *xprocProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			err := <-p.done
			p.done <- err
			t.Fatalf("helper process %d ended (%v) without a line; stderr:\n%s", p.cmd.Process.Pid, err, p.stderr.String())
		}
		return l
	case <-time.After(time.Minute):
		t.Fatalf("helper process %d said nothing for a minute", p.cmd.Process.Pid)
	}
	return ""
}

func TestCrossProcessOneCreator(t *testing.T) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	server := func(t *testing.T, env string) string {
		u := os.Getenv(env)
		if u == "" {
			if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s is unset and BEAKER_TEST_REQUIRE_SERVICES=1", env)
			}
			t.Skipf("%s is unset: no server", env)
		}
		return u
	}
	cases := []struct {
		name string
		conf func(t *testing.T) xprocConfig
	}{
		{"redis", func(t *testing.T) xprocConfig {
			return xprocConfig{Kind: "redis", URL: server(t, "BEAKER_TEST_REDIS_URL")}
		}},
		{"rediscluster", func(t *testing.T) xprocConfig {
			return xprocConfig{Kind: "redis", URL: server(t, "BEAKER_TEST_REDIS_CLUSTER")}
		}},
		{"memcached", func(t *testing.T) xprocConfig {
			return xprocConfig{Kind: "memcached", URL: server(t, "BEAKER_TEST_MEMCACHED")}
		}},
		{"postgresql", func(t *testing.T) xprocConfig {
			u := server(t, "BEAKER_TEST_POSTGRES_URL")
			table := "xproc_" + run
			pgtest.DropOnCleanup(t, u, table)
			return xprocConfig{Kind: "sql", URL: u, Table: table}
		}},
		{"file", func(t *testing.T) xprocConfig {
			return xprocConfig{Kind: "file", URL: t.TempDir()}
		}},
		{"sqlite", func(t *testing.T) xprocConfig {
			return xprocConfig{Kind: "sql", URL: "sqlite:///" + filepath.Join(t.TempDir(), "cache.db")}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.conf(t)
			dir := t.TempDir()
			c.Prefix = "xproc-" + run + ":"
			c.Key = "report"
			c.Runs = filepath.Join(dir, "runs")
			c.Entered = filepath.Join(dir, "entered")
			ps := []*xprocProc{startXproc(t, c), startXproc(t, c)}
			for _, p := range ps {
				if l := p.line(t); l != "ready" {
					t.Fatalf("helper said %q, want ready; stderr:\n%s", l, p.stderr.String())
				}
			}
			start := time.Now()
			for _, p := range ps { // the barrier: both wait on their stdin
				if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
					t.Fatal(err)
				}
			}
			var res []xprocResult
			for _, p := range ps {
				var r xprocResult
				l := p.line(t)
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("helper said %q: %v; stderr:\n%s", l, err, p.stderr.String())
				}
				if r.Err != "" {
					t.Fatalf("process %d: GetOrCreate: %s", r.PID, r.Err)
				}
				res = append(res, r)
			}
			t.Logf("both processes had the value %v after the start", time.Since(start).Round(time.Millisecond))

			runs, err := os.ReadFile(c.Runs)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(runs), "\n"); n != 1 {
				t.Errorf("the creator ran %d times across the two processes (in processes %q), want once",
					n, strings.Fields(string(runs)))
			}
			if res[0].Value != res[1].Value || res[0].Value == "" {
				t.Errorf("process %d got %q, process %d got %q: want one value", res[0].PID, res[0].Value, res[1].PID, res[1].Value)
			}
			// The process whose creator did not run must have waited for the
			// other's lock: proof that the two calls overlapped.
			for _, r := range res {
				t.Logf("process %d: %+v", r.PID, r.Stats)
				if r.Stats.CreatorRuns == 0 && r.Stats.LockWaits == 0 {
					t.Errorf("process %d neither created the value nor waited for the creation lock: the calls did not overlap", r.PID)
				}
			}
			for _, p := range ps {
				_ = p.stdin.Close()
				select {
				case err := <-p.done:
					p.done <- err
					if err != nil {
						t.Errorf("helper process %d: %v; stderr:\n%s", p.cmd.Process.Pid, err, p.stderr.String())
					}
				case <-time.After(time.Minute):
					t.Errorf("helper process %d did not exit", p.cmd.Process.Pid)
				}
			}
		})
	}
}
