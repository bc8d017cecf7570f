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
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case base, ok := <-found:
		if !ok {
			t.Fatalf("the demo exited before listening:\n%s", log.String()) // the reader is done
		}
		return base
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not listen within 30s")
	}
	return ""
}
