package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
)

type visitor struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newDemo(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	s, err := loadSettings("", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	srv := httptest.NewServer(newHandler(b, log))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newVisitor(t *testing.T, base string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (v *visitor) get(path string) string {
	v.t.Helper()
	resp, err := v.c.Get(v.base + path)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		v.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

func (v *visitor) post(path string, form url.Values) (int, string) {
	v.t.Helper()
	resp, err := v.c.PostForm(v.base+path, form)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submit posts a form the way the page does: with the token from the page.
func (v *visitor) submit(page, path string, form url.Values) string {
	v.t.Helper()
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		v.t.Fatalf("no csrf_token in page:\n%s", page)
	}
	form.Set("csrf_token", m[1])
	code, body := v.post(path, form)
	if code != 200 {
		v.t.Fatalf("POST %s: %d %s", path, code, body)
	}
	return body // the page after the 303 redirect
}

type apiSession struct {
	Counter   int               `json:"counter"`
	User      *string           `json:"user"`
	Notes     map[string]string `json:"notes"`
	Flash     []string          `json:"flash"`
	CSRFToken string            `json:"csrf_token"`
	New       bool              `json:"new"`
}

func (v *visitor) api() apiSession {
	v.t.Helper()
	var s apiSession
	if err := json.Unmarshal([]byte(v.get("/api/session")), &s); err != nil {
		v.t.Fatal(err)
	}
	return s
}

func counterOf(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`id="counter">(\d+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no counter in page:\n%s", page)
	}
	return m[1]
}

func TestWalkthrough(t *testing.T) { walkthrough(t, newDemo(t)) }

// walkthrough visits the demo at base as a person would: counter, flash,
// login, notes, logout.
func walkthrough(t *testing.T, base string) {
	v := newVisitor(t, base)
	if s := v.api(); !s.New || s.Counter != 0 || s.User != nil || len(s.Flash) != 0 {
		t.Fatalf("fresh session: %+v", s)
	}
	page := v.get("/")
	if counterOf(t, page) != "1" || counterOf(t, v.get("/")) != "2" {
		t.Fatal("counter does not count GET /")
	}
	v.api() // does not count
	page = v.get("/")
	if got := counterOf(t, page); got != "3" {
		t.Fatalf("counter %s after 3 pages and an API call, want 3", got)
	}
	// Flash: shown once after POST-redirect-GET.
	page = v.submit(page, "/flash", url.Values{"message": {"Hello from the demo"}})
	if !strings.Contains(page, "<li>Hello from the demo</li>") {
		t.Fatalf("flash not shown after redirect:\n%s", page)
	}
	if strings.Contains(v.get("/"), "Hello from the demo") {
		t.Fatal("flash shown twice")
	}
	// The API peeks without popping: flash without following the redirect.
	page = v.get("/")
	noFollow := &http.Client{Jar: v.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(base+"/flash", url.Values{"message": {"pending"}, "csrf_token": {tokenRE.FindStringSubmatch(page)[1]}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /flash: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	for range 2 {
		if s := v.api(); len(s.Flash) != 1 || s.Flash[0] != "pending" {
			t.Fatalf("api flash = %v, want [pending] (peeked)", s.Flash)
		}
	}
	if page = v.get("/"); !strings.Contains(page, "<li>pending</li>") {
		t.Fatal("pending flash not shown on the next page")
	}
	// Login.
	before := v.api()
	page = v.submit(page, "/login", url.Values{"username": {"ann"}})
	if !strings.Contains(page, "Logged in as ann") || !strings.Contains(page, "<strong>ann</strong>") {
		t.Fatalf("login page:\n%s", page)
	}
	after := v.api()
	if after.User == nil || *after.User != "ann" || after.CSRFToken == before.CSRFToken {
		t.Fatalf("after login: %+v (token before %q)", after, before.CSRFToken)
	}
	// The old token no longer works after login.
	if code, _ := v.post("/notes", url.Values{"key": {"k"}, "value": {"v"}, "csrf_token": {before.CSRFToken}}); code != 403 {
		t.Fatalf("old CSRF token after login: status %d, want 403", code)
	}
	// Notes.
	page = v.submit(page, "/notes", url.Values{"key": {"colour"}, "value": {"green"}})
	page = v.submit(page, "/notes", url.Values{"key": {"pet"}, "value": {"<cat>"}})
	if !strings.Contains(page, "<th>colour</th><td>green</td>") || !strings.Contains(page, "&lt;cat&gt;") {
		t.Fatalf("notes page:\n%s", page)
	}
	if s := v.api(); s.Notes["colour"] != "green" || s.Notes["pet"] != "<cat>" || s.Counter < 5 {
		t.Fatalf("api after notes: %+v", s)
	}
	// Logout ends it all.
	page = v.submit(page, "/logout", url.Values{})
	if counterOf(t, page) != "1" || !strings.Contains(page, "Not logged in") {
		t.Fatalf("after logout:\n%s", page)
	}
	if s := v.api(); s.User != nil || len(s.Notes) != 0 {
		t.Fatalf("api after logout: %+v", s)
	}
}

func TestUnsafeWithoutTokenIs403(t *testing.T) {
	v := newVisitor(t, newDemo(t))
	v.get("/")
	for _, path := range []string{"/flash", "/login", "/logout", "/notes"} {
		if code, _ := v.post(path, url.Values{"message": {"m"}, "username": {"u"}, "key": {"k"}}); code != 403 {
			t.Errorf("POST %s without token: %d, want 403", path, code)
		}
	}
	if s := v.api(); s.User != nil || len(s.Flash) != 0 || len(s.Notes) != 0 {
		t.Fatalf("refused requests changed the session: %+v", s)
	}
}
