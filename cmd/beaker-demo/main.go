// Command beaker-demo is the Akhet Demo in Go: a small web app that shows
// beaker for Go's sessions, flash messages and CSRF protection.
//
//	go run ./cmd/beaker-demo [-addr 127.0.0.1:6543]
//
// Its built-in settings are the Akhet demo's development.ini: memory
// sessions in a cookie named akhet_demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

// The seed's settings (Akhet's development.ini).
const (
	seedCookieName = "akhet_demo"
	seedSecret     = "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6543", "address to listen on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, log); err != nil {
		fmt.Fprintln(os.Stderr, "beaker-demo:", err)
		os.Exit(1)
	}
}

func run(addr string, log *slog.Logger) error {
	ms := memstore.New(memstore.Options{Logger: log})
	defer ms.Close()
	m, err := session.New(session.Options{
		Store:      ms,
		Secrets:    []string{seedSecret},
		CookieName: seedCookieName,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	p, err := csrf.New(csrf.Options{})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           newHandler(m, p, log),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("beaker-demo listening", "url", "http://"+addr+"/")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
