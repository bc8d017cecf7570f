package csrf_test

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

// A form protected against CSRF: the page carries the session's token in a
// hidden field, and a POST without it is refused.
func Example() {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	sessions, _ := session.New(session.Options{Store: st, Secrets: []string{"at least sixteen bytes of secret"}})
	protect, _ := csrf.New(csrf.Options{TrustedOrigins: []string{"https://partner.example"}})

	page := template.Must(template.New("").Parse(`<form method="post">{{.}}<button>Save</button></form>`))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { page.Execute(w, csrf.Field(r)) })
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "saved") })
	srv := httptest.NewServer(sessions.Middleware(protect.Middleware(mux)))
	defer srv.Close()

	// The browser gets the page (and the session cookie), then posts the form.
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	cookie := resp.Header.Get("Set-Cookie")
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, after, _ := strings.Cut(string(html), `value="`)
	token, _, _ := strings.Cut(after, `"`)

	post := func(form url.Values) int {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", strings.Split(cookie, ";")[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("without token:", post(url.Values{}))
	fmt.Println("with token:", post(url.Values{"csrf_token": {token}}))
	// Output:
	// without token: 403
	// with token: 200
}

// Routes that browsers never post to with the session cookie, such as a
// payment provider's webhook or an API authenticated by a bearer token,
// are exempted by pattern (Pyramid: require_csrf=False on the view) or by
// predicate (Pyramid's callback option, with the opposite sense).
func ExampleOptions_exempt() {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	sessions, _ := session.New(session.Options{Store: st, Secrets: []string{"at least sixteen bytes of secret"}})
	protect, err := csrf.New(csrf.Options{
		ExemptPatterns: []string{"POST /webhooks/"},
		Exempt: func(r *http.Request) bool {
			return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/payments", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "paid") })
	mux.HandleFunc("POST /api/notes", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "noted") })
	h := sessions.Middleware(protect.Middleware(mux))

	post := func(path, authorization string) int {
		r := httptest.NewRequest("POST", path, strings.NewReader("{}"))
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	fmt.Println("webhook:", post("/webhooks/payments", ""))
	fmt.Println("API with a bearer token:", post("/api/notes", "Bearer 0a1b2c"))
	fmt.Println("API with the session cookie only:", post("/api/notes", ""))
	// Output:
	// webhook: 200
	// API with a bearer token: 200
	// API with the session cookie only: 403
}

// pyramid.csrf_trusted_origins is written as Pyramid writes it: a host
// (HTTPS), host:port, or .domain for a domain and its subdomains; origins
// with their scheme are accepted too.
func ExampleOptions_trustedOrigins() {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	sessions, _ := session.New(session.Options{Store: st, Secrets: []string{"at least sixteen bytes of secret"}})
	var refusal error
	protect, err := csrf.New(csrf.Options{
		TrustedOrigins: []string{"partner.example", ".corp.example", "https://a.example", "http://localhost:8080"},
		FailureHandler: func(w http.ResponseWriter, r *http.Request, err error) { refusal = err },
	})
	if err != nil {
		panic(err)
	}
	h := sessions.Middleware(protect.Middleware(http.NotFoundHandler()))
	for _, origin := range []string{"https://partner.example", "http://partner.example", "https://wiki.corp.example", "https://evil.example"} {
		r := httptest.NewRequest("POST", "https://app.example/", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", origin)
		h.ServeHTTP(httptest.NewRecorder(), r)
		// A trusted origin gets past the origin check (to be refused for
		// want of a token); the others are refused as cross-origin.
		fmt.Printf("%s refused as cross-origin: %v\n", origin, errors.Is(refusal, csrf.ErrCrossOrigin))
	}
	_, err = csrf.New(csrf.Options{TrustedOrigins: []string{"partner.example/login"}})
	fmt.Println(errors.Is(err, csrf.ErrTrustedOrigin))
	// Output:
	// https://partner.example refused as cross-origin: false
	// http://partner.example refused as cross-origin: true
	// https://wiki.corp.example refused as cross-origin: false
	// https://evil.example refused as cross-origin: true
	// true
}
