//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/internal/childproc"
	"github.com/gobeaker/beaker/settings"
)

// Faults: the demo on a private Redis server (and on two private memcached
// servers) under a steady run of requests, with the server stopped in the
// middle of the run and started again on the same port. The shared servers
// of scripts/test.sh are never touched.

// faultStoreTimeout is session.store_timeout in these tests.
const faultStoreTimeout = time.Second

// failBound is the longest a request may take to fail: the store timeout,
// plus room for a loaded machine under -race.
const failBound = faultStoreTimeout + 750*time.Millisecond

// privateServer is a server process that a test starts, stops and starts
// again on the same port.
type privateServer struct {
	t    *testing.T
	name string
	port int
	argv []string
	cmd  *exec.Cmd
}

// faultServerBinary returns the path of a server program, skipping the test
// when it is not installed (failing it under BEAKER_TEST_REQUIRE_SERVICES=1;
// scripts/services/*.sh install it).
func faultServerBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is not installed and BEAKER_TEST_REQUIRE_SERVICES=1", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func faultFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newPrivateServer starts argv, in which every "$PORT" is replaced by a
// free port, and stops it at the end of the test.
func newPrivateServer(t *testing.T, name string, argv ...string) *privateServer {
	t.Helper()
	s := &privateServer{t: t, name: name, port: faultFreePort(t)}
	for _, a := range argv {
		s.argv = append(s.argv, strings.ReplaceAll(a, "$PORT", strconv.Itoa(s.port)))
	}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *privateServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start starts the server and returns once it accepts connections.
func (s *privateServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", s.name, err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s on %s does not accept connections after 10s: %v", s.name, s.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL (a crash) and waits for its exit.
func (s *privateServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // also ends a stopped (SIGSTOP) process
	_ = s.cmd.Wait()
	s.cmd = nil
}

// signal sends sig to the running server.
func (s *privateServer) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
}

// outcome is one request of the steady run.
type outcome struct {
	worker     int
	path       string
	start, end time.Time
	code       int    // 0: no response
	err        string // the transport error, when code is 0
	retryAfter string
}

func (o outcome) took() time.Duration { return o.end.Sub(o.start) }

func (o outcome) String() string {
	if o.code == 0 {
		return fmt.Sprintf("worker %d GET %s at %s: %s after %v", o.worker, o.path,
			o.start.Format("15:04:05.000"), o.err, o.took().Round(time.Millisecond))
	}
	return fmt.Sprintf("worker %d GET %s at %s: %d after %v", o.worker, o.path,
		o.start.Format("15:04:05.000"), o.code, o.took().Round(time.Millisecond))
}

// steadyRun is a set of browsers (one cookie jar each), each sending GET
// requests in a loop, a few milliseconds apart, and recording what it got.
type steadyRun struct {
	t       *testing.T
	workers int
	tr      *http.Transport
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu  sync.Mutex
	out []outcome
}

func startSteadyRun(t *testing.T, base string, paths ...[]string) *steadyRun {
	workers := len(paths)
	r := &steadyRun{
		t: t, workers: workers, stop: make(chan struct{}),
		tr: &http.Transport{MaxIdleConnsPerHost: workers},
	}
	for w := range workers {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Transport: r.tr, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-r.stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				o := outcome{worker: w, path: paths[w][i%len(paths[w])], start: time.Now()}
				resp, err := c.Get(base + o.path)
				if err != nil {
					o.err = err.Error()
				} else {
					var body bytes.Buffer
					_, _ = body.ReadFrom(resp.Body)
					resp.Body.Close()
					o.code, o.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
				}
				o.end = time.Now()
				r.mu.Lock()
				r.out = append(r.out, o)
				r.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() { r.end() }) // when the test fails before its end
	return r
}

// repeat returns n workers' paths, each paths.
func repeat(n int, paths ...string) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = paths
	}
	return out
}

// since returns the outcomes of the requests started at or after t0.
func (r *steadyRun) since(t0 time.Time) []outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []outcome
	for _, o := range r.out {
		if !o.start.Before(t0) {
			out = append(out, o)
		}
	}
	return out
}

// waitEach waits until every worker has had n requests started at or after
// t0 that ok accepts.
func (r *steadyRun) waitEach(what string, t0 time.Time, n int, ok func(outcome) bool) {
	r.t.Helper()
	r.waitWorkers(what, t0, n, ok, func(int) bool { return true })
}

