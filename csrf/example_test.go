package csrf_test

import (
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
