package beaker_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// seedINI returns the seed's settings verbatim (the Akhet demo's).
func seedINI(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("settings/testdata/seed.ini")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func quiet() beaker.Options { return beaker.Options{Logger: slog.New(slog.DiscardHandler)} }

func parse(t *testing.T, text string) *settings.Settings {
	t.Helper()
	s, err := settings.Parse("demo.ini", strings.NewReader(text), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenSeed(t *testing.T) {
	b, err := beaker.Open(context.Background(), parse(t, seedINI(t)), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.SessionType != "memory" {
		t.Fatalf("SessionType = %q", b.SessionType)
	}
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("k", 1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if sc := rec.Header().Get("Set-Cookie"); !strings.HasPrefix(sc, "akhet_demo=") {
		t.Fatalf("Set-Cookie = %q, want the seed's cookie name", sc)
	}
}

func TestOpenMapWithPrefixes(t *testing.T) {
	s, err := settings.FromMap(map[string]string{
		"beaker.session.type":          "memory",
		"beaker.session.secret":        "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac",
		"session.timeout":              "600",
		"session.cookie_expires":       "3600",
		"session.secure":               "true",
		"session.samesite":             "Strict",
		"session.httponly":             "false",
		"pyramid.csrf_trusted_origins": "https://a.example https://b.example",
		"pyramid.reload_templates":     "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := beaker.Open(context.Background(), s, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("k", 1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	sc := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"beaker.session.id=", "Max-Age=3600", "Secure", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "HttpOnly") {
		t.Errorf("Set-Cookie %q has HttpOnly despite session.httponly = false", sc)
	}
	// The trusted origin passes the cross-origin check.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Origin", "https://a.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec = httptest.NewRecorder()
	b.CSRF.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Fatalf("GET from a trusted origin: %d", rec.Code)
	}
}

func TestOpenErrors(t *testing.T) {
	base := "[app:main]\nsession.type = memory\n"
	good := "session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"
	cases := []struct {
		name, text, key string
		line            int
		sentinel        error
		msg             string
	}{
		{"no secret", base, "session.secret", 0, session.ErrNoSecret, "beaker gen-secret"},
		{"short secret", base + "session.secret = tooshort\n", "session.secret", 3, session.ErrSecretTooShort, "beaker gen-secret"},
		{"unknown type", "[app:main]\n" + good + "session.type = floppy\n", "session.type", 3, settings.ErrBadValue, "floppy"},
		{"redis not linked", "[app:main]\nsession.type = ext:redis\n" + good, "session.type", 2, beaker.ErrNotLinked, "Drivers: []store.Driver{redisstore.Driver()}"},
		{"short redis not linked", "[app:main]\nsession.type = redis\n" + good, "session.type", 2, beaker.ErrNotLinked, `"github.com/gobeaker/beaker/store/redisstore"`},
		{"memcached not linked", "[app:main]\nsession.type = ext:memcached\n" + good, "session.type", 2, beaker.ErrNotLinked, "memcachestore.Driver()"},
		{"database not linked", "[app:main]\nsession.type = ext:database\n" + good, "session.type", 2, beaker.ErrNotLinked, "sqlstore.Driver()"},
		{"unsupported type", "[app:main]\nsession.type = dbm\n" + good, "session.type", 2, settings.ErrBadValue, "does not support"},
		{"bad samesite", base + good + "session.samesite = sometimes\n", "session.samesite", 4, settings.ErrBadValue, "Lax, Strict or None"},
		{"bad cookie_expires", base + good + "session.cookie_expires = soon\n", "session.cookie_expires", 4, settings.ErrBadValue, "soon"},
		{"bad timeout", base + good + "session.timeout = ten\n", "session.timeout", 4, settings.ErrBadValue, "ten"},
		{"pickle", base + good + "session.data_serializer = pickle\n", "session.data_serializer", 4, beaker.ErrNotAvailable, "JSON"},
		{"encrypt_key", base + good + "session.encrypt_key = abc\n", "session.encrypt_key", 4, beaker.ErrNotAvailable, "encryption"},
		{"beaker format", base + good + "session.format = beaker\n", "session.format", 4, beaker.ErrNotAvailable, "not available yet"},
		{"bad trusted origin", base + good + "pyramid.csrf_trusted_origins = a.example/x\n", "pyramid.csrf_trusted_origins", 4, nil, "a.example/x"},
		{"samesite none without secure", base + good + "session.secure = false\nsession.samesite = None\n", "session.samesite", 5, settings.ErrBadValue, "Secure"},
		{"typo", base + good + "session.timout = 10\n", "session.timout", 4, settings.ErrUnknownKey, "session.timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := beaker.Open(context.Background(), parse(t, c.text), quiet())
			if err == nil {
				b.Close()
				t.Fatal("no error")
			}
			var se *settings.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *settings.Error", err)
			}
			if se.File != "demo.ini" || se.Key != c.key || se.Line != c.line {
				t.Errorf("error at %s:%d key %q, want demo.ini:%d key %q (%v)", se.File, se.Line, se.Key, c.line, c.key, err)
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("error %v does not wrap %v", err, c.sentinel)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if strings.Contains(err.Error(), "0cb243f5") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestShortSecretWarns(t *testing.T) {
	var logs strings.Builder
	s := parse(t, "[app:main]\nsession.secret = 0123456789abcdef0123\n")
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if !strings.Contains(logs.String(), "shorter than the recommended") {
		t.Fatalf("no warning for a 20-byte secret: %q", logs.String())
	}
}

func TestOpenSeedCacheRegions(t *testing.T) {
	b, err := beaker.Open(context.Background(), parse(t, seedINI(t)), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := strings.Join(b.Cache.Regions(), ","); got != "default_term,second,short_term,long_term" {
		t.Fatalf("regions %s", got)
	}
	r, ok := b.Cache.Region("short_term")
	if !ok {
		t.Fatal("no short_term region")
	}
	calls := 0
	create := func(context.Context) (string, error) { calls++; return "made", nil }
	for range 3 {
		v, err := cache.GetOrCreate(context.Background(), r, "k", create)
		if err != nil || v != "made" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	}
	if calls != 1 {
		t.Fatalf("creator ran %d times in a 60 s region", calls)
	}
}

func TestOpenCacheErrors(t *testing.T) {
	good := "[app:main]\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\ncache.regions = a, b\n"
	for name, c := range map[string]struct {
		extra, key string
		line       int
		sentinel   error
	}{
		"region type not linked": {"cache.b.type = ext:redis\n", "cache.b.type", 4, beaker.ErrNotLinked},
		"global type unknown":    {"cache.type = floppy\n", "cache.type", 4, settings.ErrBadValue},
		"bad expire":             {"cache.a.expire = soon\n", "cache.a.expire", 4, settings.ErrBadValue},
		"bad enabled":            {"cache.enabled = maybe\n", "cache.enabled", 4, settings.ErrBadValue},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := beaker.Open(context.Background(), parse(t, good+c.extra), quiet())
			if err == nil {
				b.Close()
				t.Fatal("no error")
			}
			var se *settings.Error
			if !errors.As(err, &se) || se.Key != c.key || se.Line != c.line || !errors.Is(err, c.sentinel) {
				t.Fatalf("error %v: want %s at line %d wrapping %v", err, c.key, c.line, c.sentinel)
			}
		})
	}
}

func TestResolveIsWhatOpenBuilds(t *testing.T) {
	s := parse(t, "[app:main]\nsession.secret = a secret with spaces in it, as Beaker reads it\n"+
		"session.secret_fallbacks = 0123456789abcdef0123 fedcba9876543210fedc\n"+
		"session.samesite = false\nsession.max_size = 1024\ncache.regions = a\ncache.a.expire = 5\n")
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Session.Options
	if len(o.Secrets) != 3 || o.Secrets[0] != "a secret with spaces in it, as Beaker reads it" {
		t.Fatalf("secrets %q: want session.secret as one value, then the fallbacks", o.Secrets)
	}
	if o.SameSite != http.SameSiteDefaultMode || o.MaxSize != 1024 || o.CookieName != session.DefaultCookieName ||
		o.Lifetime != session.DefaultLifetime || o.CookiePath != "/" || o.KeyPrefix != session.DefaultKeyPrefix {
		t.Fatalf("resolved session options %+v", o)
	}
	if len(cfg.Regions) != 1 || cfg.Regions[0].Options.Expire != 5*time.Second || cfg.Regions[0].Type != "memory" {
		t.Fatalf("regions %+v", cfg.Regions)
	}
}

// TestDriverLinksAType links a driver for ext:redis that serves a memory
// store: what the program passes in Options.Drivers is what Open uses, for
// the session manager and for regions, with one store per backend.
func TestDriverLinksAType(t *testing.T) {
	var opened []store.Config
	d := store.Driver{Name: "test", Types: []string{"redis"}, Open: func(_ context.Context, c store.Config) (store.Store, error) {
		opened = append(opened, c)
		return memstore.New(memstore.Options{}), nil
	}}
	s := parse(t, "[app:main]\nsession.type = ext:redis\nsession.url = redis://127.0.0.1:1/0\n"+
		"session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\ncache.regions = a, b\ncache.type = redis\n"+
		"cache.url = redis://127.0.0.1:1/0\n")
	b, err := beaker.Open(context.Background(), s, beaker.Options{Logger: slog.New(slog.DiscardHandler), Drivers: []store.Driver{d}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(opened) != 1 || opened[0].URL != "redis://127.0.0.1:1/0" || opened[0].Type != "ext:redis" {
		t.Fatalf("the driver opened %+v; want one store shared by the sessions and both regions", opened)
	}
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("k", 1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Set-Cookie") == "" {
		t.Fatalf("a session on the linked store: %d %v", rec.Code, rec.Header())
	}
}
