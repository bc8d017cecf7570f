package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/store/sqlstore"
)

const testSecret = "0123456789abcdef0123456789abcdef0123456789"

// TestRelativeSQLiteURLIsRelativeToTheINIFile runs "sessions purge" from
// another working directory on an INI file whose session.url is a relative
// SQLite path: the command must reach the database beside the INI file (as
// store/sqlstore documents), not create an empty one where it runs and
// report that nothing expired.
func TestRelativeSQLiteURLIsRelativeToTheINIFile(t *testing.T) {
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
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: "sqlite:///" + filepath.Join(sub, "rel.db"), Now: past})
	if err != nil {
		t.Fatal(err)
	}
	writeExpired(t, s, "session:", 3)
	s.Close()

	t.Chdir(elsewhere)
	code, out, errs := runCLI(t, newCLI(nil, nil), "sessions", "purge", "-config", ini)
	if code != 0 || !strings.Contains(out, "removed 3 expired sessions") {
		t.Errorf("exit %d, stdout %q, stderr %q: want the 3 expired sessions of %s removed", code, out, errs, filepath.Join(sub, "rel.db"))
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "rel.db")); err == nil {
		t.Errorf("a new rel.db was made in the working directory")
	}
}
