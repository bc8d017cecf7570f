package csrf_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/store/memstore"
)

const fiveMB = 5_000_000

// upload returns a multipart body with a title, a file of size bytes and,
// after the file (the hardest place for the check), the token field.
func upload(t *testing.T, token string, size int) (body []byte, contentType string, sum [32]byte) {
	t.Helper()
	content := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("title", "holiday")
	fw, err := mw.CreateFormFile("upload", "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	if token != "" {
		mw.WriteField("csrf_token", token)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType(), sha256.Sum256(content)
}

// uploadServer serves POST /upload behind the session and CSRF
// middleware. The handler reports what it finds on the request without
// parsing the body itself: the form must already be there.
type uploadServer struct {
	srv     *httptest.Server
	reached atomic.Int32
	// during lists the temporary directory while the handler runs.
	during atomic.Int32
	tmp    string
}

func newUploadServer(t *testing.T, opts csrf.Options) *uploadServer {
	t.Helper()
	u := &uploadServer{tmp: t.TempDir()}
	// mime/multipart spills files to os.TempDir, which is $TMPDIR.
	t.Setenv("TMPDIR", u.tmp)
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
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, csrf.Token(r)) })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		u.reached.Add(1)
		if r.Header.Get("X-Parse-Myself") != "" {
			if err := r.ParseMultipartForm(1 << 10); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		entries, _ := os.ReadDir(u.tmp)
		u.during.Store(int32(len(entries)))
		if r.MultipartForm == nil || r.PostForm == nil {
			http.Error(w, "the form was not handed on", 500)
			return
		}
		// Parsing again is a no-op, not an error.
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			http.Error(w, "parse again: "+err.Error(), 500)
			return
		}
		f, fh, err := r.FormFile("upload")
		if err != nil {
			http.Error(w, "file: "+err.Error(), 500)
			return
		}
		defer f.Close()
		_, spilled := f.(*os.File)
		data, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, "read file: "+err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "title=%s token=%v file=%s size=%d sum=%x spilled=%v",
			r.PostFormValue("title"), r.PostFormValue("csrf_token") != "", fh.Filename, len(data), sha256.Sum256(data), spilled)
	})
	u.srv = httptest.NewServer(m.Middleware(p.Middleware(mux)))
	t.Cleanup(u.srv.Close)
	return u
}

// client returns a browser with a session and its token.
func (u *uploadServer) client(t *testing.T) (*browser, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, srv: u.srv, c: &http.Client{Jar: jar}}
	return b, b.token()
}

