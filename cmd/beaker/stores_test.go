package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// storeCase is a shared store for the sessions and cache commands: the
// lines of its INI, and how to write expired sessions into it (nil for a
// store that expires entries itself).
type storeCase struct {
	name, env string
	ini       func(dir, url string) string
	expired   func(t *testing.T, dir, prefix string, n int)
}

// past is a clock an hour behind, so that entries written through it with
// a one-minute TTL are already expired for everyone else.
func past() time.Time { return time.Now().Add(-time.Hour) }

func writeExpired(t *testing.T, s store.Store, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := s.Set(context.Background(), fmt.Sprintf("%sexpired%04d", prefix, i), []byte(`{}`), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

func storeCases(run string) []storeCase {
	prefix := "session.key_prefix = cli" + run + ":\ncache.key_prefix = cli" + run + ":\n"
	return []storeCase{
		{name: "file", ini: func(dir, _ string) string {
			return "session.type = file\nsession.data_dir = " + dir + "/sessions\nsession.lock_dir = " + dir + "/lock\n" +
				"cache.type = file\ncache.data_dir = " + dir + "/cache\ncache.lock_dir = " + dir + "/cachelock\n"
		}, expired: func(t *testing.T, dir, prefix string, n int) {
			s, err := filestore.New(filestore.Options{DataDir: dir + "/sessions", LockDir: dir + "/lock", Now: past})
			if err != nil {
				t.Fatal(err)
			}
			writeExpired(t, s, prefix, n)
		}},
		{name: "sqlite", ini: func(dir, _ string) string {
			return "session.type = ext:database\nsession.url = sqlite:///" + dir + "/beaker.db\n" +
				"cache.type = ext:database\ncache.url = sqlite:///" + dir + "/beaker.db\n"
		}, expired: func(t *testing.T, dir, prefix string, n int) {
			s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + dir + "/beaker.db", Now: past})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writeExpired(t, s, prefix, n)
		}},
		{name: "redis", env: "BEAKER_TEST_REDIS_URL", ini: func(_, u string) string {
			return "session.type = ext:redis\nsession.url = " + u + "\ncache.type = ext:redis\ncache.url = " + u + "\n" + prefix
		}},
		{name: "rediscluster", env: "BEAKER_TEST_REDIS_CLUSTER", ini: func(_, u string) string {
			return "session.type = ext:redis\nsession.url = " + u + "\ncache.type = ext:redis\ncache.url = " + u + "\n" + prefix
		}},
		{name: "memcached", env: "BEAKER_TEST_MEMCACHED", ini: func(_, u string) string {
			return "session.type = ext:memcached\nsession.url = " + u + "\ncache.type = ext:memcached\ncache.url = " + u + "\n" + prefix
		}},
	}
}

// app is an application's Beaker on the same settings as the command, in
// this process: the command opens its own, as a second process would.
type app struct {
	t *testing.T
	b *beaker.Beaker
	h http.Handler
}

func openApp(t *testing.T, ini string) *app {
	t.Helper()
	s, err := settings.Load(ini, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: slog.New(slog.DiscardHandler), Drivers: drivers()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if u := r.URL.Query().Get("user"); u != "" {
			s.Set("user", u)
			s.AddFlash("hello " + u)
		}
		u, _ := session.Get[string](s, "user")
		fmt.Fprint(w, u)
	}))
	return &app{t: t, b: b, h: h}
}

// login makes a session for user and returns its cookie value.
func (a *app) login(user string) string {
	a.t.Helper()
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, httptest.NewRequest("GET", "/?user="+user, nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "akhet_demo" {
			return c.Value
		}
	}
	a.t.Fatalf("no session cookie for %s", user)
	return ""
}

// user returns the user of the session that cookie names, as the app sees it.
func (a *app) user(cookie string) string {
	a.t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "akhet_demo", Value: cookie})
	a.h.ServeHTTP(rec, req)
	return rec.Body.String()
}

