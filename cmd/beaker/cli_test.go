package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
)

// seedINI returns the seed's settings verbatim (the Akhet demo's).
func seedINI(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../settings/testdata/seed.ini")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(t *testing.T, c *cli, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c.stdout, c.stderr = &out, &errb
	code = c.run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestCheckConfigSeed(t *testing.T) {
	ini := writeFile(t, "development.ini", seedINI(t))
	for _, args := range [][]string{{"check-config", ini}, {"check-config", ini, "-section", "app:main"}, {"check-config", "-section=app:main", ini}} {
		code, out, errs := runCLI(t, newCLI(nil, nil), args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errs)
		}
		for _, want := range []string{
			"default_term   type memory     expire 300s",
			"second         type memory     expire 1s",
			"short_term     type memory     expire 60s",
			"long_term      type memory     expire 3600s",
			"key                  akhet_demo",
			"secret               0cb2…(40 chars)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
		if strings.Contains(out, "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac") {
			t.Fatalf("the secret is printed in clear:\n%s", out)
		}
	}
}

func TestCheckConfigErrors(t *testing.T) {
	bad := writeFile(t, "bad.ini", strings.Replace(seedINI(t), "session.key = akhet_demo", "session.timout = 10", 1))
	code, _, errs := runCLI(t, newCLI(nil, nil), "check-config", bad)
	if code != 1 || !strings.Contains(errs, "bad.ini:12: session.timout") || !strings.Contains(errs, "session.timeout") {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming bad.ini:12 and suggesting session.timeout", code, errs)
	}
	code, _, errs = runCLI(t, newCLI(nil, nil), "check-config", filepath.Join(t.TempDir(), "missing.ini"))
	if code != 1 || !strings.Contains(errs, "missing.ini") {
		t.Fatalf("missing file: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(t, newCLI(nil, nil), "check-config"); code != 2 {
		t.Fatalf("no FILE: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, newCLI(nil, nil), "frobnicate"); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func TestGenSecret(t *testing.T) {
	_, a, _ := runCLI(t, newCLI(nil, nil), "gen-secret")
	_, b, _ := runCLI(t, newCLI(nil, nil), "gen-secret")
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(a) || a == b {
		t.Fatalf("gen-secret gave %q then %q", a, b)
	}
	// A value out of range is a usage error, as a malformed one is: exit 2.
	for _, v := range []string{"8", "2000", "eight"} {
		if code, _, errs := runCLI(t, newCLI(nil, nil), "gen-secret", "-bytes", v); code != 2 || !strings.Contains(errs, "Usage: beaker gen-secret") {
			t.Errorf("-bytes %s: exit %d %q, want 2 with the usage", v, code, errs)
		}
	}
	if _, _, errs := runCLI(t, newCLI(nil, nil), "gen-secret", "-bytes", "8"); !strings.Contains(errs, "between 16 and 1024") {
		t.Errorf("-bytes 8: %q does not give the range", errs)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-help"}, {"help"}, {"check-config", "-help"}, {"sessions", "list", "-help"}, {"gen-secret", "--help"}} {
		code, out, errs := runCLI(t, newCLI(nil, nil), args...)
		if code != 0 || !strings.Contains(out+errs, "Usage") && !strings.Contains(out+errs, "beaker") {
			t.Fatalf("%v: exit %d, %q %q", args, code, out, errs)
		}
	}
}

func TestSessionsMemoryIsOutOfReach(t *testing.T) {
	ini := writeFile(t, "development.ini", seedINI(t))
	code, _, errs := runCLI(t, newCLI(nil, nil), "sessions", "list", "-config", ini)
	if code != 1 || !strings.Contains(errs, "inside the application's process") {
		t.Fatalf("exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, newCLI(nil, nil), "sessions", "list"); code != 2 || !strings.Contains(errs, "-config") {
		t.Fatalf("no -config: exit %d %q", code, errs)
	}
}

// TestSessionsInProcess runs the sessions commands on the memory store of
// an application in the same process.
func TestSessionsInProcess(t *testing.T) {
	ini := writeFile(t, "development.ini", seedINI(t))
	s, err := settings.Load(ini, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Set("user", r.URL.Query().Get("user"))
		s.AddFlash("hello " + r.URL.Query().Get("user"))
	}))
	var cookies []string
	for _, u := range []string{"ann", "bob"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/?user="+u, nil))
		cookies = append(cookies, rec.Result().Cookies()[0].Value)
	}
	c := newCLI(nil, nil)
	c.inProcess = true
	c.open = func(context.Context, *settings.Settings) (*beaker.Beaker, error) { return b, nil }

	code, out, errs := runCLI(t, c, "sessions", "list", "-config", ini)
	if code != 0 || strings.Count(out, "session:") != 2 || !strings.Contains(errs, "2 sessions") {
		t.Fatalf("list: exit %d\n%s\n%s", code, out, errs)
	}
	for _, ck := range cookies {
		if strings.Contains(out, ck[:20]) {
			t.Fatal("list shows a session id")
		}
	}
	key := strings.Fields(strings.Split(out, "\n")[1])[0]
	code, out, errs = runCLI(t, c, "sessions", "show", key, "-config", ini)
	if code != 0 || !strings.Contains(out, `"user": "ann"`) && !strings.Contains(out, `"user": "bob"`) || !strings.Contains(out, `"hello `) {
		t.Fatalf("show: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, c, "sessions", "show", "-config", ini, "--", cookies[0]) // a cookie may start with "-"
	if code != 0 || !strings.Contains(out, `"user": "ann"`) {
		t.Fatalf("show by cookie: exit %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, c, "sessions", "delete", "-config", ini, "--", cookies[0]); code != 0 {
		t.Fatalf("delete: exit %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, c, "sessions", "show", "-config", ini, "--", cookies[0]); code != 1 || !strings.Contains(errs, "no session") {
		t.Fatalf("show after delete: exit %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, c, "sessions", "purge", "-config", ini); code != 0 || !strings.Contains(out, "removed 0 expired sessions") {
		t.Fatalf("purge: exit %d %s", code, out)
	}
}

func TestCacheInvalidate(t *testing.T) {
	ini := writeFile(t, "development.ini", seedINI(t))
	if code, _, errs := runCLI(t, newCLI(nil, nil), "cache", "invalidate", "-config", ini, "short_term"); code != 1 || !strings.Contains(errs, "inside each application process") {
		t.Fatalf("memory region from another process: exit %d %q", code, errs)
	}
	s, err := settings.Load(ini, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, _ := b.Cache.Region("long_term")
	runs := 0
	create := func(context.Context) (int, error) { runs++; return runs, nil }
	if v, _ := cache.GetOrCreate(context.Background(), r, "k", create); v != 1 {
		t.Fatal(v)
	}
	c := newCLI(nil, nil)
	c.inProcess = true
	c.open = func(context.Context, *settings.Settings) (*beaker.Beaker, error) {
		// The same regions, in a Beaker whose Close (by the command) leaves them open.
		return &beaker.Beaker{Sessions: b.Sessions, CSRF: b.CSRF, Cache: b.Cache, SessionType: b.SessionType}, nil
	}
	code, out, errs := runCLI(t, c, "cache", "invalidate", "long_term", "-config", ini)
	if code != 0 || !strings.Contains(out, "invalidated region long_term (hard)") {
		t.Fatalf("exit %d %q %q", code, out, errs)
	}
	if v, err := cache.GetOrCreate(context.Background(), r, "k", create); v != 2 {
		t.Fatalf("after invalidate GetOrCreate gave %d (%v), want a new value 2", v, err)
	}
	if code, _, errs := runCLI(t, c, "cache", "invalidate", "-config", ini, "nope"); code != 1 || !strings.Contains(errs, "no cache region") {
		t.Fatalf("unknown region: exit %d %q", code, errs)
	}
}

// TestCheckConfigExamples checks every INI file under examples/: each
// resolves, and prints its own session type.
func TestCheckConfigExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.ini")
	if err != nil || len(files) < 8 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", f)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", f, code, errs)
			continue
		}
		if !strings.Contains(out, "type ") {
			t.Errorf("%s: output lacks the session type:\n%s", f, out)
		}
	}
}
