// Command beaker-demo is the Akhet Demo in Go: a small web app that shows
// beaker for Go's sessions, flash messages and CSRF protection, configured
// from Beaker settings.
//
//	go run ./cmd/beaker-demo [-addr 127.0.0.1:6543] [-config FILE [-section app:main]]
//
// Without -config it uses its built-in settings, the Akhet demo's
// development.ini (memory sessions in a cookie named akhet_demo). The
// examples/ directory holds an INI file for each session type.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

//go:embed settings.ini
var builtinSettings string

func main() {
	addr := flag.String("addr", "127.0.0.1:6543", "address to listen on (port 0 picks a free one)")
	config := flag.String("config", "", "INI file with Beaker settings (default: the built-in Akhet settings)")
	section := flag.String("section", settings.DefaultSection, "section of the INI file to read")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *config, *section, log); err != nil {
		fmt.Fprintln(os.Stderr, "beaker-demo:", err)
		os.Exit(1)
	}
}

// loadSettings reads the INI file at path, or the built-in settings.
func loadSettings(path, section string) (*settings.Settings, error) {
	if path == "" {
		return settings.Parse("built-in settings", strings.NewReader(builtinSettings), section)
	}
	return settings.Load(path, section)
}

func run(ctx context.Context, addr, config, section string, log *slog.Logger) error {
	s, err := loadSettings(config, section)
	if err != nil {
		return err
	}
	b, err := beaker.Open(ctx, s, beaker.Options{Logger: log, Drivers: drivers()})
	if err != nil {
		return err
	}
	defer b.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(b, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError), // net/http's own messages
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("beaker-demo listening", "url", "http://"+ln.Addr().String()+"/",
		"settings", s.Source(), "session_type", b.SessionType)
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

// drivers links every backend: the SQL, Redis and memcached stores (memory,
// file and cookie are linked by beaker.Open itself).
func drivers() []store.Driver {
	return []store.Driver{sqlstore.Driver(), redisstore.Driver(), memcachestore.Driver()}
}
