package csrf_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/csrf"
)

// TestTrustedOriginsPyramidForm posts with a valid token from other
// origins: those pyramid.csrf_trusted_origins trusts, in Pyramid's form or
// with a scheme, go through; the others are refused. Each origin is sent
// as a modern browser sends it (Sec-Fetch-Site: cross-site) and as an old
// one does (Origin only, not matching Host).
func TestTrustedOriginsPyramidForm(t *testing.T) {
	newBrowser := setup(t, csrf.Options{TrustedOrigins: []string{
		"partner.example",       // Pyramid: https://partner.example
		"partner.example:8443",  // Pyramid: https://partner.example:8443
		".corp.example",         // Pyramid: corp.example and its subdomains
		".ports.example:9443",   // Pyramid: subdomains on port 9443
		"https://a.example",     // with a scheme, exact
		"http://localhost:8080", // with a scheme: plain http, when written
		"HTTPS://Upper.Example:443",
	}})
	b := newBrowser()
	tok := b.token()
	for origin, trusted := range map[string]bool{
		"https://partner.example":           true,
		"https://partner.example:443":       true,
		"https://PARTNER.example":           true,
		"http://partner.example":            false, // a scheme-less entry means HTTPS
		"https://partner.example:8443":      true,
		"https://partner.example:9000":      false,
		"https://www.partner.example":       false, // no leading dot: exact
		"https://corp.example":              true,
		"https://a.corp.example":            true,
		"https://a.b.corp.example":          true,
		"http://a.corp.example":             false,
		"https://evilcorp.example":          false,
		"https://corp.example.evil":         false,
		"https://a.corp.example:8443":       false, // Pyramid compares host:port
		"https://x.ports.example:9443":      true,
		"https://x.ports.example":           false,
		"https://a.example":                 true,
		"http://a.example":                  false,
		"https://sub.a.example":             false,
		"http://localhost:8080":             true,
		"https://localhost:8080":            false,
		"http://localhost":                  false,
		"https://upper.example":             true,
		"https://evil.example":              false,
		"null":                              false, // not listed
		"https://user@partner.example":      false,
		"https://partner.example.":          false,
		"https://partner.example/":          false,
		"partner.example":                   false,
		"https://partner.example:8443:8443": false,
	} {
		want, wantText := http.StatusOK, "changed"
		if !trusted {
			want, wantText = http.StatusForbidden, "cross-origin"
		}
		for _, h := range []map[string]string{
			{"Origin": origin, "Sec-Fetch-Site": "cross-site"},
			{"Origin": origin},
		} {
			code, body := b.do("POST", "/change", form, "csrf_token="+tok, h)
			if code != want || !strings.Contains(body, wantText) {
				t.Errorf("Origin %q, Sec-Fetch-Site %q: status %d %q, want %d %q", origin, h["Sec-Fetch-Site"], code, body, want, wantText)
			}
		}
	}
	// The token is still required of a trusted origin.
	if code, body := b.do("POST", "/change", form, "a=1", map[string]string{"Origin": "https://partner.example", "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden || !strings.Contains(body, "missing") {
		t.Errorf("trusted origin without a token: %d %q", code, body)
	}
}

func TestTrustedOriginNull(t *testing.T) {
	for _, listed := range []bool{false, true} {
		opts := csrf.Options{}
		if listed {
			opts.TrustedOrigins = []string{"null"}
		}
		b := setup(t, opts)()
		tok := b.token()
		code, _ := b.do("POST", "/change", form, "csrf_token="+tok, map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"})
		if want := map[bool]int{false: 403, true: 200}[listed]; code != want {
			t.Errorf("null listed %v: status %d, want %d", listed, code, want)
		}
	}
}

func TestTrustedOriginForms(t *testing.T) {
	for _, entry := range []string{
		"example.com", "example.com:8443", ".example.com", ".example.com:8443",
		"https://a.example", "http://localhost:8080", "https://.example.com", "null",
		"127.0.0.1:8080", "[::1]:8443", "https://[::1]", "chrome-extension://abcdef",
	} {
		if _, err := csrf.New(csrf.Options{TrustedOrigins: []string{entry}}); err != nil {
			t.Errorf("%q: %v", entry, err)
		}
	}
}

func TestBadTrustedOrigin(t *testing.T) {
	for _, entry := range []string{
		"partner.example/path", "https://a.example/", "https://a.example/x", "https://a.example?x=1",
		"a.example#f", "", " ", "a b.example", "user@a.example", "https://user@a.example",
		".", "..example.com", ".example..com", "a.example:", "a.example:99999", "a.example:0",
		"a.example:http", "*.example.com", "https://*.example.com", "https://", "://a.example",
		"1http://a.example", "kéy.example", "[::1", "[zz]:80", "http//a.example",
	} {
		_, err := csrf.New(csrf.Options{TrustedOrigins: []string{"https://ok.example", entry}})
		if !errors.Is(err, csrf.ErrTrustedOrigin) || !strings.Contains(err.Error(), strconv.Quote(entry)) {
			t.Errorf("%q: error %v, want ErrTrustedOrigin naming the entry", entry, err)
		}
	}
}

// TestExempt exempts bearer-token requests with a predicate (Pyramid's
// callback): they pass without a token or session even cross-site; the
// others are still checked.
func TestExempt(t *testing.T) {
	var calls int
	b := setup(t, csrf.Options{Exempt: func(r *http.Request) bool {
		calls++
		return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
	}})()
	bearer := map[string]string{"Authorization": "Bearer abc", "Sec-Fetch-Site": "cross-site", "Origin": "https://api-client.example"}
	if code, body := b.do("POST", "/change", "application/json", "{}", bearer); code != 200 || body != "changed" {
		t.Errorf("exempt request: %d %q", code, body)
	}
	if code, _ := b.do("POST", "/change", "application/json", "{}", map[string]string{"Authorization": "Basic abc"}); code != http.StatusForbidden {
		t.Errorf("a request the predicate does not exempt: status %d, want 403", code)
	}
	if code, _ := b.do("GET", "/token", "", "", nil); code != 200 || calls != 2 {
		t.Errorf("GET: status %d; the predicate ran %d times, want 2 (not for safe methods)", code, calls)
	}
}

// TestExemptPatterns exempts a webhook route (Pyramid: require_csrf=False
// on the view) by ServeMux pattern.
func TestExemptPatterns(t *testing.T) {
	b := setup(t, csrf.Options{ExemptPatterns: []string{"POST /hooks/", "/any/open"}})()
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://payments.example"}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/hooks/stripe", 200},
		{"POST", "/hooks/", 200},
		{"PUT", "/hooks/stripe", 403}, // the pattern names POST
		{"POST", "/hooks", 403},       // ServeMux would redirect: not a direct match
		{"POST", "/change", 403},
		{"DELETE", "/any/open", 200},
		{"DELETE", "/any/open/x", 403},
	} {
		for _, h := range []map[string]string{nil, cross} {
			if code, body := b.do(c.method, c.path, form, "a=1", h); code != c.want {
				t.Errorf("%s %s (%v): status %d %q, want %d", c.method, c.path, h, code, body, c.want)
			}
		}
	}
}

func TestBadExemptPattern(t *testing.T) {
	for _, pats := range [][]string{{""}, {"/a/{x"}, {"GET"}, {"/x/", "/x/"}, {"POST /{a}/b", "POST /a/{b}"}} {
		_, err := csrf.New(csrf.Options{ExemptPatterns: pats})
		if !errors.Is(err, csrf.ErrExemptPattern) || !strings.Contains(err.Error(), strconv.Quote(pats[len(pats)-1])) {
			t.Errorf("%q: error %v, want ErrExemptPattern naming the pattern", pats, err)
		}
	}
}

func TestFailureStatus(t *testing.T) {
	b := setup(t, csrf.Options{FailureStatus: http.StatusBadRequest, MaxFormBytes: 100})()
	tok := b.token()
	if code, body := b.do("POST", "/change", form, "a=1", nil); code != http.StatusBadRequest || !strings.Contains(body, "400 Bad Request: csrf: CSRF token missing") {
		t.Errorf("status %d %q, want 400", code, body)
	}
	if code, _ := b.do("POST", "/change", form, "a=1", map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusBadRequest {
		t.Errorf("cross-origin: status %d, want 400", code)
	}
	if code, _ := b.do("POST", "/change", form, "csrf_token="+tok+"&a="+strings.Repeat("x", 200), nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the cap: status %d, want 413", code)
	}
	// The default is 403.
	if code, _ := setup(t, csrf.Options{})().do("POST", "/change", form, "a=1", nil); code != http.StatusForbidden {
		t.Errorf("default: status %d, want 403", code)
	}
}

// TestSafeMethods: GET, HEAD, OPTIONS and TRACE (Pyramid's safe_methods)
// need neither token nor same origin; the other methods need both.
func TestSafeMethods(t *testing.T) {
	b := setup(t, csrf.Options{})()
	b.token()
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	for method, safe := range map[string]bool{
		"GET": true, "HEAD": true, "OPTIONS": true, "TRACE": true,
		"POST": false, "PUT": false, "PATCH": false, "DELETE": false, "PROPFIND": false,
	} {
		want := http.StatusOK
		if !safe {
			want = http.StatusForbidden
		}
		for _, h := range []map[string]string{nil, cross} {
			if code, _ := b.do(method, "/any/x", "", "", h); code != want {
				t.Errorf("%s (%v): status %d, want %d", method, h, code, want)
			}
		}
	}
}

// TestFieldName: Protection.Field writes the configured field, and a form
// posted with it is accepted.
func TestFieldName(t *testing.T) {
	b := setup(t, csrf.Options{FieldName: "authenticity_token"})()
	_, html := b.do("GET", "/pfield", "", "", nil)
	tok := b.token()
	if want := `<input type="hidden" name="authenticity_token" value="` + tok + `">`; html != want {
		t.Fatalf("Field = %q, want %q", html, want)
	}
	if code, _ := b.do("POST", "/change", form, "authenticity_token="+tok, nil); code != 200 {
		t.Errorf("the configured field: status %d", code)
	}
	if code, _ := b.do("POST", "/change", form, "csrf_token="+tok, nil); code != 403 {
		t.Errorf("the default field when another is configured: status %d, want 403", code)
	}
}
