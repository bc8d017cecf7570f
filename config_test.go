package beaker_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/internal/logtest"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

const secretLine = "session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"

// relativePathWarnings returns the keys of cfg's warnings about a path
// relative to the working directory, joined with commas, and fails the
// test for one that does not say how to write it (with how).
func relativePathWarnings(t *testing.T, cfg *beaker.Config, how string) string {
	t.Helper()
	var got []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Msg, "working directory") {
			got = append(got, w.Key)
			if !strings.Contains(w.Msg, how) {
				t.Errorf("warning %q does not say how to write it", w.Msg)
			}
		}
	}
	return strings.Join(got, ",")
}

// TestRelativeSQLiteURLWarns: a relative SQLite path in a url is relative
// to the working directory, as SQLAlchemy takes it for Python Beaker (the
// same database as the Python application's), not to the INI file's
// folder; it is kept so, but warned about, with the %(here)s form to write.
// Absolute and in-memory urls, PostgreSQL and a settings map get no
// warning.
func TestRelativeSQLiteURLWarns(t *testing.T) {
	dir := writeINI(t, map[string]string{
		"conf/app.ini": "[app:main]\nuse = config:../base/base.ini\n" + secretLine + "session.type = ext:database\nsession.url = sqlite:///rel.db\n",
		"base/base.ini": "[app:main]\ncache.regions = a, b, c\ncache.type = ext:database\ncache.url = sqlite+pysqlite:///data/cache.db?timeout=2\n" +
			"cache.b.url = sqlite:////abs/b.db\ncache.c.url = sqlite://\n",
	})
	s, err := settings.Load(filepath.Join(dir, "conf", "app.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	if here, ok := cfg.Session.Store.Params["here"]; ok || cfg.Session.Store.URL != "sqlite:///rel.db" {
		t.Errorf("session store: url %q, here %q; want the url as written, relative to the working directory", cfg.Session.Store.URL, here)
	}
	if got := relativePathWarnings(t, cfg, ":///%(here)s/"); got != "session.url,cache.url" {
		t.Errorf("relative-path warnings on %v, want session.url,cache.url (once each)", got)
	}
	m, err := settings.FromMap(map[string]string{"session.type": "ext:database", "session.url": "sqlite:///rel.db",
		"session.secret": "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := beaker.Resolve(m); err != nil {
		t.Fatal(err)
	} else if len(cfg.Warnings) != 0 {
		t.Errorf("settings map: warnings %v, want none (no file to be relative to)", cfg.Warnings)
	}
}

// TestRelativeFileStoreDirsWarn: a relative data_dir or lock_dir in an INI
// file is relative to the working directory, as in Beaker; it is kept so,
// but warned about, once per line even when several regions read it.
func TestRelativeFileStoreDirsWarn(t *testing.T) {
	cfg, err := beaker.Resolve(parse(t, "[app:main]\n"+secretLine+
		"session.data_dir = data/sessions\nsession.lock_dir = /abs/lock\n"+
		"cache.regions = a, b\ncache.type = file\ncache.data_dir = data/cache\ncache.b.lock_dir = lock\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.Store.DataDir != "data/sessions" {
		t.Errorf("data_dir %q changed", cfg.Session.Store.DataDir)
	}
	if got := relativePathWarnings(t, cfg, "%(here)s/"); got != "session.data_dir,cache.data_dir,cache.b.lock_dir" {
		t.Errorf("relative-dir warnings on %v, want session.data_dir,cache.data_dir,cache.b.lock_dir (once each)", got)
	}
}

// TestStoreErrorsNameTheKeyAtFault: an error of a store driver about one
// setting (a *store.ConfigError) is located at that setting, its file and
// line, not at the type line (nor at a type the file does not write).
func TestStoreErrorsNameTheKeyAtFault(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "a-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := beaker.Options{Logger: slog.New(slog.DiscardHandler), Drivers: []store.Driver{sqlstore.Driver(), redisstore.Driver(), memcachestore.Driver()}}
	head := "[app:main]\n" + secretLine
	for _, c := range []struct {
		name, text, key string
		line            int
		sentinel        error
		msg             string
	}{
		{"data_dir, no type line", head + "session.data_dir = " + notDir + "/sessions\n", "session.data_dir", 3, nil, "not a directory"},
		{"lock_dir", head + "session.type = file\nsession.data_dir = " + dir + "/d\nsession.lock_dir = " + notDir + "/lock\n", "session.lock_dir", 5, nil, "not a directory"},
		{"sqlite timeout", head + "session.type = ext:database\nsession.url = sqlite:///x.db?timeout=abc\n", "session.url", 4, sqlstore.ErrURL, `timeout="abc"`},
		{"table_name", head + "session.type = ext:database\nsession.url = sqlite:///" + dir + "/t.db\nsession.table_name = drop table\n", "session.table_name", 5, sqlstore.ErrBadTableName, "letters"},
		{"sqlite that cannot be made", head + "session.type = ext:database\nsession.url = sqlite:///" + notDir + "/x.db\n", "session.url", 4, nil, "SQL database"},
		{"cache.url", head + "cache.regions = a\ncache.type = ext:database\ncache.url = mysql://x\n", "cache.url", 5, sqlstore.ErrURL, "mysql"},
		{"region's own url", head + "cache.regions = a, b\ncache.type = ext:database\ncache.url = sqlite:///" + dir + "/c.db\ncache.b.url = mysql://x\n", "cache.b.url", 6, sqlstore.ErrURL, "mysql"},
		{"redis urls", head + "session.type = ext:redis\nsession.urls = redis://:hunter2@h:1/0?pool_size=x\n", "session.urls", 4, redisstore.ErrInvalidURL, "pool_size"},
		{"memcached url", head + "cache.regions = a\ncache.a.type = ext:memcached\ncache.a.url = h:99999\n", "cache.a.url", 5, memcachestore.ErrInvalidURL, "h:99999"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := beaker.Open(context.Background(), parse(t, c.text), opts)
			if err == nil {
				b.Close()
				t.Fatal("no error")
			}
			var se *settings.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *settings.Error", err, err)
			}
			if se.File != "demo.ini" || se.Line != c.line || se.Key != c.key {
				t.Errorf("error at %s:%d key %q, want demo.ini:%d key %q (%v)", se.File, se.Line, se.Key, c.line, c.key, err)
			}
			var ce *store.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %v does not wrap a *store.ConfigError", err)
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("error %v does not wrap %v", err, c.sentinel)
			}
			if !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q: want it to say %q, and no password", err, c.msg)
			}
		})
	}
}

