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
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gobeaker/beaker/bench"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}

	beaker, closeBeaker, err := bench.Beaker(bench.Counter)
	if err != nil {
		log.Fatal(err)
	}
	defer closeBeaker()
	mux := http.NewServeMux()
	mux.Handle("GET /bare", bench.Bare())
	mux.Handle("GET /vary", bench.Vary())
	mux.Handle("GET /beaker", beaker)
	mux.Handle("GET /scs", bench.SCS(bench.Counter))
	mux.Handle("GET /gorilla", bench.Gorilla(bench.Counter))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		log.Fatal(err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
}