// waitWorkers waits until every worker that which selects has had n
// requests started at or after t0 that ok accepts.
func (r *steadyRun) waitWorkers(what string, t0 time.Time, n int, ok func(outcome) bool, which func(w int) bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		count := make([]int, r.workers)
		for _, o := range r.since(t0) {
			if ok(o) {
				count[o.worker]++
			}
		}
		done := true
		for w, c := range count {
			done = done && (c >= n || !which(w))
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: after 30s, requests per worker: %v, want %d each; last requests:\n%s",
				what, count, n, lastFaultOutcomes(r.since(t0), 10))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// end stops the run and waits for its workers. It may be called again.
func (r *steadyRun) end() []outcome {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
	r.tr.CloseIdleConnections()
	return r.since(time.Time{})
}

func lastFaultOutcomes(out []outcome, n int) string {
	var b strings.Builder
	for _, o := range out[max(0, len(out)-n):] {
		fmt.Fprintln(&b, "\t"+o.String())
	}
	return b.String()
}

func withCode(code int) func(outcome) bool { return func(o outcome) bool { return o.code == code } }

func anyOutcome(outcome) bool { return true }

// checkFaultFailures checks that every request of out failed through the
// session error handler (503 with its Retry-After header) within failBound,
// and returns the slowest.
func checkFaultFailures(t *testing.T, what string, out []outcome) time.Duration {
	t.Helper()
	var slowest time.Duration
	bad := 0
	for _, o := range out {
		slowest = max(slowest, o.took())
		if (o.code != http.StatusServiceUnavailable || o.retryAfter == "" || o.took() > failBound) && bad < 10 {
			bad++
			t.Errorf("%s: %v, want 503 from the error handler (with Retry-After) within %v", what, o, failBound)
		}
	}
	return slowest
}

// faultLogCounter counts the log records at error level.
type faultLogCounter struct{ errors atomic.Int64 }

func (h *faultLogCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *faultLogCounter) Handle(context.Context, slog.Record) error {
	h.errors.Add(1)
	return nil
}
func (h *faultLogCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *faultLogCounter) WithGroup(string) slog.Handler      { return h }

// faultDemo is the demo on the given settings, served by an httptest
// server whose error log (where net/http reports a handler's panic) is
// kept.
type faultDemo struct {
	once   sync.Once
	b      *beaker.Beaker
	srv    *httptest.Server
	logs   *faultLogCounter
	srvLog faultBuffer
}

func startFaultDemo(t *testing.T, ini string) *faultDemo {
	t.Helper()
	text := "[app:main]\nsession.key = akhet_demo\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n" +
		"session.store_timeout = " + strconv.Itoa(int(faultStoreTimeout/time.Second)) + "\n" +
		"cache.regions = short_term\ncache.short_term.expire = 60\n" + ini
	s, err := settings.Parse("fault.ini", strings.NewReader(text), "")
	if err != nil {
		t.Fatal(err)
	}
	d := &faultDemo{logs: &faultLogCounter{}}
	log := slog.New(d.logs)
	d.b, err = beaker.Open(context.Background(), s, beaker.Options{Logger: log, Drivers: drivers()})
	if err != nil {
		t.Fatal(err)
	}
	d.srv = httptest.NewUnstartedServer(newHandler(d.b, log))
	d.srv.Config.ErrorLog = faultLogger(&d.srvLog)
	d.srv.Start()
	t.Cleanup(func() { d.close(t) }) // when the test fails before its end
	return d
}

// close stops the server and closes the Beaker. It may be called again.
func (d *faultDemo) close(t *testing.T) {
	t.Helper()
	d.once.Do(func() {
		d.srv.Close()
		if err := d.b.Close(); err != nil {
			t.Errorf("Beaker.Close: %v", err)
		}
		if strings.Contains(d.srvLog.String(), "panic") {
			t.Errorf("the server logged a panic:\n%s", d.srvLog.String())
		}
	})
}

// checkFaultCodes checks that every request got a 200 or a 503: no other error,
// no broken connection (a handler's panic).
func checkFaultCodes(t *testing.T, out []outcome) {
	t.Helper()
	codes := map[int]int{}
	bad := 0
	for _, o := range out {
		codes[o.code]++
		if o.code != http.StatusOK && o.code != http.StatusServiceUnavailable && bad < 10 {
			bad++
			t.Errorf("%v, want 200 or 503", o)
		}
	}
	t.Logf("%d requests: %v (status: count)", len(out), codes)
}

// faultBuffer is a bytes.Buffer safe for concurrent use.
type faultBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *faultBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *faultBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// goroutineStacks returns the stacks of the running goroutines by id.
func goroutineStacks() map[int]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if m := goroutineHeader.FindStringSubmatch(g); m != nil {
			id, _ := strconv.Atoi(m[1])
			out[id] = g
		}
	}
	return out
}

var goroutineHeader = regexp.MustCompile(`^goroutine (\d+) `)