var errFakeURL = errors.New("fake: bad url")

// TestCheckRunsTheDriversChecks: Check runs each linked driver's Validate
// on the stores the settings name (Resolve only those Open links itself),
// reports a type whose driver is not linked, and Open runs it before
// opening any store; a Driver without Validate (the zero value) is fine.
func TestCheckRunsTheDriversChecks(t *testing.T) {
	dir := t.TempDir()
	var validated []string
	fake := store.Driver{Name: "fake", Types: []string{"ext:redis"},
		Open: func(context.Context, store.Config) (store.Store, error) {
			t.Error("Open ran")
			return nil, errors.New("opened")
		},
		Validate: func(c store.Config) error {
			validated = append(validated, c.Use+" "+c.URL)
			if c.Logger == nil {
				t.Error("Validate got a nil Logger")
			}
			if c.URL == "bad" {
				return &store.ConfigError{Key: "url", Err: errFakeURL}
			}
			return nil
		}}
	text := "[app:main]\n" + secretLine + "session.type = file\nsession.data_dir = " + dir + "/sessions\n" +
		"cache.regions = a, b\ncache.type = ext:redis\ncache.url = good\ncache.b.url = bad\n"

	if _, err := beaker.Resolve(parse(t, text)); err != nil {
		t.Errorf("Resolve, which has no driver for ext:redis: %v", err)
	}
	_, err := beaker.Check(parse(t, text), beaker.Options{})
	settingErrorAt(t, err, "demo.ini", 6, "cache.type", beaker.ErrNotLinked, "redisstore.Driver()")

	_, err = beaker.Check(parse(t, text), beaker.Options{Drivers: []store.Driver{fake}})
	settingErrorAt(t, err, "demo.ini", 8, "cache.b.url", errFakeURL, "fake store: fake: bad url")
	if strings.Join(validated, ",") != "cache good,cache bad" {
		t.Errorf("Validate ran on %q", validated)
	}
	_, err = beaker.Open(context.Background(), parse(t, text), beaker.Options{Logger: slog.New(slog.DiscardHandler), Drivers: []store.Driver{fake}})
	if err == nil || !strings.Contains(err.Error(), "cache.b.url") {
		t.Fatalf("Open: %v, want the region's url refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions")); err == nil {
		t.Errorf("Open made the session store's folder before refusing a region's url")
	}

	fake.Validate = nil
	fake.Open = func(context.Context, store.Config) (store.Store, error) { return memstore.New(memstore.Options{}), nil }
	b, err := beaker.Open(context.Background(), parse(t, text), beaker.Options{Logger: slog.New(slog.DiscardHandler), Drivers: []store.Driver{fake}})
	if err != nil {
		t.Fatalf("a driver without Validate: %v", err)
	}
	b.Close()
	_, err = beaker.Resolve(parse(t, "[app:main]\n"+secretLine+"session.type = file\n"))
	settingErrorAt(t, err, "demo.ini", 3, "session.type", filestore.ErrNoDataDir, "data_dir is required")
}

