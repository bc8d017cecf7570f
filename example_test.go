package beaker_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// A Pyramid application's [app:main] settings, unchanged, give the same
// sessions and cache regions in Go.
func ExampleOpen() {
	ini := `[app:main]
use = egg:akhet_demo
pyramid.reload_templates = true
cache.regions = default_term, second, short_term, long_term
cache.type = memory
cache.second.expire = 1
cache.short_term.expire = 60
cache.default_term.expire = 300
cache.long_term.expire = 3600
session.type = memory
session.key = akhet_demo
session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac
`
	s, err := settings.Parse("development.ini", strings.NewReader(ini), "") // or settings.Load(path, "")
	if err != nil {
		log.Fatal(err) // development.ini:LINE: KEY: what is wrong
	}
	ctx := context.Background()
	b, err := beaker.Open(ctx, s, beaker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	shortTerm, _ := b.Cache.Region("short_term")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sess := session.FromRequest(r)
		n, _ := session.Get[int](sess, "counter")
		sess.Set("counter", n+1)
		greeting, _ := cache.GetOrCreate(r.Context(), shortTerm, "greeting", func(context.Context) (string, error) {
			return "hello", nil
		})
		fmt.Fprintf(w, "%s, visit %d", greeting, n+1)
	})
	handler := b.Sessions.Middleware(b.CSRF.Middleware(mux))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())
	fmt.Println(strings.HasPrefix(rec.Header().Get("Set-Cookie"), "akhet_demo="))
	fmt.Println(b.SessionType, b.Cache.Regions())
	// Output:
	// hello, visit 1
	// true
	// memory [default_term second short_term long_term]
}

// A program links the backends beyond memory, file and cookie itself, so
// that it pays only for those it names. With this, session.type = ext:redis
// (or cache.type = ext:redis) works; without it, Open fails with an error
// that names the line to add.
func ExampleOpen_drivers() {
	s, err := settings.Load("production.ini", "")
	if err != nil {
		log.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, beaker.Options{
		Drivers: []store.Driver{redisstore.Driver(), sqlstore.Driver(), memcachestore.Driver()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
}

// Resolve reads the settings once, opening nothing: it is what Open builds
// from, and what beaker check-config prints.
func ExampleResolve() {
	ini := `[app:main]
session.type = file
session.data_dir = /var/lib/app/sessions/data
session.lock_dir = /var/lib/app/sessions/lock
session.key = akhet_demo
session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac
session.timeout = 1800
`
	s, err := settings.Parse("development.ini", strings.NewReader(ini), "")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := beaker.Resolve(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Session.Type, cfg.Session.Store.DataDir)
	fmt.Println(cfg.Session.Options.CookieName, cfg.Session.Options.Timeout, cfg.Session.Options.Lifetime)
	// Output:
	// file /var/lib/app/sessions/data
	// akhet_demo 30m0s 336h0m0s
}