// checkNoLeak waits (up to 10s) until no goroutine is left that was not
// running in before: whatever the test started (the Beaker's stores and
// clients, the demo's server, the browsers' connections) must have ended.
// go.uber.org/goleak is not a dependency; this is its check, by goroutine id.
func checkNoLeak(t *testing.T, before map[int]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var leaked []string
		for id, g := range goroutineStacks() {
			if _, ok := before[id]; !ok {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(leaked)
			t.Fatalf("%d goroutines started by the test still run 10s after Close:\n\n%s",
				len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverConns returns the number of client connections that the server
// counts (Redis's connected_clients, memcached's curr_connections), this
// query's own included.
func (s *privateServer) serverConns() (int, error) {
	c, err := net.DialTimeout("tcp", s.addr(), time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	query, field := "INFO clients\r\n", "connected_clients:"
	if strings.HasPrefix(s.name, "memcached") {
		query, field = "stats\r\n", "STAT curr_connections "
	}
	if _, err := c.Write([]byte(query)); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("%s: no %q in the answer to %q: %v", s.name, field, query, err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field); ok {
			return strconv.Atoi(v)
		}
	}
}

// checkConnsClosed waits (up to 10s) until the server counts as many
// connections as it did when want was read: the Beaker closed its clients.
func (s *privateServer) checkConnsClosed(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.serverConns()
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s counts %d connections 10s after Close, %d before Open: the Beaker left connections open", s.name, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func faultLogger(w *faultBuffer) *log.Logger { return log.New(w, "", 0) }

// TestRedisOutage runs the demo (sessions and its cache region on a private
// Redis server) under a steady run of requests, and in its middle freezes
// the server (SIGSTOP: connections hang), then kills it (connections are
// refused), then starts it again on the same port. While it is down every
// request fails with the error handler's 503 within the store timeout;
// once it is back requests succeed again, in the same Beaker; after Close
// no goroutine is left.
//
// Workers 0-3 load and change their sessions (GET /, GET /api/session);
// workers 4-5 use the cache region too (GET /cached). While the server is
// frozen, a GET /cached takes far longer than the store timeout (about
// 15s with a 1s timeout: the region's GetOrCreate makes several backend
// calls in a row, each bounded only by the client's timeouts and retries),
// so the frozen phase checks the session workers only and logs the cache
// workers' times.
func TestRedisOutage(t *testing.T) {
	bin := faultServerBinary(t, "redis-server")
	dir := t.TempDir()
	srv := newPrivateServer(t, "redis-server", bin, "--bind", "127.0.0.1", "--port", "$PORT",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	conns, err := srv.serverConns()
	if err != nil {
		t.Fatal(err)
	}
	before := goroutineStacks()

	url := "redis://" + srv.addr() + "/0"
	d := startFaultDemo(t, "session.type = ext:redis\nsession.url = "+url+"\ncache.type = ext:redis\ncache.url = "+url+"\n")
	paths := append(repeat(4, "/", "/api/session"), repeat(2, "/cached")...)
	sessionWorker := func(w int) bool { return w < 4 }
	run := startSteadyRun(t, d.srv.URL, paths...)
	run.waitEach("before the outage", time.Time{}, 3, withCode(http.StatusOK))

	// A frozen server: connections open, no answer.
	tFreeze := time.Now()
	srv.signal(syscall.SIGSTOP)
	time.Sleep(failBound) // the requests in flight at the freeze end
	tFrozen := time.Now()
	run.waitWorkers("server frozen", tFrozen, 3, anyOutcome, sessionWorker)
	tKill := time.Now()
	srv.kill() // SIGKILL ends the stopped process
	var frozen []outcome
	for _, o := range run.since(tFrozen) {
		if sessionWorker(o.worker) {
			frozen = append(frozen, o)
		}
	}
	slowest := checkFaultFailures(t, "server frozen", frozen)
	t.Logf("server frozen: %d session requests failed within %v (store timeout %v)",
		len(frozen), slowest.Round(time.Millisecond), faultStoreTimeout)

	// A dead server: connections refused.
	time.Sleep(failBound)
	tDead := time.Now()
	run.waitEach("server down", tDead, 3, anyOutcome)
	tRestart := time.Now()
	down := run.since(tDead)
	srv.start()
	tReady := time.Now()
	slowest = checkFaultFailures(t, "server down", down)
	t.Logf("server down: %d requests failed within %v", len(down), slowest.Round(time.Millisecond))
	if d.logs.errors.Load() == 0 {
		t.Error("the outage logged nothing at error level")
	}

	// The server is back (empty: the sessions are gone, the browsers get
	// new ones).
	run.waitEach("server back", tReady, 2, withCode(http.StatusOK))
	out := run.end()
	logFaultRecovery(t, out, tRestart, tReady, len(paths))
	var cacheSlowest time.Duration
	for _, o := range out {
		if !sessionWorker(o.worker) && o.end.After(tFreeze) && o.start.Before(tKill) {
			cacheSlowest = max(cacheSlowest, o.took())
		}
	}
	t.Logf("outage: frozen %v, dead %v; GET /cached while frozen took up to %v",
		tKill.Sub(tFreeze).Round(time.Millisecond), tRestart.Sub(tKill).Round(time.Millisecond), cacheSlowest.Round(time.Millisecond))
	checkFaultCodes(t, out)

	d.close(t)
	checkNoLeak(t, before)
	srv.checkConnsClosed(t, conns)
}

// logFaultRecovery logs how long after the server accepted connections again
// the first request succeeded, and the first of every worker.
func logFaultRecovery(t *testing.T, out []outcome, tRestart, tReady time.Time, workers int) {
	t.Helper()
	first := make([]time.Time, workers)
	for _, o := range out {
		if o.code == http.StatusOK && !o.start.Before(tReady) && (first[o.worker].IsZero() || o.end.Before(first[o.worker])) {
			first[o.worker] = o.end
		}
	}
	var earliest, latest time.Time
	for _, f := range first {
		if earliest.IsZero() || f.Before(earliest) {
			earliest = f
		}
		if f.After(latest) {
			latest = f
		}
	}
	t.Logf("recovery: the server took %v to accept connections; then the first request succeeded after %v, every worker's after %v",
		tReady.Sub(tRestart).Round(time.Millisecond), earliest.Sub(tReady).Round(time.Millisecond), latest.Sub(tReady).Round(time.Millisecond))
}

// TestMemcachedOutage runs the demo on two private memcached servers under
// a steady run of requests and kills one of them: the browsers whose
// session is on it get the error handler's 503 within the store timeout,
// the others go on as before (the cache region degrades to calling its
// creator where its keys are on the dead server). Once the server is back
// on its port, every browser succeeds again; after Close no goroutine is
// left.
func TestMemcachedOutage(t *testing.T) {
	bin := faultServerBinary(t, "memcached")
	argv := []string{bin, "-l", "127.0.0.1", "-p", "$PORT", "-U", "0", "-m", "16"}
	if os.Geteuid() == 0 {
		argv = append(argv, "-u", "nobody") // memcached refuses to run as root
	}
	a := newPrivateServer(t, "memcached A", argv...)
	b := newPrivateServer(t, "memcached B", argv...)
	connsA, err := a.serverConns()
	if err != nil {
		t.Fatal(err)
	}
	connsB, err := b.serverConns()
	if err != nil {
		t.Fatal(err)
	}
	before := goroutineStacks()

	servers := a.addr() + ";" + b.addr()
	d := startFaultDemo(t, "session.type = ext:memcached\nsession.url = "+servers+"\ncache.type = ext:memcached\ncache.url = "+servers+"\n")
	// Each browser's session is on one of the two servers, by its key: with
	// 24 browsers, both servers hold some (all on one: odds of 2 in 2^24).
	const workers = 24
	run := startSteadyRun(t, d.srv.URL, repeat(workers, "/", "/cached")...)
	run.waitEach("before the outage", time.Time{}, 3, withCode(http.StatusOK))

	tKill := time.Now()
	a.kill()
	time.Sleep(failBound)
	tDead := time.Now()
	run.waitEach("server A down", tDead, 4, anyOutcome)
	tRestart := time.Now()
	a.start()
	tReady := time.Now()

	// Each browser either fails on every request (its session is on A) or
	// succeeds on every one.
	byWorker := make([][]outcome, workers)
	for _, o := range run.since(tDead) {
		if o.start.Before(tRestart) {
			byWorker[o.worker] = append(byWorker[o.worker], o)
		}
	}
	var failed, served []int
	for w, outs := range byWorker {
		if outs[0].code == http.StatusOK {
			served = append(served, w)
			for _, o := range outs {
				if o.code != http.StatusOK {
					t.Errorf("%v: this browser's other requests succeeded while A was down", o)
				}
			}
			continue
		}
		failed = append(failed, w)
		checkFaultFailures(t, "server A down", outs)
	}
	t.Logf("server A down: browsers %v failed, browsers %v were served", failed, served)
	if len(failed) == 0 || len(served) == 0 {
		t.Errorf("with server A down, %d browsers failed and %d were served: want some of each", len(failed), len(served))
	}
	if d.logs.errors.Load() == 0 {
		t.Error("the outage logged nothing at error level")
	}

	run.waitEach("server A back", tReady, 2, withCode(http.StatusOK))
	out := run.end()
	logFaultRecovery(t, out, tRestart, tReady, workers)
	t.Logf("outage: server A down for %v", tRestart.Sub(tKill).Round(time.Millisecond))
	checkFaultCodes(t, out)

	d.close(t)
	checkNoLeak(t, before)
	a.checkConnsClosed(t, connsA)
	b.checkConnsClosed(t, connsB)
}
