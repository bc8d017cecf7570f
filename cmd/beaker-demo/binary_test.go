package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/internal/demotest"
)

// exampleServers maps the server addresses written in examples/*.ini to
// the variables that name the test servers, so that the examples run
// against them.
var exampleServers = []struct{ written, env string }{
	{"postgresql://app@127.0.0.1:5432/app", "BEAKER_TEST_POSTGRES_URL"},
	{"127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002", "BEAKER_TEST_REDIS_CLUSTER"},
	{"redis://127.0.0.1:6379/0", "BEAKER_TEST_REDIS_URL"},
	{"redis://127.0.0.1:6379/1", "BEAKER_TEST_REDIS_URL"},
	{"127.0.0.1:11211;127.0.0.1:11212", "BEAKER_TEST_MEMCACHED"},
}

// TestExamples builds the demo binary and starts it with every
// examples/*.ini, copied into a temporary folder (so that %(here)s data
// stays out of the repository) with the test servers' addresses, and
// walks through the app over HTTP.
func TestExamples(t *testing.T) {
	bin := demotest.Build(t, "../..")
	files, err := filepath.Glob("../../examples/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, s := range exampleServers {
				if !strings.Contains(text, s.written) {
					continue
				}
				u := os.Getenv(s.env)
				if u == "" {
					if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
						t.Fatalf("%s is unset and BEAKER_TEST_REQUIRE_SERVICES=1", s.env)
					}
					t.Skipf("%s is unset: no server for %s", s.env, filepath.Base(f))
				}
				text = strings.ReplaceAll(text, s.written, u)
			}
			ini := filepath.Join(t.TempDir(), filepath.Base(f))
			if err := os.WriteFile(ini, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			walkthrough(t, demotest.Start(t, bin, "-config", ini))
		})
	}
	t.Run("built-in", func(t *testing.T) { walkthrough(t, demotest.Start(t, bin)) })
}