// TestCommandsOnStores runs the sessions and cache commands against real
// stores: file and SQLite in a temporary folder, Redis (single and
// Cluster) and memcached on the test servers. The command opens the
// settings on its own, as it would in another process, while an
// application's Beaker on the same settings makes and checks sessions.
func TestCommandsOnStores(t *testing.T) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	for _, sc := range storeCases(run) {
		t.Run(sc.name, func(t *testing.T) {
			var u string
			if sc.env != "" {
				if u = os.Getenv(sc.env); u == "" {
					if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
						t.Fatalf("%s is unset and BEAKER_TEST_REQUIRE_SERVICES=1", sc.env)
					}
					t.Skipf("%s is unset: no server", sc.env)
				}
			}
			dir := t.TempDir()
			ini := filepath.Join(dir, "app.ini")
			// A store timeout well above the 2 s default: opening SQLite
			// (table setup runs under it) on a loaded test machine can
			// take longer.
			text := "[app:main]\nsession.key = akhet_demo\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\nsession.store_timeout = 10\n" +
				"cache.regions = short_term\ncache.short_term.expire = 600\n" + sc.ini(dir, u)
			if err := os.WriteFile(ini, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			a := openApp(t, ini)
			prefix := a.b.Config.Session.Options.KeyPrefix
			ann, bob := a.login("ann"), a.login("bob")
			cookies := []string{ann, bob}
			noCookie := func(what, out string) {
				t.Helper()
				for _, ck := range cookies {
					if strings.Contains(out, ck) {
						t.Fatalf("%s prints a session cookie:\n%s", what, out)
					}
				}
			}

			// list
			code, out, errs := runCLI(t, newCLI(nil, nil), "sessions", "list", "-config", ini)
			noCookie("list", out+errs)
			var keys []string
			if sc.name == "memcached" {
				if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "ext:memcached cannot list its sessions") {
					t.Fatalf("list on memcached: exit %d, stdout %q, stderr %q; want exit 1 and one line", code, out, errs)
				}
			} else {
				for _, line := range strings.Split(out, "\n") {
					if strings.HasPrefix(line, prefix) {
						keys = append(keys, strings.Fields(line)[0])
					}
				}
				if code != 0 || len(keys) != 2 || !strings.Contains(errs, "2 sessions") {
					t.Fatalf("list: exit %d\n%s\n%s", code, out, errs)
				}
				code, out, errs = runCLI(t, newCLI(nil, nil), "sessions", "show", "-config", ini, keys[0])
				if code != 0 || !strings.Contains(out, `"user": "ann"`) && !strings.Contains(out, `"user": "bob"`) {
					t.Fatalf("show %s: exit %d\n%s\n%s", keys[0], code, out, errs)
				}
			}

			// show and delete by cookie; the REF never shows in an error
			code, out, errs = runCLI(t, newCLI(nil, nil), "sessions", "show", "-config", ini, "--", ann)
			if code != 0 || !strings.Contains(out, `"user": "ann"`) || !strings.Contains(out, `"hello ann"`) {
				t.Fatalf("show by cookie: exit %d\n%s\n%s", code, out, errs)
			}
			noCookie("show", out+errs)
			code, out, errs = runCLI(t, newCLI(nil, nil), "sessions", "delete", "-config", ini, "--", ann)
			if code != 0 || !strings.Contains(out, "deleted "+prefix) {
				t.Fatalf("delete: exit %d %q %q", code, out, errs)
			}
			noCookie("delete", out+errs)
			if got := a.user(ann); got != "" {
				t.Fatalf("after sessions delete the app still sees %q logged in", got)
			}
			if got := a.user(bob); got != "bob" {
				t.Fatalf("deleting ann's session logged bob out (%q)", got)
			}
			for _, args := range [][]string{
				{"sessions", "show", "-config", ini, "--", ann},
				{"sessions", "delete", "-config", ini, "--", ann},
				{"sessions", "show", "-config", ini, "--", "-" + ann},
			} {
				code, out, errs = runCLI(t, newCLI(nil, nil), args...)
				if code != 1 || !strings.Contains(errs, "no session") {
					t.Fatalf("%v after delete: exit %d %q", args[:2], code, errs)
				}
				if strings.Contains(out+errs, ann) {
					t.Fatalf("%v prints the REF: %s", args[:2], out+errs)
				}
			}
			code, out, errs = runCLI(t, newCLI(nil, nil), "sessions", "show", "-config", ini, "-"+ann)
			if code != 2 || strings.Contains(out+errs, ann) {
				t.Fatalf("a REF read as a flag: exit %d, output %q %q (the REF must not be printed)", code, out, errs)
			}

			// purge, with progress on a terminal
			c := newCLI(nil, nil)
			c.terminal = true
			const expired = 300
			if sc.expired == nil {
				code, out, errs = runCLI(t, c, "sessions", "purge", "-config", ini)
				if code != 0 || !strings.Contains(out, "nothing to purge") {
					t.Fatalf("purge: exit %d %q %q", code, out, errs)
				}
			} else {
				sc.expired(t, dir, prefix, expired)
				code, out, errs = runCLI(t, c, "sessions", "purge", "-config", ini)
				if code != 0 || !strings.Contains(out, fmt.Sprintf("removed %d expired sessions", expired)) {
					t.Fatalf("purge: exit %d %q %q", code, out, errs)
				}
				if !strings.Contains(errs, "purging expired sessions…") || !strings.HasSuffix(errs, "\r\033[K") {
					t.Fatalf("purge on a terminal shows no progress, or does not clear it: %q", errs)
				}
				code, out, errs = runCLI(t, newCLI(nil, nil), "sessions", "purge", "-config", ini)
				if code != 0 || !strings.Contains(out, "removed 0 expired sessions") || errs != "" {
					t.Fatalf("second purge, not on a terminal: exit %d %q %q", code, out, errs)
				}
			}
			if got := a.user(bob); got != "bob" {
				t.Fatalf("the purge logged bob out (%q)", got)
			}

			// cache invalidate, seen by the application
			r, _ := a.b.Cache.Region("short_term")
			runs := 0
			create := func(context.Context) (int, error) { runs++; return runs, nil }
			if v, err := cache.GetOrCreate(context.Background(), r, "k", create); v != 1 || err != nil {
				t.Fatalf("GetOrCreate: %d %v", v, err)
			}
			code, out, errs = runCLI(t, newCLI(nil, nil), "cache", "invalidate", "-config", ini, "short_term")
			if code != 0 || !strings.Contains(out, "invalidated region short_term (hard)") {
				t.Fatalf("cache invalidate: exit %d %q %q", code, out, errs)
			}
			// Another process applies an invalidation within its
			// GenerationInterval (cache.DefaultGenerationInterval).
			deadline := time.Now().Add(cache.DefaultGenerationInterval + 5*time.Second)
			for {
				v, err := cache.GetOrCreate(context.Background(), r, "k", create)
				if err != nil || v > 2 {
					t.Fatalf("after beaker cache invalidate, the app's region gave %d (%v), want a new value 2", v, err)
				}
				if v == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the app's region still serves the value made before beaker cache invalidate")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
