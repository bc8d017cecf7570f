package session_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gobeaker/beaker/session"
)

// A session kept in the cookie: a counter, a login that makes a new CSRF
// token, and a value too large for a cookie, refused with a 500 while the
// browser keeps its earlier cookie.
func ExampleNewCookie() {
	m, err := session.NewCookie(session.CookieOptions{Options: session.Options{
		// The first secret seals; an older one still opens cookies, which
		// are sealed again under the first.
		Secrets: []string{"a secret of at least 16 bytes, from beaker gen-secret", "the previous secret"},
		Logger:  slog.New(slog.DiscardHandler), // keep the example's output clean
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Println("error handler:", errors.Is(err, session.ErrCookieTooLarge))
			session.DefaultErrorHandler(w, r, err)
		},
	}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "counter")
		s.Set("counter", n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.RegenerateID() // a new CSRF token, in a new cookie
		s.Set("user", "ann")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("big", strings.Repeat("x", 5000))
	})
	h := m.Middleware(mux)

	cookie := ""
	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		return rec
	}
	fmt.Println(get("/").Body, get("/").Body)
	get("/login")
	fmt.Println(get("/big").Code)
	fmt.Println(get("/").Body) // the earlier cookie still holds the session
	// Output:
	// 1 2
	// error handler: true
	// 500
	// 3
}
