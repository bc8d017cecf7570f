package csrf_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func setup(t *testing.T, opts csrf.Options) func() *browser {
	t.Helper()
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	m, err := session.New(session.Options{Store: ms, Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := csrf.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, csrf.Token(r))
	})
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, csrf.Field(r))
	})
	mux.HandleFunc("GET /pfield", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, p.Field(r))
	})
	mux.HandleFunc("POST /change", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("changed", true)
		io.WriteString(w, "changed")
	})
	// Any method, for the safe-method and exemption tests.
	mux.HandleFunc("/any/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.Method)
	})
	mux.HandleFunc("/hooks/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hook")
	})
	srv := httptest.NewServer(m.Middleware(p.Middleware(mux)))
	t.Cleanup(srv.Close)
	return func() *browser {
		jar, _ := cookiejar.New(nil)
		return &browser{t: t, srv: srv, c: &http.Client{Jar: jar}}
	}
}

func (b *browser) do(method, path, contentType, body string, header map[string]string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func (b *browser) token() string {
	b.t.Helper()
	_, tok := b.do("GET", "/token", "", "", nil)
	if len(tok) != 40 {
		b.t.Fatalf("token %q", tok)
	}
	return tok
}

const form = "application/x-www-form-urlencoded"

func TestRefused(t *testing.T) {
	newBrowser := setup(t, csrf.Options{})
	b := newBrowser()
	tok := b.token()
	other := newBrowser()
	otherTok := other.token()
	cases := []struct {
		name, path, ct, body string
		header               map[string]string
		wantText             string
	}{
		{"missing token", "/change", form, "a=1", nil, "missing"},
		{"no body at all", "/change", "", "", nil, "missing"},
		{"wrong token in form", "/change", form, "csrf_token=" + strings.Repeat("0", 40), nil, "does not match"},
		{"wrong token in header", "/change", "", "", map[string]string{"X-CSRF-Token": "nope"}, "does not match"},
		{"another session's token", "/change", form, "csrf_token=" + otherTok, nil, "does not match"},
		{"token in the query string", "/change?csrf_token=" + tok, form, "a=1", nil, "missing"},
		{"cross-site fetch", "/change", form, "csrf_token=" + tok, map[string]string{"Sec-Fetch-Site": "cross-site"}, "cross-origin"},
		{"foreign Origin", "/change", form, "csrf_token=" + tok, map[string]string{"Origin": "https://evil.example"}, "cross-origin"},
		{"body over the cap", "/change", form, "a=" + strings.Repeat("x", 2<<20) + "&csrf_token=" + tok, nil, "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := b.do("POST", c.path, c.ct, c.body, c.header)
			want := http.StatusForbidden
			if c.wantText == "too large" {
				want = http.StatusRequestEntityTooLarge
			}
			if code != want || !strings.Contains(body, c.wantText) {
				t.Fatalf("status %d, body %q; want %d saying %q", code, body, want, c.wantText)
			}
		})
	}
	// A new session (no token yet) is refused without getting a token.
	fresh := newBrowser()
	if code, body := fresh.do("POST", "/change", "", "", map[string]string{"X-CSRF-Token": tok}); code != 403 || !strings.Contains(body, "no CSRF token") {
		t.Fatalf("fresh session: %d %q", code, body)
	}
}

