//go:build linux

package childproc_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/childproc"
)

// TestMain lets the test binary act as the parent whose death is tested:
// started with CHILDPROC_PARENT=1, it starts a long sleep, prints its pid
// and exits at once, running no cleanup.
func TestMain(m *testing.M) {
	if os.Getenv("CHILDPROC_PARENT") == "1" {
		cmd := exec.Command("sleep", "60")
		if os.Getenv("CHILDPROC_TETHER") == "true" {
			childproc.DieWithParent(cmd)
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(cmd.Process.Pid)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestChildDiesWithParent starts a parent that starts a sleep and exits:
// the sleep must be gone soon after, though no one killed it.
func TestChildDiesWithParent(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Fatal("sleep is not installed")
	}
	for _, tethered := range []bool{true, false} {
		t.Run(fmt.Sprintf("tethered=%v", tethered), func(t *testing.T) {
			parent := exec.Command(os.Args[0], "-test.run=^$")
			parent.Env = append(os.Environ(), "CHILDPROC_PARENT=1", "CHILDPROC_TETHER="+strconv.FormatBool(tethered))
			out, err := parent.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := parent.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("reading the child's pid: %v", err)
			}
			_ = parent.Wait()
			pid, err := strconv.Atoi(line[:len(line)-1])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			// The sleep is now an orphan; once it is killed it is a
			// zombie until its new parent (init, or a subreaper) reaps
			// it, so "gone" reads /proc's state, not kill(pid, 0). An
			// untethered child is given 200 ms to show that it stays.
			wait := 200 * time.Millisecond
			if tethered {
				wait = 5 * time.Second
			}
			deadline := time.Now().Add(wait)
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := alive(pid); got == tethered {
				t.Fatalf("tethered=%v: the child is alive=%v after its parent exited", tethered, got)
			}
		})
	}
}

// alive reports whether pid is a process that runs (not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	return true
}