// TestMemcachedURLErrorHidesThePassword: a memcached url that does not
// parse is quoted in the error, but never a user:password@ in it.
func TestMemcachedURLErrorHidesThePassword(t *testing.T) {
	_, err := beaker.Check(parse(t, "[app:main]\n"+secretLine+"session.type = ext:memcached\nsession.url = memcached://admin:hunter2@cache.internal:11211\n"),
		beaker.Options{Drivers: []store.Driver{memcachestore.Driver()}})
	settingErrorAt(t, err, "demo.ini", 4, "session.url", memcachestore.ErrInvalidURL, "has a user or password")
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "admin") {
		t.Errorf("error %q shows the credentials", err)
	}
}

// TestCookiePathAndDomainAreChecked: a cookie_domain net/http would drop
// (the cookie silently host-only) and a cookie_path browsers ignore or
// net/http would alter are refused, located; good ones pass.
func TestCookiePathAndDomainAreChecked(t *testing.T) {
	head := "[app:main]\n" + secretLine
	for _, c := range []struct{ line, key, msg string }{
		{"session.cookie_domain = exa mple.com\n", "session.cookie_domain", `"exa mple.com" is not a cookie domain`},
		{"session.cookie_domain = example.com;evil\n", "session.cookie_domain", "this host only"},
		{"session.cookie_domain = bücher.example\n", "session.cookie_domain", "ASCII"},
		{"session.cookie_path = /a;b\n", "session.cookie_path", "sent as Path=/ab"},
		{"session.cookie_path = no-slash\n", "session.cookie_path", "does not start with '/'"},
		{"session.cookie_path = /a\tb\n", "session.cookie_path", "control character"},
	} {
		_, err := beaker.Resolve(parse(t, head+c.line))
		settingErrorAt(t, err, "demo.ini", 3, c.key, settings.ErrBadValue, c.msg)
	}
	for _, line := range []string{
		"session.cookie_domain = example.com\n", "session.cookie_domain = .example.com\n", "session.cookie_domain = 127.0.0.1\n",
		"session.cookie_domain =\n", "session.cookie_path = /app/sub\n", "session.cookie_path =\n",
	} {
		if _, err := beaker.Resolve(parse(t, head+line)); err != nil {
			t.Errorf("%s: %v", strings.TrimSpace(line), err)
		}
	}
}

