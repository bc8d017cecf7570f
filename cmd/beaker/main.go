// Command beaker is the operators' tool for beaker for Go: it checks Beaker
// settings, makes secrets, and lists, shows, deletes and purges stored
// sessions.
//
//	beaker check-config [-section S] FILE
//	beaker gen-secret [-bytes N]
//	beaker sessions list   -config FILE [-section S]
//	beaker sessions show   -config FILE [-section S] KEY|COOKIE
//	beaker sessions delete -config FILE [-section S] KEY|COOKIE
//	beaker sessions purge  -config FILE [-section S]
//	beaker cache invalidate -config FILE [-section S] [-soft] REGION
//
// Flags may come before or after the positional arguments. Each command
// has -help. The exit status is 0 when the command did its work, 1 when it
// failed (a bad setting, a store error, no such session), and 2 for a
// command line it does not understand (an unknown command or flag, wrong
// arguments, a flag value out of range such as gen-secret -bytes 8).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newCLI(os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
