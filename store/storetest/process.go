package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Cross-process cases
//
// A lock or an update that must hold across processes is checked with a
// real second process: the test binary itself, started again with
// environment variables that make its TestMain run one helper command
// against a second store on the same backend (the same data folder, the
// same database table) instead of the tests.

// Helper enables the cross-process cases (Options.Helper). The store's test
// package must call HelperMain at the start of its TestMain.
type Helper struct {
	// Config is handed to the helper process, where HelperMain passes it to
	// its open function: what that function needs to open a second store
	// on the same data as the store under test (a data folder, a database
	// URL and table name).
	Config string
}

// Environment of a helper process.
const (
	helperEnv     = "BEAKER_STORETEST_HELPER"        // the command and its arguments, space-separated
	helperConfEnv = "BEAKER_STORETEST_HELPER_CONFIG" // Helper.Config
)

// HelperMain runs the helper command and exits when the test binary was
// started as a helper process by a cross-process case; otherwise it returns
// at once. Call it first in TestMain:
//
//	func TestMain(m *testing.M) {
//		storetest.HelperMain(func(ctx context.Context, config string) (store.Store, error) {
//			return mystore.New(mystore.Options{Dir: config})
//		})
//		os.Exit(m.Run())
//	}
func HelperMain(open func(ctx context.Context, config string) (store.Store, error)) {
	cmd := os.Getenv(helperEnv)
	if cmd == "" {
		return
	}
	if err := runHelper(open, strings.Fields(cmd)); err != nil {
		fmt.Fprintln(os.Stderr, "storetest helper:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runHelper(open func(ctx context.Context, config string) (store.Store, error), args []string) error {
	ctx := context.Background()
	s, err := open(ctx, os.Getenv(helperConfEnv))
	if err != nil {
		return err
	}
	if c, ok := s.(io.Closer); ok {
		defer c.Close()
	}
	argInt := func(i int) (int, error) {
		if i >= len(args) {
			return 0, fmt.Errorf("%s: missing argument %d", args[0], i)
		}
		return strconv.Atoi(args[i])
	}
	switch args[0] {
	case "hold": // hold NAME LEASE_MS: take the lock, say so, and hang until killed (or stdin closes)
		ms, err := argInt(2)
		if err != nil {
			return err
		}
		l, err := s.(store.Locker).Lock(ctx, args[1], time.Duration(ms)*time.Millisecond)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return l.Release(ctx)
	case "update": // update KEY N: N increments of the counter under KEY with Update
		n, err := argInt(2)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		for range n {
			if err := increment(ctx, s, args[1]); err != nil {
				return err
			}
		}
	case "lockcount": // lockcount LOCK KEY N: N increments of KEY with Get and Set inside LOCK
		n, err := argInt(3)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		for range n {
			if err := lockedIncrement(ctx, s, args[1], args[2]); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	fmt.Println("done")
	return nil
}

func parseCounter(cur []byte, found bool) (int, error) {
	if !found {
		return 0, nil
	}
	n, err := strconv.Atoi(string(cur))
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", cur, err)
	}
	return n, nil
}

// increment adds one to the counter under key with Update, after a Get (so
// that a store with versions makes its conditional first try).
func increment(ctx context.Context, s store.Store, key string) error {
	last, _, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	return s.(store.Updater).Update(ctx, key, last, time.Hour, func(cur []byte, found bool) ([]byte, error) {
		n, err := parseCounter(cur, found)
		return []byte(strconv.Itoa(n + 1)), err
	})
}

// lockedIncrement adds one to the counter under key with a plain Get and
// Set, which only the lock named name keeps from losing increments.
func lockedIncrement(ctx context.Context, s store.Store, name, key string) error {
	l, err := s.(store.Locker).Lock(ctx, name, longLease)
	if err != nil {
		return err
	}
	e, found, err := s.Get(ctx, key)
	if err == nil {
		var n int
		if n, err = parseCounter(e.Value, found); err == nil {
			err = s.Set(ctx, key, []byte(strconv.Itoa(n+1)), time.Hour)
		}
	}
	if rerr := l.Release(ctx); err == nil {
		err = rerr
	}
	return err
}

// helperProc is a running helper process.
type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its stdout, line by line; closed at EOF
	done  chan error  // its exit
	mu    sync.Mutex
	err   strings.Builder // its stderr
}

func (st *suite) startHelper(t *testing.T, args ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(args, " "), helperConfEnv+"="+st.opts.Helper.Config)
	p := &helperProc{cmd: cmd, lines: make(chan string, 16), done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.err}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the helper process: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func (p *helperProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err.String()
}

// expect waits for the helper to print want.
func (p *helperProc) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatalf("the helper process exited before saying %q; stderr: %s", want, p.stderr())
		}
		if line != want {
			t.Fatalf("the helper process said %q, want %q; stderr: %s", line, want, p.stderr())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the helper process did not say %q within 30s; stderr: %s", want, p.stderr())
	}
}

// kill ends the helper with SIGKILL and waits for it to be gone.
func (p *helperProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	for range p.lines {
	}
	err := <-p.done
	p.done <- err
}

// processDeadHolder has another process take a lock and then kills it with
// SIGKILL: the lock must free itself (at once for flock, once its lease has
// run out for a lease-based store).
func (st *suite) processDeadHolder(t *testing.T) {
	lease := st.opts.TTL
	name := st.key(t, "lock")
	p := st.startHelper(t, "hold", name, strconv.FormatInt(lease.Milliseconds(), 10))
	p.expect(t, "locked")
	st.wantHeld(t, name)
	time.Sleep(lease) // the holder is alive: its renewals must keep the lock past its lease
	st.wantHeld(t, name)
	p.kill(t)
	l := st.waitLock(t, name, lease)
	st.mustRelease(t, l)
}

// processUpdate has this process and another one increment one counter
// with Update at the same time: no increment may be lost.
func (st *suite) processUpdate(t *testing.T) {
	k := st.key(t, "counter")
	const n = 100
	p := st.startHelper(t, "update", k, strconv.Itoa(n))
	p.expect(t, "ready")
	for range n {
		if err := increment(ctx(t), st.s, k); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	p.expect(t, "done")
	st.wantValue(t, k, []byte(strconv.Itoa(2*n)))
}

// processLock has this process and another one increment a counter with a
// plain Get and Set inside one named lock: the lock alone keeps increments
// from being lost.
func (st *suite) processLock(t *testing.T) {
	name, k := st.key(t, "lock"), st.key(t, "counter")
	const n = 50
	p := st.startHelper(t, "lockcount", name, k, strconv.Itoa(n))
	p.expect(t, "ready")
	for range n {
		if err := lockedIncrement(ctx(t), st.s, name, k); err != nil {
			t.Fatalf("locked increment: %v", err)
		}
	}
	p.expect(t, "done")
	st.wantValue(t, k, []byte(strconv.Itoa(2*n)))
}
