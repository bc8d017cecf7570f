package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/internal/pgtest"
	"github.com/gobeaker/beaker/settings"
)

// demoType is one session type of the demo's tests: the INI lines that
// select it (session and cache on the same backend), and the variable that
// names its server, if it needs one.
type demoType struct {
	name, env, ini string
	serverSide     bool // the session lives in the store, not in the cookie
}

// demoTypes is every session type: memory, file, cookie and SQLite here,
// and PostgreSQL, Redis, Redis Cluster, Redis Sentinel and memcached on the
// servers that scripts/test.sh starts. dir holds the file and SQLite
// stores.
func demoTypes(dir string) []demoType {
	return []demoType{
		{"memory", "", "session.type = memory\ncache.type = memory\n", true},
		{"file", "", "session.type = file\nsession.data_dir = " + dir + "/sessions/data\nsession.lock_dir = " + dir + "/sessions/lock\n" +
			"cache.type = file\ncache.data_dir = " + dir + "/cache/data\ncache.lock_dir = " + dir + "/cache/lock\n", true},
		{"cookie", "", "session.type = cookie\ncache.type = memory\n", false},
		{"sqlite", "", "session.type = ext:database\nsession.url = sqlite:///" + dir + "/beaker.db\ncache.type = ext:database\ncache.url = sqlite:///" + dir + "/beaker.db\n", true},
		{"postgresql", "BEAKER_TEST_POSTGRES_URL", "session.type = ext:database\nsession.url = $URL\nsession.table_name = demo_$RUN" +
			"\ncache.type = ext:database\ncache.url = $URL\ncache.table_name = demo_$RUN\n", true},
		{"redis", "BEAKER_TEST_REDIS_URL", "session.type = ext:redis\nsession.url = $URL\ncache.type = ext:redis\ncache.url = $URL\n", true},
		{"rediscluster", "BEAKER_TEST_REDIS_CLUSTER", "session.type = ext:redis\nsession.url = $URL\ncache.type = ext:redis\ncache.url = $URL\n", true},
		{"redissentinel", "BEAKER_TEST_REDIS_SENTINEL", "session.type = ext:redis\nsession.url = $URL\ncache.type = ext:redis\ncache.url = $URL\n", true},
		{"memcached", "BEAKER_TEST_MEMCACHED", "session.type = ext:memcached\nsession.url = $URL\ncache.type = ext:memcached\ncache.url = $URL\n", true},
	}
}

// startDemoOn starts the demo on session type c, with the seed's cookie
// name and secret, a short_term cache region on the same backend, and the
// INI lines extra. Keys and tables get a prefix of their own, so that runs
// sharing a server do not meet. A type whose server variable is unset
// skips the test, but fails it when BEAKER_TEST_REQUIRE_SERVICES=1.
func startDemoOn(t *testing.T, c demoType, extra string) *demo {
	t.Helper()
	ini := c.ini
	if c.env != "" {
		u := os.Getenv(c.env)
		if u == "" {
			if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s is unset and BEAKER_TEST_REQUIRE_SERVICES=1", c.env)
			}
			t.Skipf("%s is unset: no server for %s", c.env, c.name)
		}
		ini = strings.ReplaceAll(ini, "$URL", u)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	ini = strings.ReplaceAll(ini, "$RUN", run)
	if c.env == "BEAKER_TEST_POSTGRES_URL" {
		pgtest.DropOnCleanup(t, os.Getenv(c.env), "demo_"+run)
	}
	text := "[app:main]\nsession.key = akhet_demo\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n" +
		"session.key_prefix = demo" + run + ":\ncache.regions = short_term\ncache.short_term.expire = 60\n" +
		"cache.key_prefix = demo" + run + ":\n" + ini + extra
	s, err := settings.Parse(c.name+".ini", strings.NewReader(text), "")
	if err != nil {
		t.Fatal(err)
	}
	return openDemo(t, s)
}

// TestWalkthroughEveryType walks through the demo on every session type,
// with a cache region on the same backend (a test skips only when its
// server's variable is unset, and never when BEAKER_TEST_REQUIRE_SERVICES=1).
func TestWalkthroughEveryType(t *testing.T) {
	for _, c := range demoTypes(t.TempDir()) {
		t.Run(c.name, func(t *testing.T) {
			d := startDemoOn(t, c, "")
			walkthrough(t, d.srv.URL)
			v := newVisitor(t, d.srv.URL)
			if page := v.get("/cached"); !strings.Contains(page, "short_term") {
				t.Fatalf("GET /cached on %s:\n%s", c.name, page)
			}
		})
	}
}
