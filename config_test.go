package beaker_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/settings"
)

const secretLine = "session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac\n"

// TestStoreHereIsTheFolderOfTheURLsFile: the store gets the folder of the
// file that holds the url (sqlstore.ParamHere), so that a relative SQLite
// path means the same database whatever the working directory; a url
// inherited through "use = config:" gets its own file's folder, and a
// settings map none.
func TestStoreHereIsTheFolderOfTheURLsFile(t *testing.T) {
	dir := writeINI(t, map[string]string{
		"conf/app.ini":  "[app:main]\nuse = config:../base/base.ini\n" + secretLine + "session.type = ext:database\nsession.url = sqlite:///rel.db\n",
		"base/base.ini": "[app:main]\ncache.regions = a\ncache.type = ext:database\ncache.url = sqlite:///cache.db\n",
	})
	t.Chdir(t.TempDir())
	s, err := settings.Load(filepath.Join(dir, "conf", "app.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := beaker.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Session.Store.Params["here"], filepath.Join(dir, "conf"); got != want {
		t.Errorf("session store here = %q, want %q", got, want)
	}
	if got, want := cfg.Regions[0].Store.Params["here"], filepath.Join(dir, "base"); got != want {
		t.Errorf("region store here = %q, want %q", got, want)
	}
	m, err := settings.FromMap(map[string]string{"session.type": "ext:database", "session.url": "sqlite:///rel.db",
		"session.secret": "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := beaker.Resolve(m); err != nil {
		t.Fatal(err)
	} else if here, ok := cfg.Session.Store.Params["here"]; ok {
		t.Errorf("settings map: here = %q, want none (the working directory)", here)
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
	var got []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Msg, "working directory") {
			got = append(got, w.Key)
			if !strings.Contains(w.Msg, "%(here)s/") {
				t.Errorf("warning %q does not say how to write it", w.Msg)
			}
		}
	}
	if strings.Join(got, ",") != "session.data_dir,cache.data_dir,cache.b.lock_dir" {
		t.Errorf("relative-dir warnings on %v, want session.data_dir,cache.data_dir,cache.b.lock_dir (once each)", got)
	}
}