// TestURLAndURLsBothSet: with url and urls both set, a store reads the
// one its type reads in Beaker (urls for ext:rediscluster, url for the
// rest) and the other is warned about as ignored, when it is the
// session's or the region's own; a global cache.url beside a cluster
// region's urls, a working Beaker file, serves the other regions.
func TestURLAndURLsBothSet(t *testing.T) {
	head := "[app:main]\n" + secretLine
	cfg, err := beaker.Resolve(parse(t, head+"session.type = ext:redis\nsession.url = redis://:Qx7secret@a:6379/0\nsession.urls = redis://b:6379,redis://c:6379\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.Store.URL != "redis://:Qx7secret@a:6379/0" {
		t.Errorf("ext:redis with url and urls: address %q, want url's", cfg.Session.Store.URL)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "session.urls" || cfg.Warnings[0].Line != 5 || !strings.Contains(cfg.Warnings[0].Msg, "ignored") ||
		strings.Contains(cfg.Warnings[0].Msg, "Qx7") {
		t.Errorf("warnings %+v, want one that session.urls is ignored, without url's password", cfg.Warnings)
	}

	cfg, err = beaker.Resolve(parse(t, head+"cache.regions = short, long\ncache.type = ext:redis\ncache.url = redis://single:6379/0\n"+
		"cache.long.type = ext:rediscluster\ncache.long.urls = redis://n1:7001,redis://n2:7002\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Regions[0].Store.URL + " " + cfg.Regions[1].Store.URL; got != "redis://single:6379/0 redis://n1:7001,redis://n2:7002" {
		t.Errorf("regions' addresses %q, want url for short and urls for long", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings %+v, want none: cache.url serves the short region", cfg.Warnings)
	}
	if cfg, err := beaker.Resolve(parse(t, head+"session.type = ext:rediscluster\nsession.url = a:7000,b:7001\n")); err != nil || cfg.Session.Store.URL != "a:7000,b:7001" {
		t.Errorf("ext:rediscluster with url alone: %v, %q; want url read", err, cfg.Session.Store.URL)
	}
}

// TestCryptoTypeOfCookieSessions: for type = cookie, a crypto_type that is
// not one of Beaker's is refused, located; one of Beaker's is accepted
// with a warning that it changes nothing.
func TestCryptoTypeOfCookieSessions(t *testing.T) {
	head := "[app:main]\n" + secretLine + "session.type = cookie\n"
	_, err := beaker.Resolve(parse(t, head+"session.crypto_type = bogus\n"))
	settingErrorAt(t, err, "demo.ini", 4, "session.crypto_type", settings.ErrBadValue, `"bogus"`, "cryptography")
	for _, v := range []string{"default", "cryptography", "pycryptodome", "pycrypto", "nss"} {
		cfg, err := beaker.Resolve(parse(t, head+"session.crypto_type = "+v+"\n"))
		if err != nil {
			t.Fatalf("crypto_type = %s: %v", v, err)
		}
		if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "session.crypto_type" || cfg.Warnings[0].Line != 4 || !strings.Contains(cfg.Warnings[0].Msg, "ignored") {
			t.Errorf("crypto_type = %s: warnings %+v, want one saying it is ignored", v, cfg.Warnings)
		}
	}
}

// TestIgnoredStoreSettingsWarn: a store setting the type does not read is
// warned about for every type, as it was for memory and cookie sessions:
// url and table_name with type = file, data_dir with a SQL type, a
// backend option of another backend; for regions, a region's own key its
// type does not read, and a global key no region uses.
func TestIgnoredStoreSettingsWarn(t *testing.T) {
	cfg, err := beaker.Resolve(parse(t, "[app:main]\n"+secretLine+
		"session.type = file\nsession.data_dir = /tmp/x\nsession.url = sqlite:////tmp/x.db\nsession.table_name = t\nsession.redis.pool_size = 3\n"+
		"cache.regions = a, b, c\ncache.data_dir = /tmp/c\ncache.lock_dir = /tmp/l\ncache.url = h:11211\n"+
		"cache.b.type = file\ncache.b.data_dir = /tmp/b\ncache.c.type = ext:memcached\ncache.a.table_name = t\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range cfg.Warnings {
		got[w.Key] = w.Msg
	}
	for key, msg := range map[string]string{
		"session.url":             "setting ignored for session.type = file",
		"session.table_name":      "setting ignored for session.type = file",
		"session.redis.pool_size": "setting ignored for session.type = file",
		"cache.a.table_name":      "setting ignored for cache region a (type memory)",
		"cache.data_dir":          "no cache region uses it (a: type memory; b: its own cache.b.data_dir; c: type ext:memcached)",
	} {
		if !strings.Contains(got[key], msg) {
			t.Errorf("warning on %s: %q, want %q", key, got[key], msg)
		}
	}
	// Read by some region: no warning. lock_dir by b, url by c.
	for _, key := range []string{"session.data_dir", "cache.lock_dir", "cache.url", "cache.b.data_dir"} {
		if msg, ok := got[key]; ok {
			t.Errorf("warning on %s, which a store reads: %q", key, msg)
		}
	}
	if len(cfg.Warnings) != 5 {
		t.Errorf("%d warnings, want 5: %+v", len(cfg.Warnings), cfg.Warnings)
	}
}

// TestFallbacksWithoutEncryptKeyIsResolved: encrypt_key_fallbacks without
// encrypt_key on a cookie session is refused by Resolve (so by
// check-config), located, rather than only by session.NewCookie at Open
// with an error that Open could locate only by its text.
func TestFallbacksWithoutEncryptKeyIsResolved(t *testing.T) {
	_, err := beaker.Resolve(parse(t, "[app:main]\n"+secretLine+"session.type = cookie\nsession.encrypt_key_fallbacks = an-old-key-of-some-length\n"))
	settingErrorAt(t, err, "demo.ini", 4, "session.encrypt_key_fallbacks", settings.ErrBadValue, "without session.encrypt_key")
	if err != nil && strings.Contains(err.Error(), "an-old-key") {
		t.Errorf("error %q shows the key", err)
	}
	if _, err := beaker.Resolve(parse(t, "[app:main]\n"+secretLine+"session.type = cookie\nsession.encrypt_key = a-current-key-of-some-length\n"+
		"session.encrypt_key_fallbacks = an-old-key-of-some-length\n")); err != nil {
		t.Errorf("with encrypt_key: %v", err)
	}
}

// TestServerSideKeysWithoutEncryptKey: Beaker reads validate_key and
// crypto_type for a server-side session only with encrypt_key; without it
// they are warned about as ignored, not refused. encrypt_key itself is
// still refused (server-side encryption is not available).
func TestServerSideKeysWithoutEncryptKey(t *testing.T) {
	head := "[app:main]\n" + secretLine + "session.type = memory\n"
	for _, line := range []string{"session.validate_key = v\n", "session.crypto_type = cryptography\n"} {
		cfg, err := beaker.Resolve(parse(t, head+line))
		if err != nil {
			t.Fatalf("%q: %v, want it ignored as Beaker does", line, err)
		}
		if len(cfg.Warnings) != 1 || cfg.Warnings[0].Line != 4 || !strings.Contains(cfg.Warnings[0].Msg, "ignored") {
			t.Errorf("%q: warnings %+v, want one saying it is ignored", line, cfg.Warnings)
		}
	}
	_, err := beaker.Resolve(parse(t, head+"session.encrypt_key = k\n"))
	settingErrorAt(t, err, "demo.ini", 4, "session.encrypt_key", beaker.ErrNotAvailable, "not available")
}

// TestMemcachedLogin: pylibmc's username and password are refused for a
// memcached store, located and without the password, saying that logins
// are not supported; for another type Beaker ignores them, and they are
// warned about.
func TestMemcachedLogin(t *testing.T) {
	head := "[app:main]\n" + secretLine
	_, err := beaker.Resolve(parse(t, head+"session.type = ext:memcached\nsession.url = h:11211\nsession.password = Qx7secret\n"))
	settingErrorAt(t, err, "demo.ini", 5, "session.password", settings.ErrBadValue, "SASL")
	if err != nil && strings.Contains(err.Error(), "Qx7") {
		t.Errorf("the error shows the password: %v", err)
	}
	_, err = beaker.Resolve(parse(t, head+"cache.regions = a\ncache.a.type = ext:memcached\ncache.url = h:11211\ncache.username = app\n"))
	settingErrorAt(t, err, "demo.ini", 6, "cache.username", settings.ErrBadValue, "SASL")
	cfg, err := beaker.Resolve(parse(t, head+"session.type = ext:redis\nsession.url = redis://h:6379/0\nsession.password = Qx7secret\n"))
	if err != nil {
		t.Fatalf("a password line with ext:redis: %v, want it ignored as Beaker does", err)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "session.password" || strings.Contains(cfg.Warnings[0].Msg, "Qx7") {
		t.Errorf("warnings %+v, want one that session.password is ignored", cfg.Warnings)
	}
}

// TestStoreURLWarnings: what a store's driver warns about its url (an
// option that weakens it, or that it ignores) is a warning of the url's
// setting in Check (so beaker check-config shows it), and beaker.Open logs
// it once, located, without the store's own copy.
func TestStoreURLWarnings(t *testing.T) {
	dir := t.TempDir()
	drivers := []store.Driver{sqlstore.Driver(), redisstore.Driver(), memcachestore.Driver()}
	head := "[app:main]\n" + secretLine
	for _, c := range []struct {
		name, text, key, option, msg string
		line                         int
	}{
		{"redis ssl_cert_reqs=none", head + "session.type = ext:redis\nsession.url = rediss://127.0.0.1:1/0?ssl_cert_reqs=none\n",
			"session.url", "ssl_cert_reqs", "Redis store: ssl_cert_reqs=none: the server's TLS certificate is not verified", 4},
		{"sqlite isolation_level", head + "cache.regions = a\ncache.type = ext:database\ncache.url = sqlite:///" + dir + "/c.db?isolation_level=DEFERRED\n",
			"cache.url", "isolation_level", "SQL database store: isolation_level is ignored", 5},
		{"urls of a Cluster", head + "session.type = ext:rediscluster\nsession.urls = rediss://127.0.0.1:1?ssl_cert_reqs=none\n",
			"session.urls", "ssl_cert_reqs", "Redis store: ssl_cert_reqs=none", 4},
		{"a global url of two regions", head + "cache.regions = a, b\ncache.type = ext:redis\ncache.url = rediss://127.0.0.1:1/0?ssl_cert_reqs=none\n",
			"cache.url", "ssl_cert_reqs", "Redis store: ssl_cert_reqs=none", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := beaker.Check(parse(t, c.text), beaker.Options{Drivers: drivers})
			if err != nil {
				t.Fatal(err)
			}
			var found []beaker.Warning
			for _, w := range cfg.Warnings {
				if strings.HasPrefix(w.Msg, c.msg) {
					found = append(found, w)
				}
			}
			if len(found) != 1 || found[0].File != "demo.ini" || found[0].Line != c.line || found[0].Key != c.key {
				t.Fatalf("warnings %+v: want one %q at demo.ini:%d %s", cfg.Warnings, c.msg, c.line, c.key)
			}

			rec := &logtest.Recorder{}
			b, err := beaker.Open(context.Background(), parse(t, c.text), beaker.Options{Logger: slog.New(rec), Drivers: drivers})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			if logs := rec.All(); strings.Count(logs, c.option) != 1 || !strings.Contains(logs, "key="+c.key) {
				t.Errorf("Open's logs name %s %d times, want once, at %s:\n%s", c.option, strings.Count(logs, c.option), c.key, logs)
			}
		})
	}
}

// TestValidateWithoutLogger: a driver's Validate that has warnings to log
// does not fail on a store.Config without a Logger.
func TestValidateWithoutLogger(t *testing.T) {
	for _, c := range []struct {
		d   store.Driver
		cfg store.Config
	}{
		{redisstore.Driver(), store.Config{Use: "session", Type: "ext:redis", URL: "rediss://127.0.0.1:1/0?ssl_cert_reqs=none"}},
		{sqlstore.Driver(), store.Config{Use: "session", Type: "ext:database", URL: "sqlite:///" + t.TempDir() + "/v.db?isolation_level=DEFERRED"}},
	} {
		if err := c.d.Validate(c.cfg); err != nil {
			t.Errorf("%s: %v", c.d.Name, err)
		}
	}
}

// TestRedisMaxRetriesNone: redis.max_retries = -1 (no retries, as
// redisstore.Options.MaxRetries documents) is accepted; below that is an
// error at its line.
func TestRedisMaxRetriesNone(t *testing.T) {
	opts := beaker.Options{Drivers: []store.Driver{redisstore.Driver()}}
	head := "[app:main]\n" + secretLine + "session.type = ext:redis\nsession.url = redis://127.0.0.1:1/0\n"
	if _, err := beaker.Check(parse(t, head+"session.redis.max_retries = -1\n"), opts); err != nil {
		t.Errorf("max_retries = -1: %v", err)
	}
	_, err := beaker.Check(parse(t, head+"session.redis.max_retries = -2\n"), opts)
	var se *settings.Error
	if !errors.As(err, &se) || se.Line != 5 || se.Key != "session.redis.max_retries" {
		t.Errorf("max_retries = -2: %v, want an error at demo.ini:5 session.redis.max_retries", err)
	}
}

// TestPlaceholderKeysWarn: a key copied from an example ("change me: …")
// resolves, but with a warning at its line; a secret from beaker
// gen-secret, or any random one, does not warn.
func TestPlaceholderKeysWarn(t *testing.T) {
	s, err := settings.Load(filepath.Join("examples", "cookie.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Msg, "placeholder") {
			got = append(got, w.Key)
			if w.Line == 0 || !strings.Contains(w.Msg, "gen-secret") {
				t.Errorf("warning %+v: want its line and the command that makes a key", w)
			}
		}
	}
	if strings.Join(got, ",") != "session.encrypt_key,session.validate_key" {
		t.Errorf("placeholder warnings for %v, want session.encrypt_key and session.validate_key", got)
	}

	for _, v := range []string{"Change-Me", "please REPLACE_ME now", "your secret here"} {
		cfg, err := resolveMap(map[string]string{"session.type": "memory", "session.secret": v + " 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac"})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "session.secret" {
			t.Errorf("secret %q: warnings %+v, want one for session.secret", v, cfg.Warnings)
		}
	}
	for _, v := range []string{"replacement-for-the-old-key-0cb243f53ad865a0", "changement de clé 0cb243f53ad865a0f70099c0414ffe9c", "exchangemessages0cb243f53ad865a0f70099c0414ffe9c"} {
		cfg, err := resolveMap(map[string]string{"session.type": "memory", "session.secret": v})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Warnings) != 0 {
			t.Errorf("secret %q: warnings %+v, want none (a word only starts like a placeholder)", v, cfg.Warnings)
		}
	}
	for range 200 {
		cfg, err := resolveMap(map[string]string{"session.type": "cookie",
			"session.secret": rand.Text() + rand.Text(), "session.encrypt_key": rand.Text() + rand.Text()})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range cfg.Warnings {
			if strings.Contains(w.Msg, "placeholder") {
				t.Fatalf("a random key warned: %+v", w)
			}
		}
	}
}

// resolveMap resolves a settings map.
func resolveMap(m map[string]string) (*beaker.Config, error) {
	s, err := settings.FromMap(m)
	if err != nil {
		return nil, err
	}
	return beaker.Resolve(s)
}

// TestOverlappingRegionNames: regions "a" and "a:b" on a store would share
// keys (cache:a:b:x); the configuration is refused at cache.regions' line.
// On memory regions, which have no store keys, they are fine.
func TestOverlappingRegionNames(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []string{"file", "memory"} {
		ini := filepath.Join(dir, typ+".ini")
		body := "[app:main]\n" + secretLine + "cache.type = " + typ + "\ncache.data_dir = " + dir + "\ncache.regions = a:b, short_term, a\n"
		if err := os.WriteFile(ini, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := settings.Load(ini, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = beaker.Resolve(s)
		if typ == "memory" {
			if err != nil {
				t.Errorf("memory regions a:b and a: %v", err)
			}
			continue
		}
		var se *settings.Error
		if !errors.As(err, &se) || se.Key != "cache.regions" || se.Line != 5 || !strings.Contains(err.Error(), `"cache:a:b:" and "cache:a:" overlap`) {
			t.Errorf("file regions a:b and a: Resolve = %v, want an error at %s:5 cache.regions naming the prefixes", err, ini)
		}
	}
	// A key_prefix that sets the prefixes apart makes them fine; one that
	// makes them overlap is refused.
	for prefix, ok := range map[string]bool{"cache.a.key_prefix = x:\n": true, "cache.key_prefix = k:\ncache.ab.key_prefix = k:a\n": false} {
		ini := filepath.Join(dir, "prefix.ini")
		body := "[app:main]\n" + secretLine + "cache.type = file\ncache.data_dir = " + dir + "\ncache.regions = a:b, a, ab\n" + prefix
		if err := os.WriteFile(ini, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := settings.Load(ini, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err = beaker.Resolve(s); (err == nil) != ok {
			t.Errorf("%q: Resolve = %v, want ok=%v", prefix, err, ok)
		}
	}
}
