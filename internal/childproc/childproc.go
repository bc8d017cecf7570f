// Package childproc ties the servers that tests start (a private
// redis-server, a memcached, a copy of the test binary) to the test
// process, so that none is left running when the test binary dies without
// running its cleanups: a `go test -timeout` panic, a SIGKILL.
package childproc

import "os/exec"

// DieWithParent arranges for the process cmd starts to be killed when the
// process that starts it exits, however it exits. Call it before
// cmd.Start. On Linux it sets the parent-death signal (SIGKILL); elsewhere
// it does nothing, and the test's cleanups are all there is.
//
// Linux sends the signal when the OS thread that started the child exits,
// not only the process: a goroutine that calls runtime.LockOSThread and
// returns without unlocking ends its thread. Tests that start servers do
// not do that.
func DieWithParent(cmd *exec.Cmd) { dieWithParent(cmd) }
