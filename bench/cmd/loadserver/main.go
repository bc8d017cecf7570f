// Command loadserver serves the benchmark handlers over real HTTP for a load
// test (make load, scripts/load.sh): /bare (no session), /vary (/bare that
// answers "Vary: Cookie"; sent a session cookie, it is the floor under any
// cookie session), /beaker (beaker's sessions on a memstore), /scs
// (alexedwards/scs on its memstore) and /gorilla (gorilla/sessions
// CookieStore). Each session route increments a counter in the session and
// writes it in the body.
//
// It listens on 127.0.0.1 on a free port unless -addr says otherwise, prints
// its base URL on stdout, and stops on SIGINT or SIGTERM.
//
// With -sessions N and -cookies DIR it first creates N sessions on each
// session route, through the route's own handler in this process, and
// writes the Cookie header of each, one a line, to DIR/ROUTE (DIR/beaker,
// DIR/scs, DIR/gorilla), before it prints its URL: a load test that sends
// them in turn (scripts/sessions.lua) measures a server with many users.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gobeaker/beaker/bench"
)

func main() {
	if err := run(); err != nil {
		slog.Error("loadserver", "error", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM; returning, it stops the CPU profile
// and closes the stores, also on an error.
func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	nSessions := flag.Int("sessions", 0, "sessions to create on each session route before serving (with -cookies)")
	cookieDir := flag.String("cookies", "", "directory to write the created sessions' Cookie headers to, a file per route")
	flag.Parse()
	switch {
	case *nSessions < 0:
		return fmt.Errorf("loadserver: -sessions %d is negative", *nSessions)
	case (*nSessions > 0) != (*cookieDir != ""):
		return errors.New("loadserver: -sessions and -cookies go together")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	beaker, closeBeaker, err := bench.Beaker(bench.Counter)
	if err != nil {
		return err
	}
	defer closeBeaker()
	mux := http.NewServeMux()
	mux.Handle("GET /bare", bench.Bare())
	mux.Handle("GET /vary", bench.Vary())
	mux.Handle("GET /beaker", beaker)
	mux.Handle("GET /scs", bench.SCS(bench.Counter))
	mux.Handle("GET /gorilla", bench.Gorilla(bench.Counter))
	for _, route := range []string{"beaker", "scs", "gorilla"} {
		if *nSessions == 0 {
			break
		}
		if err := seed(mux, route, *nSessions, filepath.Join(*cookieDir, route)); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelError)}
	fmt.Printf("http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
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

// seed creates n sessions by sending n requests without a cookie to route
// on h, and writes the Cookie header that sends back each session's cookie
// to path, one a line.
func seed(h http.Handler, route string, n int, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+route, nil))
		cookies := rec.Result().Cookies()
		if rec.Code != http.StatusOK || len(cookies) == 0 {
			f.Close()
			return fmt.Errorf("loadserver: seeding /%s: request %d answered %d with %d cookies", route, i, rec.Code, len(cookies))
		}
		fmt.Fprintf(w, "%s=%s\n", cookies[0].Name, cookies[0].Value)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
