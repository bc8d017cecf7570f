package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/demotest"
	"github.com/gobeaker/beaker/internal/pgtest"
)

// client is one browser talking to several demo processes on 127.0.0.1:
// cookies ignore the port, so one jar carries the session to all of them.
type client struct {
	t *testing.T
	c *http.Client
}

func newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, c: &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// cookie returns the session cookie's value as the jar holds it for base.
func (c *client) cookie(base string) string {
	for _, ck := range c.c.Jar.Cookies(mustURL(base)) {
		if ck.Name == "akhet_demo" {
			return ck.Value
		}
	}
	return ""
}

// post sends a form with the CSRF token in X-CSRF-Token. It returns the
// status and whether the response clears the cookie; a transport error is
// status 0, so that it can be called from many goroutines.
func (c *client) post(base, path, token string, form url.Values) (code int, cleared bool, err error) {
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", token)
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, result{setCookie: resp.Header.Values("Set-Cookie")}.clearsCookie(), nil
}

func (c *client) get(base, path string) {
	c.t.Helper()
	resp, err := c.c.Get(base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s%s: %d", base, path, resp.StatusCode)
	}
}

func (c *client) api(base string) apiSession {
	c.t.Helper()
	resp, err := c.c.Get(base + "/api/session")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s apiSession
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		c.t.Fatalf("GET %s/api/session: %d: %v", base, resp.StatusCode, err)
	}
	return s
}

// token makes the session's CSRF token (the home page does) on base and
// returns it.
func (c *client) token(base string) string {
	c.t.Helper()
	c.get(base, "/")
	tok := c.api(base).CSRFToken
	if tok == "" {
		c.t.Fatalf("no CSRF token from %s", base)
	}
	return tok
}

// withCookie returns a fresh browser that presents value as the session
// cookie: what a second tab (or a stolen cookie) would send.
func withCookie(t *testing.T, base, value string) *client {
	c := newClient(t)
	c.c.Jar.SetCookies(mustURL(base), []*http.Cookie{{Name: "akhet_demo", Value: value, Path: "/"}})
	return c
}

// serverURL returns the test server's address in env, skipping the test
// when it is unset (failing when BEAKER_TEST_REQUIRE_SERVICES=1).
func serverURL(t *testing.T, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is unset and BEAKER_TEST_REQUIRE_SERVICES=1", env)
		}
		t.Skipf("%s is unset: no server", env)
	}
	return u
}