// post sends body to /upload; chunked hides its length.
func (u *uploadServer) post(t *testing.T, b *browser, body []byte, ct string, chunked bool, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u.srv.URL+"/upload", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = nil
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// assertNoTempFiles checks that the upload's temporary files were made
// (when spilled) and are gone once the response is in.
func (u *uploadServer) assertNoTempFiles(t *testing.T, wantDuring bool) {
	t.Helper()
	if d := u.during.Load(); wantDuring && d == 0 {
		t.Errorf("no temporary file while the handler ran: the upload was not spilled to disk")
	}
	if entries, _ := os.ReadDir(u.tmp); len(entries) != 0 {
		t.Errorf("%d temporary files left after the request: %v", len(entries), entries)
	}
}

// TestLargeMultipartAccepted is the acceptance case: a 5 MB upload with a
// valid hidden csrf_token (after the file) is accepted, the handler finds
// the whole form and file without parsing the body itself, the file went
// to disk, and the temporary file is gone afterwards. From another origin
// the same upload is refused.
func TestLargeMultipartAccepted(t *testing.T) {
	u := newUploadServer(t, csrf.Options{TrustedOrigins: []string{"partner.example"}})
	b, tok := u.client(t)
	body, ct, sum := upload(t, tok, fiveMB)
	want := fmt.Sprintf("title=holiday token=true file=big.bin size=%d sum=%x spilled=true", fiveMB, sum)
	for name, c := range map[string]struct {
		chunked bool
		header  map[string]string
	}{
		"same origin":                {false, map[string]string{"Sec-Fetch-Site": "same-origin"}},
		"no fetch metadata":          {false, nil},
		"chunked":                    {true, nil},
		"trusted origin":             {false, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://partner.example"}},
		"token in header":            {false, map[string]string{"X-CSRF-Token": tok, "X-Parse-Myself": "1"}}, // the handler parses; Middleware cleans up
		"token in header, body left": {false, map[string]string{"X-CSRF-Token": tok}},
	} {
		t.Run(name, func(t *testing.T) {
			u.during.Store(0)
			code, got := u.post(t, b, body, ct, c.chunked, c.header)
			if name == "token in header, body left" {
				// The header carries the token, so the check leaves the
				// body unread and the handler, which does not parse it,
				// finds no form.
				if code != 500 || !strings.Contains(got, "not handed on") {
					t.Fatalf("status %d %q", code, got)
				}
				return
			}
			if code != 200 || got != want {
				t.Fatalf("status %d %q, want 200 %q", code, got, want)
			}
			u.assertNoTempFiles(t, true)
		})
	}
	n := u.reached.Load()
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site", "Origin": "http://partner.example"},
	} {
		if code, got := u.post(t, b, body, ct, false, h); code != http.StatusForbidden || !strings.Contains(got, "cross-origin") {
			t.Errorf("cross-origin upload (%v): status %d %q, want 403", h, code, got)
		}
	}
	if u.reached.Load() != n {
		t.Error("a refused upload reached the handler")
	}
	u.assertNoTempFiles(t, false)
}

// TestMultipartRefusedCleansUp: an upload read to the end but refused
// (wrong or missing token) leaves no temporary file.
func TestMultipartRefusedCleansUp(t *testing.T) {
	u := newUploadServer(t, csrf.Options{})
	b, _ := u.client(t)
	for name, token := range map[string]string{"wrong token": strings.Repeat("0", 40), "no token": ""} {
		body, ct, _ := upload(t, token, 3<<20)
		code, got := u.post(t, b, body, ct, false, nil)
		if code != http.StatusForbidden {
			t.Errorf("%s: status %d %q, want 403", name, code, got)
		}
		u.assertNoTempFiles(t, false)
	}
	if u.reached.Load() != 0 {
		t.Error("a refused upload reached the handler")
	}
}

// TestUploadCap: Options.MaxUploadBytes caps a multipart body, whether its
// length is declared or not, with 413; the default is 32 MiB; -1 is no cap.
func TestUploadCap(t *testing.T) {
	u := newUploadServer(t, csrf.Options{MaxUploadBytes: 2 << 20})
	b, tok := u.client(t)
	body, ct, _ := upload(t, tok, fiveMB)
	for _, chunked := range []bool{false, true} {
		if code, got := u.post(t, b, body, ct, chunked, nil); code != http.StatusRequestEntityTooLarge || !strings.Contains(got, "too large") {
			t.Errorf("chunked %v: status %d %q, want 413", chunked, code, got)
		}
	}
	small, ct, _ := upload(t, tok, 1<<20)
	if code, got := u.post(t, b, small, ct, true, nil); code != 200 {
		t.Errorf("an upload under the cap: status %d %q", code, got)
	}
	u.assertNoTempFiles(t, false)
	if u.reached.Load() != 1 {
		t.Errorf("the handler ran %d times, want 1", u.reached.Load())
	}

	// The default cap and no cap, seen through the declared length (the
	// body itself is small).
	for _, c := range []struct {
		max  int64
		want int
	}{{0, http.StatusRequestEntityTooLarge}, {-1, http.StatusOK}} {
		p, err := csrf.New(csrf.Options{MaxUploadBytes: c.max, Exempt: nil})
		if err != nil {
			t.Fatal(err)
		}
		status := sessionRequest(t, p, func(tok string) *http.Request {
			body, ct, _ := upload(t, tok, 10)
			r := httptest.NewRequest("POST", "/upload", bytes.NewReader(body))
			r.Header.Set("Content-Type", ct)
			r.ContentLength = csrf.DefaultMaxUploadBytes + 1
			return r
		})
		if status != c.want {
			t.Errorf("MaxUploadBytes %d, a body declaring %d bytes: status %d, want %d", c.max, csrf.DefaultMaxUploadBytes+1, status, c.want)
		}
	}
}

// sessionRequest serves, through a session manager and p, a GET that
// makes a token and then the request mk builds with it, and returns the
// latter's status.
func sessionRequest(t *testing.T, p *csrf.Protection, mk func(tok string) *http.Request) int {
	t.Helper()
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	m, err := session.New(session.Options{Store: ms, Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	h := m.Middleware(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			tok = p.Token(r)
		}
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	req := mk(tok)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestFormHandedOn: after the check has read an url-encoded body, the
// handler finds the whole form on the request; the url-encoded cap still
// holds, chunked or not.
func TestFormHandedOn(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close() })
	m, _ := session.New(session.Options{Store: ms, Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Logger: slog.New(slog.DiscardHandler)})
	p, err := csrf.New(csrf.Options{MaxFormBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, csrf.Token(r)) })
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if r.PostForm == nil {
			http.Error(w, "the form was not handed on", 500)
			return
		}
		fmt.Fprintf(w, "a=%s b=%s", r.PostForm.Get("a"), r.FormValue("b"))
	})
	srv := httptest.NewServer(m.Middleware(p.Middleware(mux)))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, srv: srv, c: &http.Client{Jar: jar}}
	tok := b.token()
	if code, got := b.do("POST", "/form?b=q", form, "a=1&csrf_token="+tok, nil); code != 200 || got != "a=1 b=q" {
		t.Errorf("status %d %q", code, got)
	}
	big := "a=" + strings.Repeat("x", 5000) + "&csrf_token=" + tok
	if code, got := b.do("POST", "/form", form, big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("over MaxFormBytes: status %d %q, want 413", code, got)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/form", io.NopCloser(strings.NewReader(big)))
	req.Header.Set("Content-Type", form)
	req.ContentLength = -1
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("over MaxFormBytes, chunked: status %d, want 413", resp.StatusCode)
	}
}
