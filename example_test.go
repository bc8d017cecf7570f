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