// demoINI writes an INI with the demo's session settings plus lines into
// dir and returns its path. The store timeout is well above the 2 s
// default: on a loaded test machine, a save that waits its turn behind a
// dozen others on one session (a compare-and-set retried, a lock queue)
// can take longer, and a 503 would fail the count of acknowledged posts.
func demoINI(t *testing.T, dir, lines string) string {
	t.Helper()
	text := "[app:main]\nsession.key = akhet_demo\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\nsession.timeout = 1800\n" +
		"session.store_timeout = 10\n" + lines
	p := filepath.Join(dir, "demo.ini")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTwoProcessesShareSessions runs two demo processes on two ports,
// sharing one backend, for every shared session type: a login on one is
// seen by the other, 1000 concurrent note posts spread over both lose
// nothing, and a logout on one ends the session on the other.
func TestTwoProcessesShareSessions(t *testing.T) {
	bin := demotest.Build(t, "../..")
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	prefix := "session.key_prefix = mp" + run + ":\n"
	cases := []struct {
		name, env string
		ini       func(dir, url string) string
	}{
		{"file", "", func(dir, _ string) string {
			return "session.type = file\nsession.data_dir = " + dir + "/data\nsession.lock_dir = " + dir + "/lock\n"
		}},
		{"sqlite", "", func(dir, _ string) string {
			return "session.type = ext:database\nsession.url = sqlite:///" + dir + "/beaker.db\n"
		}},
		{"postgresql", "BEAKER_TEST_POSTGRES_URL", func(_, u string) string {
			return "session.type = ext:database\nsession.url = " + u + "\nsession.table_name = mp_" + run + "\n"
		}},
		{"redis", "BEAKER_TEST_REDIS_URL", func(_, u string) string {
			return "session.type = ext:redis\nsession.url = " + u + "\n" + prefix
		}},
		{"rediscluster", "BEAKER_TEST_REDIS_CLUSTER", func(_, u string) string {
			return "session.type = ext:redis\nsession.url = " + u + "\n" + prefix
		}},
		{"memcached", "BEAKER_TEST_MEMCACHED", func(_, u string) string {
			return "session.type = ext:memcached\nsession.url = " + u + "\n" + prefix
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var u string
			if tc.env != "" {
				u = serverURL(t, tc.env)
			}
			if tc.env == "BEAKER_TEST_POSTGRES_URL" {
				pgtest.DropOnCleanup(t, u, "mp_"+run)
			}
			dir := t.TempDir()
			ini := demoINI(t, dir, tc.ini(dir, u))
			a := demotest.Start(t, bin, "-config", ini)
			b := demotest.Start(t, bin, "-config", ini)
			start := time.Now()
			sharedSession(t, a, b)
			t.Logf("%s: %v", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// sharedSession is the two-process check on demos at a and b.
func sharedSession(t *testing.T, a, b string) {
	c := newClient(t)
	token := c.token(a)
	if code, _, err := c.post(a, "/login", token, url.Values{"username": {"ann"}}); err != nil || code != http.StatusSeeOther {
		t.Fatalf("login on A: %d %v", code, err)
	}
	if s := c.api(b); s.User == nil || *s.User != "ann" {
		t.Fatalf("logged in on A, but B sees %+v", s)
	}

	// 1000 note posts, alternating between the processes, 12 in flight at
	// a time: a browser opens at most 6 connections to each of the two.
	token = c.api(b).CSRFToken // the login made a new one
	const posts, workers = 1000, 12
	var (
		mu     sync.Mutex
		acked  []string
		failed = map[string]int{}
		wg     sync.WaitGroup
		jobs   = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				base := []string{a, b}[i%2]
				key := fmt.Sprintf("n%04d", i)
				code, cleared, err := c.post(base, "/notes", token, url.Values{"key": {key}, "value": {"v" + key}})
				mu.Lock()
				switch {
				case err != nil:
					failed[err.Error()]++
				case code == http.StatusSeeOther && !cleared:
					acked = append(acked, key)
				default:
					failed[fmt.Sprintf("status %d, cookie cleared %v", code, cleared)]++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range posts {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	// Nothing else touches the session, so every post must succeed: a
	// refusal here would be a write lost to contention.
	if len(acked) != posts {
		t.Errorf("%d of %d note posts acknowledged; the others: %v", len(acked), posts, failed)
	}
	for _, base := range []string{a, b} {
		s := c.api(base)
		var lost []string
		for _, k := range acked {
			if s.Notes[k] != "v"+k {
				lost = append(lost, k)
			}
		}
		if len(lost) > 0 {
			sort.Strings(lost)
			t.Fatalf("%s: %d acknowledged notes lost (first %v); %d notes there", base, len(lost), lost[:min(5, len(lost))], len(s.Notes))
		}
		if s.User == nil || *s.User != "ann" {
			t.Fatalf("%s: the user is gone after the note posts: %v", base, s.User)
		}
	}

	// A logout on B ends the session for A too: the cookie the browser
	// held before the logout no longer reaches a logged-in session.
	old := c.cookie(a)
	if code, cleared, err := c.post(b, "/logout", token, nil); err != nil || code != http.StatusSeeOther || !cleared {
		t.Fatalf("logout on B: %d, cookie cleared %v, %v", code, cleared, err)
	}
	for _, base := range []string{a, b} {
		if s := withCookie(t, base, old).api(base); s.User != nil || len(s.Notes) != 0 {
			t.Fatalf("after the logout on B, %s still serves the old session: %d notes, logged in %v", base, len(s.Notes), s.User != nil)
		}
	}
}

// TestFileSessionsSurviveRestart runs the demo on examples/file.ini (from a
// temporary copy, so that %(here)s/data is there): log in, restart the
// process, still logged in, with the same CSRF token.
func TestFileSessionsSurviveRestart(t *testing.T) {
	bin := demotest.Build(t, "../..")
	src, err := os.ReadFile("../../examples/file.ini")
	if err != nil {
		t.Fatal(err)
	}
	ini := filepath.Join(t.TempDir(), "file.ini")
	if err := os.WriteFile(ini, src, 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := demotest.Run(t, bin, "-config", ini)
	c := newClient(t)
	token := c.token(base)
	if code, _, err := c.post(base, "/login", token, url.Values{"username": {"ann"}}); err != nil || code != http.StatusSeeOther {
		t.Fatalf("login: %d %v", code, err)
	}
	token = c.api(base).CSRFToken
	if code, _, err := c.post(base, "/notes", token, url.Values{"key": {"colour"}, "value": {"green"}}); err != nil || code != http.StatusSeeOther {
		t.Fatalf("note: %d %v", code, err)
	}
	stop()
	if _, err := http.Get(base + "/api/session"); err == nil {
		t.Fatal("the first demo process still answers after stop")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(ini), "data", "sessions", "data")); err != nil {
		t.Fatalf("no session files under the INI's data_dir: %v", err)
	}

	base = demotest.Start(t, bin, "-config", ini) // a new process, another port
	s := c.api(base)
	if s.User == nil || *s.User != "ann" || s.Notes["colour"] != "green" || s.CSRFToken != token {
		t.Fatalf("after a restart: %+v; want ann logged in, her note, the same token", s)
	}
	if code, _, err := c.post(base, "/notes", token, url.Values{"key": {"pet"}, "value": {"cat"}}); err != nil || code != http.StatusSeeOther {
		t.Fatalf("a post with the token from before the restart: %d %v", code, err)
	}
}
