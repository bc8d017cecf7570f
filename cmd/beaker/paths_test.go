package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

const testSecret = "0123456789abcdef0123456789abcdef0123456789"

// TestRelativeSQLiteURLIsRelativeToTheWorkingDirectory runs "sessions
// purge" from another working directory on an INI file whose session.url
// is a relative SQLite path: as SQLAlchemy does for Python Beaker, the
// command reaches the database in the working directory (the one a Python
// application started there uses), not one beside the INI file; and
// check-config warns that it does, with the %(here)s form to write.
func TestRelativeSQLiteURLIsRelativeToTheWorkingDirectory(t *testing.T) {
	root := t.TempDir()
	sub, elsewhere := filepath.Join(root, "ini", "sub"), filepath.Join(root, "elsewhere")
	for _, d := range []string{sub, elsewhere} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ini := filepath.Join(sub, "app.ini")
	text := "[app:main]\nsession.type = ext:database\nsession.url = sqlite:///rel.db\nsession.secret = " + testSecret + "\n"
	if err := os.WriteFile(ini, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + filepath.Join(elsewhere, "rel.db"), Now: past})
	if err != nil {
		t.Fatal(err)
	}
	writeExpired(t, s, "session:", 3)
	s.Close()

	t.Chdir(elsewhere)
	code, out, errs := runCLI(t, newCLI(nil, nil), "sessions", "purge", "-config", ini)
	if code != 0 || !strings.Contains(out, "removed 3 expired sessions") {
		t.Errorf("exit %d, stdout %q, stderr %q: want the 3 expired sessions of %s removed", code, out, errs, filepath.Join(elsewhere, "rel.db"))
	}
	if _, err := os.Stat(filepath.Join(sub, "rel.db")); err == nil {
		t.Errorf("a new rel.db was made beside the INI file")
	}
	code, out, errs = runCLI(t, newCLI(nil, nil), "check-config", ini)
	if code != 0 || !strings.Contains(out+errs, "sqlite:///%(here)s/rel.db") {
		t.Errorf("check-config: exit %d, stdout %q, stderr %q; want a warning naming sqlite:///%%(here)s/rel.db", code, out, errs)
	}
}

