package beaker_test

import (
	"context"
	"errors"
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

// writeINI writes files (name -> text) under a fresh directory and
// returns it.
func writeINI(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// settingErrorAt asserts that err is a *settings.Error at file:line for
// key, wrapping sentinel, whose message holds each of msgs.
func settingErrorAt(t *testing.T, err error, file string, line int, key string, sentinel error, msgs ...string) {
	t.Helper()
	var se *settings.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *settings.Error", err, err)
	}
	if se.File != file || se.Line != line || se.Key != key {
		t.Errorf("error at %s:%d key %q, want %s:%d key %q (%v)", se.File, se.Line, se.Key, file, line, key, err)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %v does not wrap %v", err, sentinel)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
}

const pyramidBase = `# Shared settings, as a Pyramid project keeps them.
[app:main]
use = egg:myproject
pyramid.reload_templates = false
pyramid.default_locale_name = en
cache.regions = default_term, short_term
cache.type = memory
cache.short_term.expire = 60
session.data_dir = %(here)s/data/sessions
session.key = myproject
`

const pyramidApp = `###
# app configuration
###
[app:main]
use = config:shared/base.ini#main
pyramid.includes =
    pyramid_debugtoolbar
    pyramid_beaker
pyramid.csrf_trusted_origins =
    example.com
    .example.org
    app.example.net:8443
session.secret = my secret passphrase, spaces and all, as Beaker reads it
cache.default_term.expire = 300

[server:main]
use = egg:waitress#main
listen = localhost:6543

[loggers]
keys = root
`

// TestPyramidINI reads a Pyramid project's INI as Pyramid and Beaker
// would: its app section inherits from a shared file (use = config:),
// session.data_dir without session.type picks the file store under the
// shared file's directory, the secret is one value with its spaces, and
// the trusted origins, in Pyramid's form, are passed through to CSRF.
func TestPyramidINI(t *testing.T) {
	dir := writeINI(t, map[string]string{"development.ini": pyramidApp, "shared/base.ini": pyramidBase})
	s, err := settings.Load(filepath.Join(dir, "development.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Session
	if sc.Type != "file" || sc.Store.Type != "file" || sc.Store.DataDir != filepath.Join(dir, "shared", "data", "sessions") {
		t.Errorf("session type %q, store %+v: want the file store in shared/data/sessions", sc.Type, sc.Store)
	}
	if got := sc.Options.Secrets; len(got) != 1 || got[0] != "my secret passphrase, spaces and all, as Beaker reads it" {
		t.Errorf("secrets %q", got)
	}
	if sc.Options.CookieName != "myproject" {
		t.Errorf("cookie name %q, want the inherited session.key", sc.Options.CookieName)
	}
	if got := strings.Join(cfg.CSRFTrustedOrigins, " "); got != "example.com .example.org app.example.net:8443" {
		t.Errorf("trusted origins %q", got)
	}
	if len(cfg.Regions) != 2 || cfg.Regions[0].Options.Expire != 300*time.Second || cfg.Regions[1].Options.Expire != 60*time.Second {
		t.Errorf("regions %+v", cfg.Regions)
	}
	for _, w := range cfg.Warnings {
		t.Errorf("unexpected warning %+v", w)
	}
	b, err := beaker.Open(context.Background(), s, quiet())
	if err != nil {
		t.Fatal(err) // Pyramid's origin forms included
	}
	defer b.Close()
	assertSessionPersists(t, b, "myproject=")
	if entries, err := os.ReadDir(filepath.Join(dir, "shared", "data", "sessions")); err != nil || len(entries) == 0 {
		t.Errorf("no session files in shared/data/sessions: %v %v", entries, err)
	}
}

// assertSessionPersists runs two requests: the first sets a value, the
// second, with the cookie, reads it back.
func assertSessionPersists(t *testing.T, b *beaker.Beaker, cookiePrefix string) {
	t.Helper()
	h := b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if r.URL.Path == "/set" {
			s.Set("k", "v")
			return
		}
		v, _ := session.Get[string](s, "k")
		w.Write([]byte(v))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/set", nil))
	sc := rec.Header().Get("Set-Cookie")
	if !strings.HasPrefix(sc, cookiePrefix) {
		t.Fatalf("Set-Cookie %q, want %s…", sc, cookiePrefix)
	}
	req := httptest.NewRequest("GET", "/get", nil)
	req.Header.Set("Cookie", strings.SplitN(sc, ";", 2)[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Body.String() != "v" {
		t.Fatalf("second request read %q, want the value the first set", rec.Body.String())
	}
}

// TestDataDirWithoutType: Beaker chooses the file store when data_dir is
// given without a type; an explicit type wins (and memory ignores
// data_dir with a warning).
func TestDataDirWithoutType(t *testing.T) {
	dir := t.TempDir()
	secret := "session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"
	cfg, err := beaker.Resolve(parse(t, "[app:main]\n"+secret+"session.data_dir = "+dir+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.Type != "file" || cfg.Session.Store.DataDir != dir {
		t.Fatalf("type %q, store %+v; want file in %s", cfg.Session.Type, cfg.Session.Store, dir)
	}
	b, err := beaker.Open(context.Background(), parse(t, "[app:main]\n"+secret+"session.data_dir = "+dir+"\n"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.SessionType != "file" {
		t.Fatalf("SessionType %q", b.SessionType)
	}
	assertSessionPersists(t, b, session.DefaultCookieName+"=")

	cfg, err = beaker.Resolve(parse(t, "[app:main]\n"+secret+"session.type = memory\nsession.data_dir = "+dir+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.Type != "memory" || len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "session.data_dir" {
		t.Fatalf("explicit memory: type %q, warnings %+v", cfg.Session.Type, cfg.Warnings)
	}
	cfg, err = beaker.Resolve(parse(t, "[app:main]\n"+secret))
	if err != nil || cfg.Session.Type != "memory" {
		t.Fatalf("no type, no data_dir: %+v, %v; want memory", cfg, err)
	}
}

func TestCookieNames(t *testing.T) {
	base := "[app:main]\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"
	bad := []struct {
		name, extra string
		msgs        []string
	}{
		{"space", "session.key = akhet demo\n", []string{`"akhet demo" is not a cookie name`, "a space"}},
		{"semicolon", "session.key = bad;name\n", []string{"';'", "RFC 6265"}},
		{"not ASCII", "session.key = kéy\n", []string{"'é', which is not ASCII"}},
		{"empty", "session.key =\n", []string{"empty", "beaker.session.id"}},
		{"equals", "session.key = a=b\n", []string{"'='"}},
		{"host, secure auto", "session.key = __Host-sid\n", []string{"__Host- cookie", "session.secure is auto", "set session.secure = true"}},
		{"host, secure false", "session.key = __Host-sid\nsession.secure = false\n", []string{"session.secure is false"}},
		{"host, path and domain", "session.key = __Host-sid\nsession.secure = true\nsession.cookie_path = /app\nsession.cookie_domain = example.com\n",
			[]string{`Path=/ (session.cookie_path is "/app")`, `no Domain (session.cookie_domain is "example.com"`}},
		{"host, any case", "session.key = __host-sid\nsession.cookie_domain = example.com\n", []string{"__host- cookie", "Secure", "Domain"}},
		{"secure prefix", "session.key = __Secure-sid\n", []string{"__Secure- cookie", "session.secure is auto"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := beaker.Resolve(parse(t, base+c.extra))
			settingErrorAt(t, err, "demo.ini", 3, "session.key", settings.ErrBadValue, c.msgs...)
			if strings.Contains(c.name, "host") && strings.Contains(err.Error(), "Path=/") != strings.Contains(c.extra, "cookie_path") {
				t.Errorf("error %q: Path=/ is missing only when cookie_path is set", err)
			}
		})
	}
	for _, extra := range []string{
		"session.key = beaker.session.id\n",
		"session.key = akhet_demo\n",
		"session.key = !#$%%&'*+-.^_`|~\n",
		"session.key = __Host-sid\nsession.secure = true\n",
		"session.key = __Host-sid\nsession.secure = true\nsession.cookie_path = /\n",
		"session.key = __Secure-sid\nsession.secure = true\nsession.cookie_domain = example.com\nsession.cookie_path = /app\n",
	} {
		if _, err := beaker.Resolve(parse(t, base+extra)); err != nil {
			t.Errorf("%q: %v", extra, err)
		}
	}
	// Open refuses it too, and a valid __Host- cookie goes out with its
	// attributes.
	if _, err := beaker.Open(context.Background(), parse(t, base+"session.key = akhet demo\n"), quiet()); !errors.Is(err, settings.ErrBadValue) {
		t.Fatalf("Open with an invalid cookie name: %v", err)
	}
	b, err := beaker.Open(context.Background(), parse(t, base+"session.key = __Host-sid\nsession.secure = true\n"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	assertSessionPersists(t, b, "__Host-sid=")
}

func TestCookieExpiresDate(t *testing.T) {
	base := "[app:main]\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"
	for v, want := range map[string]time.Time{
		"2099-01-31":                time.Date(2099, 1, 31, 0, 0, 0, 0, time.UTC),
		"2099-01-31T12:00:00":       time.Date(2099, 1, 31, 12, 0, 0, 0, time.UTC),
		"2099-01-31T12:00:00+02:00": time.Date(2099, 1, 31, 10, 0, 0, 0, time.UTC),
	} {
		cfg, err := beaker.Resolve(parse(t, base+"session.cookie_expires = "+v+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		o := cfg.Session.Options
		if !cfg.Session.CookieExpiresAt.Equal(want) || o.CookieExpires != 0 || o.PersistentCookie {
			t.Errorf("%s: CookieExpiresAt %v (CookieExpires %v, PersistentCookie %v), want %v", v, cfg.Session.CookieExpiresAt, o.CookieExpires, o.PersistentCookie, want)
		}
	}
	// Beaker's other forms are unchanged.
	for v, check := range map[string]func(beaker.SessionConfig) bool{
		"true":  func(c beaker.SessionConfig) bool { return !c.Options.PersistentCookie && c.Options.CookieExpires == 0 },
		"false": func(c beaker.SessionConfig) bool { return c.Options.PersistentCookie },
		"0":     func(c beaker.SessionConfig) bool { return c.Options.PersistentCookie },
		"3600":  func(c beaker.SessionConfig) bool { return c.Options.CookieExpires == time.Hour },
	} {
		cfg, err := beaker.Resolve(parse(t, base+"session.cookie_expires = "+v+"\n"))
		if err != nil || !check(cfg.Session) || !cfg.Session.CookieExpiresAt.IsZero() {
			t.Errorf("cookie_expires = %s: %+v, %v", v, cfg, err)
		}
	}
	_, err := beaker.Resolve(parse(t, base+"session.cookie_expires = 2001-01-31\n"))
	settingErrorAt(t, err, "demo.ini", 3, "session.cookie_expires", settings.ErrBadValue, "2001-01-31T00:00:00Z has passed")
	_, err = beaker.Resolve(parse(t, base+"session.cookie_expires = next week\n"))
	settingErrorAt(t, err, "demo.ini", 3, "session.cookie_expires", settings.ErrBadValue, "2027-01-31T12:00:00", "a whole number of seconds")
	// Open gives every cookie that Expires.
	b, err := beaker.Open(context.Background(), parse(t, base+"session.cookie_expires = 2099-01-31\n"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := httptest.NewRecorder()
	b.Sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("k", 1)
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if sc := rec.Header().Get("Set-Cookie"); !strings.Contains(sc, "Expires=Sat, 31 Jan 2099 00:00:00 GMT") {
		t.Fatalf("Set-Cookie %q: want Expires at the configured date", sc)
	}
}

func TestTimeoutZeroWarns(t *testing.T) {
	base := "[app:main]\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"
	cfg, err := beaker.Resolve(parse(t, base+"session.timeout = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.Options.Timeout != 0 {
		t.Errorf("Timeout %v, want none", cfg.Session.Options.Timeout)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "session.timeout" || cfg.Warnings[0].Line != 3 ||
		!strings.Contains(cfg.Warnings[0].Msg, "Beaker expires such a session at once") {
		t.Fatalf("warnings %+v", cfg.Warnings)
	}
	for _, extra := range []string{"", "session.timeout = 600\n"} {
		cfg, err := beaker.Resolve(parse(t, base+extra))
		if err != nil || len(cfg.Warnings) != 0 {
			t.Errorf("%q: warnings %+v, %v", extra, cfg.Warnings, err)
		}
	}
}

// TestUseConfigErrorLocation: an inherited bad value is reported at the
// file and line that wrote it.
func TestUseConfigErrorLocation(t *testing.T) {
	app := "[app:main]\nuse = config:base.ini\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"
	for _, c := range []struct {
		base, key, msg string
		line           int
	}{
		{"[app:main]\ncache.regions = a\n\ncache.a.expire = soon\n", "cache.a.expire", "soon", 4},
		{"[app:main]\ncache.regions = a\nsession.key = bad key\n", "session.key", "bad key", 3},
		{"[app:main]\nsession.timeout = 0\n", "", "", 2},
	} {
		dir := writeINI(t, map[string]string{"app.ini": app, "base.ini": c.base})
		s, err := settings.Load(filepath.Join(dir, "app.ini"), "")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := beaker.Resolve(s)
		if c.key == "" {
			// A warning about an inherited value is located there too.
			if err != nil || len(cfg.Warnings) != 1 || cfg.Warnings[0].File != filepath.Join(dir, "base.ini") || cfg.Warnings[0].Line != c.line {
				t.Errorf("warnings %+v, %v; want one at base.ini:%d", cfg.Warnings, err, c.line)
			}
			continue
		}
		settingErrorAt(t, err, filepath.Join(dir, "base.ini"), c.line, c.key, settings.ErrBadValue, c.msg)
	}
}

// TestManyRegionsResolve resolves 50,000 regions: linear (8000 took 18 s
// when it was quadratic). The budget is go test's timeout.
func TestManyRegionsResolve(t *testing.T) {
	const n = 50000
	m := map[string]string{"session.secret": "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac", "cache.expire": "30"}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprint("region", i)
		if i%2 == 0 {
			m["cache."+names[i]+".expire"] = fmt.Sprint(i + 1)
		}
	}
	m["cache.regions"] = strings.Join(names, ", ")
	s, err := settings.FromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Regions) != n {
		t.Fatalf("%d regions", len(cfg.Regions))
	}
	for i, rc := range cfg.Regions {
		want := 30 * time.Second
		if i%2 == 0 {
			want = time.Duration(i+1) * time.Second
		}
		if rc.Options.Name != names[i] || rc.Options.Expire != want {
			t.Fatalf("region %d: %+v, want %s expiring in %v", i, rc.Options, names[i], want)
		}
	}
	t.Logf("Resolve of %d regions: %v", n, time.Since(start))
}

func TestCookieConfigErrorIsLocated(t *testing.T) {
	s := parse(t, "[app:main]\nsession.type = cookie\nsession.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"+
		"session.encrypt_key_fallbacks = an-old-key-of-some-length\n")
	_, err := beaker.Open(context.Background(), s, quiet())
	var se *settings.Error
	if !errors.As(err, &se) || se.Key != "session.encrypt_key_fallbacks" || se.Line != 4 {
		t.Fatalf("error %v: want it located at session.encrypt_key_fallbacks, line 4", err)
	}
}
