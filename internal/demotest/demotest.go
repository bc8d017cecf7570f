// Package demotest builds and runs the beaker-demo binary for end-to-end
// tests (cmd/beaker-demo's over HTTP, e2e's in Chromium).
package demotest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build compiles the demo from moduleDir (the main module's directory) into
// a temporary directory and returns the binary's path.
func Build(t testing.TB, moduleDir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "beaker-demo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/beaker-demo")
	build.Dir = moduleDir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/beaker-demo: %v\n%s", err, out)
	}
	return bin
}

var listenRE = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)/`)

// Start runs bin on a free loopback port with args, waits until it
// listens and returns its base URL. The demo is interrupted when the test
// ends.
func Start(t testing.TB, bin string, args ...string) string {
	t.Helper()
	base, _ := Run(t, bin, args...)
	return base
}

// Run is Start that also returns stop, which interrupts the demo and waits
// until it has exited (a graceful shutdown), for tests that restart it.
// Calling stop more than once, or not at all, is fine.
func Run(t testing.TB, bin string, args ...string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		log  strings.Builder
		read = make(chan struct{}) // closed when stderr is read to its end
	)
	logText := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
			<-read
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			text := logText()
			if len(text) > 8000 {
				text = "…" + text[len(text)-8000:]
			}
			t.Logf("the demo's log (%s):\n%s", strings.Join(args, " "), text)
		}
	})
	found := make(chan string, 1)
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case base, ok := <-found:
		if !ok {
			t.Fatalf("the demo exited before listening:\n%s", logText())
		}
		return base, stop
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not listen within 30s")
	}
	return "", stop
}