// TestCheckConfigRefusesWhatOpenRefuses: check-config runs the drivers'
// checks that need no I/O, so it no longer says OK for settings that the
// application's start (beaker.Open) refuses; both name the same line and
// key. It does not open the stores: no database file is made.
func TestCheckConfigRefusesWhatOpenRefuses(t *testing.T) {
	head := "[app:main]\nsession.secret = " + testSecret + "\n"
	for _, c := range []struct{ name, body, at string }{
		{"file without data_dir", "session.type = file\n", "c.ini:3: session.type"},
		{"database without url", "session.type = ext:database\n", "c.ini:3: session.type"},
		{"bad redis url", "session.type = ext:redis\nsession.url = redis://:hunter2@h:1/0?pool_size=x\n", "c.ini:4: session.url"},
		{"bad redis cluster url", "session.type = ext:rediscluster\nsession.urls = redis://h:1/3\n", "c.ini:4: session.urls"},
		{"redis TLS option without rediss", "session.type = ext:redis\nsession.url = redis://:hunter2@h:1/0?ssl_ca_certs=/etc/ca.pem\n", "c.ini:4: session.url"},
		{"redis ssl_password", "session.type = ext:redis\nsession.url = rediss://h:1/0?ssl_certfile=/etc/c.pem&ssl_password=hunter2\n", "c.ini:4: session.url"},
		{"sqlite timeout", "session.type = ext:database\nsession.url = sqlite:///x.db?timeout=abc\n", "c.ini:4: session.url"},
		{"bad table name", "session.type = ext:database\nsession.url = sqlite:///x.db\nsession.table_name = a-b\n", "c.ini:5: session.table_name"},
		{"region memcached url", "cache.regions = a\ncache.a.type = ext:memcached\ncache.url = h:0\n", "c.ini:5: cache.url"},
		{"region file without data_dir", "cache.regions = a\ncache.type = file\n", "c.ini:4: cache.type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ini := filepath.Join(dir, "c.ini")
			if err := os.WriteFile(ini, []byte(head+c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
			if code != 1 || !strings.Contains(errs, c.at+":") || strings.Contains(out, "OK") {
				t.Errorf("check-config: exit %d, stdout %q, stderr %q; want exit 1 naming %s", code, out, errs, c.at)
			}
			if strings.Contains(errs, "hunter2") {
				t.Errorf("check-config shows the password: %q", errs)
			}
			code, _, errs = runCLI(t, newCLI(nil, nil), "sessions", "purge", "-config", ini)
			if code != 1 || !strings.Contains(errs, c.at+":") {
				t.Errorf("the application's Open: exit %d, stderr %q; want it refused at %s as check-config does", code, errs, c.at)
			}
		})
	}

	dir := t.TempDir()
	ini := filepath.Join(dir, "ok.ini")
	if err := os.WriteFile(ini, []byte(head+"session.type = ext:database\nsession.url = sqlite:///data/x.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
	if code != 0 || !strings.Contains(out, "not opened") {
		t.Errorf("a good SQLite config: exit %d, stdout %q, stderr %q; want OK saying the store was not opened", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Errorf("check-config made the database's folder")
	}
}

// TestCheckConfigLeavesTLSFilesToOpen: check-config does not read the
// files that a Redis URL's TLS options name (it does no I/O, and they may
// exist only where the application runs) and says so; the application's
// Open reads them, and refuses one that is missing at the url's line,
// naming the option.
func TestCheckConfigLeavesTLSFilesToOpen(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pem")
	ini := writeFile(t, "c.ini", "[app:main]\nsession.secret = "+testSecret+"\nsession.type = ext:redis\n"+
		"session.url = rediss://:hunter2@127.0.0.1:1/0?ssl_ca_certs="+missing+"\n")
	code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
	if code != 0 || !strings.Contains(out+errs, "TLS") {
		t.Errorf("check-config: exit %d, stdout %q, stderr %q; want OK, saying the TLS files are read at the start", code, out, errs)
	}
	code, _, errs = runCLI(t, newCLI(nil, nil), "sessions", "purge", "-config", ini)
	if code != 1 || !strings.Contains(errs, "c.ini:4: session.url:") || !strings.Contains(errs, "ssl_ca_certs") || strings.Contains(errs, "hunter2") {
		t.Errorf("the application's Open: exit %d, stderr %q; want it refused at c.ini:4: session.url naming ssl_ca_certs", code, errs)
	}
}

// TestCheckConfigShowsStoreURLWarnings: what a store warns about its url
// at the start (TLS verification turned off) check-config prints too, at
// the url's line, and without the password.
func TestCheckConfigShowsStoreURLWarnings(t *testing.T) {
	ini := writeFile(t, "c.ini", "[app:main]\nsession.secret = "+testSecret+"\nsession.type = ext:redis\n"+
		"session.url = rediss://:hunter2@127.0.0.1:1/0?ssl_cert_reqs=none\n")
	code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
	if all := out + errs; code != 0 || !strings.Contains(all, "c.ini:4: session.url: Redis store: ssl_cert_reqs=none: the server's TLS certificate is not verified") ||
		strings.Contains(all, "hunter2") {
		t.Errorf("check-config: exit %d, stdout %q, stderr %q; want OK with the ssl_cert_reqs=none warning at c.ini:4", code, out, errs)
	}
}

// TestCheckConfigShowsURLsAsWritten: a store address given as
// session.urls is printed as urls, not as a url "(default)".
func TestCheckConfigShowsURLsAsWritten(t *testing.T) {
	ini := writeFile(t, "c.ini", "[app:main]\nsession.secret = "+testSecret+"\nsession.type = ext:rediscluster\nsession.urls = a:7000,b:7001\n")
	code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
	if code != 0 || !strings.Contains(out, "  urls                 a:7000,b:7001\n") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant the urls line, not marked (default)", code, errs, out)
	}
}

// TestCheckConfigCookieKeys: for a cookie session, check-config shows
// which key seals the cookie, the keys masked.
func TestCheckConfigCookieKeys(t *testing.T) {
	const enc, val = "encrypt-key-material-0123456789abcdef", "validate-key-material-0123456789abcdef"
	for _, c := range []struct{ extra, want, notWant string }{
		{"", "(1 secret(s); the first seals the cookie; all open it)", "encrypt_key"},
		{"session.encrypt_key = " + enc + "\nsession.validate_key = " + val + "\n", "they do not seal the cookie: encrypt_key does", ""},
		{"session.validate_key = " + val + "\n", "validate_key         vali…(38 chars)  (seals the cookie)", "encrypt_key "},
	} {
		ini := writeFile(t, "c.ini", "[app:main]\nsession.secret = "+testSecret+"\nsession.type = cookie\n"+c.extra)
		code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
		if code != 0 || !strings.Contains(out, c.want) || c.notWant != "" && strings.Contains(out, c.notWant) ||
			strings.Contains(out, enc) || strings.Contains(out, val) {
			t.Errorf("%q: exit %d, stdout:\n%s\nstderr %q; want %q (and no %q, no key in clear)", c.extra, code, out, errs, c.want, c.notWant)
		}
	}
}

// TestCheckConfigShowsDefaults: the memory store's bounds and the stored
// format are printed with their defaults, and a region's lock_dir and
// key_length with its other settings.
func TestCheckConfigShowsDefaults(t *testing.T) {
	ini := writeFile(t, "c.ini", "[app:main]\nsession.secret = "+testSecret+"\nsession.type = memory\n"+
		"cache.regions = a\ncache.type = file\ncache.data_dir = /tmp/x/data\ncache.lock_dir = /tmp/x/lock\ncache.key_length = 200\n")
	code, out, errs := runCLI(t, newCLI(nil, nil), "check-config", ini)
	for _, want := range []string{
		"format               native  (default)",
		fmt.Sprintf("max_entries          %d  (default)", memstore.DefaultMaxEntries),
		fmt.Sprintf("max_bytes            %d bytes  (default)", memstore.DefaultMaxBytes),
		"lock_dir /tmp/x/lock", "key_length 200",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("check-config: exit %d, stdout:\n%s\nstderr %q; want %q", code, out, errs, want)
		}
	}
}
