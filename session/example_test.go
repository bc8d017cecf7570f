package session_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

// A counter kept in the session, and a flash message shown once.
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := session.New(session.Options{
		Store:      store,
		Secrets:    []string{"a secret of at least 16 bytes, from beaker gen-secret"},
		CookieName: "akhet_demo",
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "counter") // an int stored is an int read
		s.Set("counter", n+1)
		if n == 0 {
			s.AddFlash("Welcome!")
		}
		fmt.Fprintf(w, "visit %d %v", n+1, s.PopFlash(""))
	})
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()

	var cookie string
	for range 3 {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		if c := resp.Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body), strings.HasPrefix(cookie, "akhet_demo="))
	}
	// Output:
	// visit 1 [Welcome!] true
	// visit 2 [] true
	// visit 3 [] true
}

// Two managers nested on one request: the site's session and an admin
// area's, each with its own cookie. FromRequest returns the innermost
// manager's session; a manager's own FromRequest returns its own.
func ExampleManager_FromRequest() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	secret := []string{"a secret of at least 16 bytes, from beaker gen-secret"}
	site, _ := session.New(session.Options{Store: store, Secrets: secret, CookieName: "site"})
	admin, _ := session.New(session.Options{Store: store, Secrets: secret, CookieName: "admin", KeyPrefix: "admin:"})

	h := site.Middleware(admin.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site.FromRequest(r).Set("visits", 1)
		admin.FromRequest(r).Set("sudo", true)
		fmt.Println(session.FromRequest(r) == admin.FromRequest(r))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, c := range rec.Result().Cookies() {
		fmt.Println(c.Name)
	}
	// Output:
	// true
	// admin
	// site
}