func TestAccepted(t *testing.T) {
	newBrowser := setup(t, csrf.Options{TrustedOrigins: []string{"https://partner.example"}})
	b := newBrowser()
	tok := b.token()
	for name, c := range map[string]struct {
		ct, body string
		header   map[string]string
	}{
		"form field":     {form, "a=1&csrf_token=" + url.QueryEscape(tok), nil},
		"header":         {"application/json", "{}", map[string]string{"X-CSRF-Token": tok}},
		"same origin":    {form, "csrf_token=" + tok, map[string]string{"Sec-Fetch-Site": "same-origin"}},
		"trusted origin": {form, "csrf_token=" + tok, map[string]string{"Origin": "https://partner.example", "Sec-Fetch-Site": "cross-site"}},
		"multipart":      {"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + tok + "\r\n--X--\r\n", nil},
	} {
		t.Run(name, func(t *testing.T) {
			if code, body := b.do("POST", "/change", c.ct, c.body, c.header); code != 200 || body != "changed" {
				t.Fatalf("status %d, body %q", code, body)
			}
		})
	}
	if code, _ := b.do("GET", "/token", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); code != 200 {
		t.Fatalf("a cross-site GET was refused: %d", code)
	}
}

func TestField(t *testing.T) {
	b := setup(t, csrf.Options{})()
	_, html := b.do("GET", "/form", "", "", nil)
	tok := b.token()
	if want := `<input type="hidden" name="csrf_token" value="` + tok + `">`; html != want {
		t.Fatalf("Field = %q, want %q", html, want)
	}
}

func TestFailureHandler(t *testing.T) {
	var got error
	b := setup(t, csrf.Options{FailureHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "custom", http.StatusTeapot)
	}})()
	b.token()
	if code, _ := b.do("POST", "/change", form, "", nil); code != http.StatusTeapot || !errors.Is(got, csrf.ErrTokenMissing) {
		t.Fatalf("status %d, error %v", code, got)
	}
}

func TestRefusedRequestCreatesNoSession(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	m, err := session.New(session.Options{Store: ms, Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := csrf.New(csrf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Middleware(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request without a token reached the handler")
	})))
	for _, hdr := range []map[string]string{nil, {"X-CSRF-Token": "forged"}} {
		req := httptest.NewRequest("POST", "/change", strings.NewReader("a=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || rec.Header().Get("Set-Cookie") != "" {
			t.Fatalf("refused request: status %d, Set-Cookie %q; want 403 and no cookie", rec.Code, rec.Header().Get("Set-Cookie"))
		}
	}
	if n := ms.Len(); n != 0 {
		t.Fatalf("refused requests left %d stored sessions", n)
	}
}

func TestOptionsSessionsNamesTheManager(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	newManager := func(name string) *session.Manager {
		m, err := session.New(session.Options{Store: ms, Secrets: []string{"0123456789abcdef0123456789abcdef"},
			CookieName: name, KeyPrefix: name + ":", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	site, admin := newManager("site"), newManager("admin")
	p, err := csrf.New(csrf.Options{Sessions: site})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, p.Token(r)) })
	mux.HandleFunc("POST /change", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "changed") })
	srv := httptest.NewServer(site.Middleware(admin.Middleware(p.Middleware(mux))))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, srv: srv, c: &http.Client{Jar: jar}}
	_, token := b.do("GET", "/token", "", "", nil)
	if code, _ := b.do("POST", "/change", "", "", map[string]string{"X-CSRF-Token": token}); code != http.StatusOK {
		t.Fatalf("the site manager's token, checked against the site manager: status %d", code)
	}
	// The innermost (admin) session has no token: without Options.Sessions
	// the same request is refused.
	q, _ := csrf.New(csrf.Options{})
	srv.Config.Handler = site.Middleware(admin.Middleware(q.Middleware(mux)))
	if code, _ := b.do("POST", "/change", "", "", map[string]string{"X-CSRF-Token": token}); code != http.StatusForbidden {
		t.Fatalf("the site token checked against the innermost (admin) session: status %d, want 403", code)
	}
}

// failingBody is a request body whose read fails with errBody.
type failingBody struct{}

var errBody = errors.New("connection reset")

func (failingBody) Read([]byte) (int, error) { return 0, errBody }

// TestFormReadErrorIsWrapped: a form body that cannot be read gives the
// failure handler ErrBadForm wrapping the read's own error, so that it can
// tell a client that went away from a malformed form.
func TestFormReadErrorIsWrapped(t *testing.T) {
	var got error
	p, err := csrf.New(csrf.Options{FailureHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "refused", http.StatusForbidden)
	}})
	if err != nil {
		t.Fatal(err)
	}
	sessionRequest(t, p, func(string) *http.Request {
		r := httptest.NewRequest("POST", "/change", io.NopCloser(failingBody{}))
		r.Header.Set("Content-Type", form)
		return r
	})
	if !errors.Is(got, csrf.ErrBadForm) || !errors.Is(got, errBody) {
		t.Fatalf("failure handler got %v, want ErrBadForm wrapping the read's error", got)
	}
}
