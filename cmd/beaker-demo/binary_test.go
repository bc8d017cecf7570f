package main

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

// TestExamples builds the demo binary and, for every examples/*.ini whose
// store this environment can serve, starts it with -config and walks
// through the app over HTTP.
func TestExamples(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "beaker-demo")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	files, err := filepath.Glob("../../examples/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			base := startDemo(t, bin, "-config", f)
			walkthrough(t, base)
		})
	}
	t.Run("built-in", func(t *testing.T) { walkthrough(t, startDemo(t, bin)) })
}

var listenRE = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)/`)

// startDemo runs the binary on a free port and returns its base URL.
func startDemo(t *testing.T, bin string, args ...string) string {
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
		t.Fatal("the demo did not start listening within 30s")
	}
	return ""
}
