package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/settings"
)

// TestWalkthroughEveryType walks through the demo on every session type,
// with a cache region on the same backend: memory, file, cookie and SQLite
// here, and PostgreSQL, Redis, Redis Cluster and memcached on the servers
// that scripts/test.sh starts (a test skips only when its server's
// variable is unset, and never when BEAKER_TEST_REQUIRE_SERVICES=1).
func TestWalkthroughEveryType(t *testing.T) {
	dir := t.TempDir()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	cases := []struct {
		name, env, ini string
	}{
		{"memory", "", "session.type = memory\ncache.type = memory\n"},
		{"file", "", "session.type = file\nsession.data_dir = " + dir + "/sessions/data\nsession.lock_dir = " + dir + "/sessions/lock\n" +
			"cache.type = file\ncache.data_dir = " + dir + "/cache/data\ncache.lock_dir = " + dir + "/cache/lock\n"},
		{"cookie", "", "session.type = cookie\ncache.type = memory\n"},
		{"sqlite", "", "session.type = ext:database\nsession.url = sqlite:///" + dir + "/beaker.db\ncache.type = ext:database\ncache.url = sqlite:///" + dir + "/beaker.db\n"},
		{"postgresql", "BEAKER_TEST_POSTGRES_URL", "session.type = ext:database\nsession.url = $URL\nsession.table_name = demo_" + run +
			"\ncache.type = ext:database\ncache.url = $URL\ncache.table_name = demo_" + run + "\n"},
		{"redis", "BEAKER_TEST_REDIS_URL", "session.type = ext:redis\nsession.url = $URL\ncache.type = ext:redis\ncache.url = $URL\n"},
		{"rediscluster", "BEAKER_TEST_REDIS_CLUSTER", "session.type = ext:redis\nsession.url = $URL\ncache.type = ext:redis\ncache.url = $URL\n"},
		{"memcached", "BEAKER_TEST_MEMCACHED", "session.type = ext:memcached\nsession.url = $URL\ncache.type = ext:memcached\ncache.url = $URL\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
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
			text := "[app:main]\nsession.key = akhet_demo\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n" +
				"session.key_prefix = demo" + run + ":\ncache.regions = short_term\ncache.short_term.expire = 60\n" +
				"cache.key_prefix = demo" + run + ":\n" + ini
			s, err := settings.Parse(c.name+".ini", strings.NewReader(text), "")
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.DiscardHandler)
			b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: log, Drivers: drivers()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			srv := httptest.NewServer(newHandler(b, log))
			t.Cleanup(srv.Close)
			walkthrough(t, srv.URL)
			v := newVisitor(t, srv.URL)
			if page := v.get("/cached"); !strings.Contains(page, "short_term") {
				t.Fatalf("GET /cached on %s:\n%s", c.name, page)
			}
		})
	}
}
