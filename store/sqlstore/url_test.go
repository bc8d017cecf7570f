package sqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobeaker/beaker/internal/logtest"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// TestSQLAlchemyOptions: the options that SQLAlchemy's pysqlite dialect
// takes from a sqlite:// URL open the store; those that it ignores here are
// logged as warnings, once each, by the driver's Validate, which
// beaker.Open runs before the driver's Open (which does not repeat them).
func TestSQLAlchemyOptions(t *testing.T) {
	dir := t.TempDir()
	rec := &logtest.Recorder{}
	d, c := sqlstore.Driver(), store.Config{
		Use: "session", Type: "ext:database", Logger: slog.New(rec), Params: map[string]string{"here": dir},
		URL: "sqlite:///opts.db?isolation_level=IMMEDIATE&detect_types=3&cached_statements=100&check_same_thread=False&uri=false&timeout=2",
	}
	if err := d.Validate(c); err != nil {
		t.Fatal(err)
	}
	st, err := d.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*sqlstore.Store)
	defer s.Close()
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	logs := rec.All()
	for _, opt := range []string{"isolation_level", "detect_types", "cached_statements"} {
		if n := strings.Count(logs, "option="+opt); n != 1 {
			t.Errorf("%d warnings name %s, want 1; the logs:\n%s", n, opt, logs)
		}
	}
	for _, quiet := range []string{"timeout", "check_same_thread", "uri"} {
		if strings.Contains(logs, "option="+quiet) {
			t.Errorf("a warning names %s; the logs:\n%s", quiet, logs)
		}
	}
	if !strings.Contains(logs, "WARN") {
		t.Errorf("the notes are not warnings:\n%s", logs)
	}

	for _, c := range []struct{ url, says string }{
		{"sqlite:///x.db?detect_types=x", "detect_types"},
		{"sqlite:///x.db?cached_statements=", "cached_statements"},
		{"sqlite:///x.db?uri=maybe", "uri"},
		{"sqlite:///x.db?uri=true", "uri=true"},
		{"sqlite:///file:x.db?mode=ro&uri=true", "uri=true"},
		{"sqlite:///file:x.db?uri=1&cache=shared", "uri=true"},
		{"sqlite:///x.db?mode=ro", `"mode"`},
		{"sqlite:///x.db?zz=1&aa=1", `"aa"`}, // the first unknown option, in order
	} {
		_, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: c.url, BaseDir: dir})
		if !errors.Is(err, sqlstore.ErrURL) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Open(%q): %v, want an error wrapping ErrURL that says %s", c.url, err, c.says)
		}
	}
	if fs, _ := filepath.Glob(filepath.Join(dir, "*x.db*")); len(fs) != 0 {
		t.Errorf("a refused URL made files: %q", fs)
	}
}

// TestOpenLogsURLNotes: Open, used without the driver, logs what the url
// has that the store ignores.
func TestOpenLogsURLNotes(t *testing.T) {
	rec := &logtest.Recorder{}
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{
		URL: "sqlite:///" + filepath.Join(t.TempDir(), "n.db") + "?isolation_level=IMMEDIATE", Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if logs := rec.All(); strings.Count(logs, "option=isolation_level") != 1 {
		t.Errorf("want one warning naming isolation_level; the logs:\n%s", logs)
	}
}
