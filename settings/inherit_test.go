package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFiles writes name -> text files under a fresh temporary directory
// and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
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

// errorAt asserts that err is an *Error at file:line for key, wrapping
// sentinel, whose message contains msg.
func errorAt(t *testing.T, err error, file string, line int, key string, sentinel error, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	if e.File != file || e.Line != line || e.Key != key {
		t.Errorf("error at %s:%d key %q, want %s:%d key %q (%v)", e.File, e.Line, e.Key, file, line, key, err)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %v does not wrap %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
}

const baseINI = `[DEFAULT]
data = %(here)s/data

[app:shared]
use = egg:myapp
cache.regions = short_term, long_term
cache.type = memory
cache.short_term.expire = 60
cache.long_term.expire = 3600
beaker.session.key = base_key
session.data_dir = %(here)s/sessions
session.lock_dir = %(data)s/lock
session.timeout = 600
`

const appINI = `[app:main]
use = config:conf/base.ini#shared
session.key = app_key
session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac
cache.long_term.expire = 7200
session.cookie_path = %(here)s
`

// TestUseConfig follows "use = config:FILE#NAME" as PasteDeploy does: the
// referenced section's values are inherited (interpolated with their own
// file's here and [DEFAULT]), the referring section's values win, and
// every value keeps the file and line where it was written.
func TestUseConfig(t *testing.T) {
	dir := writeFiles(t, map[string]string{"app.ini": appINI, "conf/base.ini": baseINI})
	app := filepath.Join(dir, "app.ini")
	base := filepath.Join(dir, "conf", "base.ini")
	s, err := Load(app, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(nil); err != nil {
		t.Fatal(err)
	}
	checkValues(t, s, map[string]string{
		"session.key":             "app_key", // beaker.session.key inherited, overridden by the app's session.key
		"session.secret":          "0cb243f53ad865a0f70099c0414ffe9cfcfe03ac",
		"session.data_dir":        filepath.Join(dir, "conf") + "/sessions",
		"session.lock_dir":        filepath.Join(dir, "conf") + "/data/lock",
		"session.cookie_path":     dir,
		"session.timeout":         "600",
		"cache.regions":           "short_term, long_term",
		"cache.type":              "memory",
		"cache.short_term.expire": "60",
		"cache.long_term.expire":  "7200",
	})
	if s.Has("use") {
		t.Error("use is a setting")
	}
	for key, want := range map[string]struct {
		file string
		line int
	}{
		"session.key":             {app, 3},
		"session.timeout":         {base, 13},
		"cache.regions":           {base, 6},
		"cache.long_term.expire":  {app, 5},
		"cache.short_term.expire": {base, 8},
	} {
		if f, l := s.Position(key); f != want.file || l != want.line {
			t.Errorf("Position(%s) = %s:%d, want %s:%d", key, f, l, want.file, want.line)
		}
	}
	if s.Source() != app {
		t.Errorf("Source() = %q", s.Source())
	}
	if got, _ := s.Region("long_term").Seconds("cache.expire", 0); got != 2*time.Hour {
		t.Errorf("long_term expire %v, want the app's override", got)
	}
}

// TestUseConfigErrorsPointAtTheirFile: a bad inherited value is reported
// at the file and line that wrote it.
func TestUseConfigErrorsPointAtTheirFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"app.ini":  "[app:main]\nuse = config:base.ini\nsession.timout = 5\n",
		"base.ini": "[app:main]\n\nsession.timeout = ten\n",
	})
	s, err := Load(filepath.Join(dir, "app.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(nil)
	var errs interface{ Unwrap() []error }
	if !errors.As(err, &errs) || len(errs.Unwrap()) != 2 {
		t.Fatalf("Check = %v, want two errors", err)
	}
	errorAt(t, errs.Unwrap()[0], filepath.Join(dir, "app.ini"), 3, "session.timout", ErrUnknownKey, "did you mean session.timeout")
	errorAt(t, errs.Unwrap()[1], filepath.Join(dir, "base.ini"), 3, "session.timeout", ErrBadValue, `"ten"`)
	if _, err := s.Seconds("session.timeout", 0); err == nil {
		t.Fatal("no error")
	} else {
		errorAt(t, err, filepath.Join(dir, "base.ini"), 3, "session.timeout", ErrBadValue, "ten")
	}
}

func TestUseChains(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.ini":     "[app:main]\nuse = config:sub/b.ini\nsession.key = a\n",
		"sub/b.ini": "[app:main]\nuse = other\nsession.timeout = 5\n[app:other]\nuse = config:../c.ini#x\ncache.type = memory\n",
		"c.ini":     "[app:x]\nsession.timeout = 9\nsession.cookie_path = /c\nsession.data_dir = %(here)s\n",
	})
	s, err := Load(filepath.Join(dir, "a.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, s, map[string]string{"session.key": "a", "session.timeout": "5", "cache.type": "memory",
		"session.cookie_path": "/c", "session.data_dir": dir})
	if f, l := s.Position("session.cookie_path"); f != filepath.Join(dir, "c.ini") || l != 3 {
		t.Errorf("Position = %s:%d", f, l)
	}
}

func TestUseErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		file  string
		line  int
		is    error
		msg   string
	}{
		{"cycle", map[string]string{
			"a.ini": "[app:main]\nuse = config:b.ini\n",
			"b.ini": "[app:main]\nsession.key = k\nuse = config:a.ini#main\n",
		}, "b.ini", 3, ErrUse, "closes a cycle"},
		{"self", map[string]string{"a.ini": "[app:main]\nuse = main\n"}, "a.ini", 2, ErrUse, "cycle"},
		{"missing file", map[string]string{"a.ini": "[app:main]\n\nuse = config:nope.ini\n"}, "a.ini", 3, fs.ErrNotExist, "nope.ini"},
		{"missing section", map[string]string{"a.ini": "[app:main]\nuse = config:b.ini#x\n", "b.ini": "[app:y]\n"}, "a.ini", 2, ErrNoSection, "[app:x]"},
		{"no file", map[string]string{"a.ini": "[app:main]\nuse = config:#x\n"}, "a.ini", 2, ErrUse, "names no file"},
		{"syntax in referenced", map[string]string{"a.ini": "[app:main]\nuse = config:b.ini\n", "b.ini": "[app:main]\nnot a line\n"}, "b.ini", 2, ErrSyntax, "not a [section]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			_, err := Load(filepath.Join(dir, "a.ini"), "")
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%v is not a *Error", err)
			}
			errorAt(t, err, filepath.Join(dir, c.file), c.line, e.Key, c.is, c.msg)
			if c.name == "cycle" && !strings.HasSuffix(err.Error(), fmt.Sprintf("%s [app:main] -> %s [app:main] -> %s [app:main]",
				filepath.Join(dir, "a.ini"), filepath.Join(dir, "b.ini"), filepath.Join(dir, "a.ini"))) {
				t.Errorf("cycle error %q does not show the chain", err)
			}
			if strings.Contains(err.Error(), dir+"/"+dir) {
				t.Errorf("path doubled in %q", err)
			}
		})
	}
	// A chain longer than maxUseDepth.
	files := map[string]string{}
	for i := range maxUseDepth + 2 {
		files[fmt.Sprintf("f%d.ini", i)] = fmt.Sprintf("[app:main]\nuse = config:f%d.ini\n", i+1)
	}
	files[fmt.Sprintf("f%d.ini", maxUseDepth+2)] = "[app:main]\n"
	dir := writeFiles(t, files)
	_, err := Load(filepath.Join(dir, "f0.ini"), "")
	errorAt(t, err, filepath.Join(dir, fmt.Sprintf("f%d.ini", maxUseDepth-1)), 2, "use", ErrUse, "more than")
}

// TestUseEggIgnored: use = egg:... names the application's code, as in
// every Pyramid INI file, not settings.
func TestUseEggIgnored(t *testing.T) {
	s, err := Parse("demo.ini", strings.NewReader("[app:main]\nuse = egg:myapp\nsession.key = k\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, s, map[string]string{"session.key": "k"})
}

func TestPipelinePointsToApp(t *testing.T) {
	ini := "[pipeline:main]\npipeline =\n    egg:Paste#cgitb\n    myapp\n\n[app:myapp]\nuse = egg:myapp\nsession.key = k\n"
	_, err := Parse("demo.ini", strings.NewReader(ini), "")
	errorAt(t, err, "demo.ini", 0, "", ErrNoSection, `[pipeline:main] (line 1) is a pipeline whose application is [app:myapp]: the settings are there; read section "app:myapp"`)
	s, err := Parse("demo.ini", strings.NewReader(ini), "app:myapp")
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, s, map[string]string{"session.key": "k"})
}

func TestSizeLimits(t *testing.T) {
	big := strings.NewReader("[app:main]\n" + strings.Repeat("# padding\n", MaxFileSize/10))
	_, err := Parse("big.ini", big, "")
	errorAt(t, err, "big.ini", 0, "", ErrTooLarge, "8 MiB")

	long := "[app:main]\nsession.key = k\ncache.regions = " + strings.Repeat("r", MaxLineLength) + "\n"
	_, err = Parse("long.ini", strings.NewReader(long), "")
	errorAt(t, err, "long.ini", 3, "", ErrTooLarge, "64 KiB")

	// A file of exactly MaxLineLength bytes on one line is fine.
	ok := "[app:main]\nx=" + strings.Repeat("r", MaxLineLength-2) + "\n"
	if _, err := Parse("ok.ini", strings.NewReader(ok), ""); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err := Load("/dev/zero", "")
		errorAt(t, err, "/dev/zero", 0, "", ErrTooLarge, "8 MiB")
	}
}

// TestManyRegions reads 50,000 regions with an override each: the
// handling of cache.regions is linear (it was quadratic: 8000 regions
// took 18 s). The test's budget is go test's timeout.
func TestManyRegions(t *testing.T) {
	const n = 50000
	var b strings.Builder
	b.WriteString("[app:main]\ncache.type = memory\ncache.expire = 60\ncache.regions =")
	for i := range n {
		if i%100 == 0 {
			b.WriteString("\n   ")
		}
		fmt.Fprintf(&b, " r%d.x,", i)
	}
	b.WriteString("\n")
	for i := range n {
		fmt.Fprintf(&b, "cache.r%d.x.expire = %d\n", i, i+1)
	}
	start := time.Now()
	s, err := Parse("many.ini", strings.NewReader(b.String()), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(nil); err != nil {
		t.Fatal(err)
	}
	regions := s.Regions()
	if len(regions) != n {
		t.Fatalf("%d regions", len(regions))
	}
	for i, r := range regions {
		v := s.Region(r)
		d, err := v.Seconds("cache.expire", 0)
		if err != nil || d != time.Duration(i+1)*time.Second {
			t.Fatalf("region %s: expire %v, %v", r, d, err)
		}
		if len(v.Keys()) != 2 {
			t.Fatalf("region %s view: %q", r, v.Keys())
		}
	}
	t.Logf("%d regions read, checked and viewed in %v", n, time.Since(start))
}

func BenchmarkRegions(b *testing.B) {
	m := map[string]string{"cache.type": "memory"}
	var names []string
	for i := range 10000 {
		names = append(names, fmt.Sprint("r", i))
		m[fmt.Sprintf("cache.r%d.expire", i)] = "5"
	}
	m["cache.regions"] = strings.Join(names, ",")
	for b.Loop() {
		s, err := FromMap(m)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Check(nil); err != nil {
			b.Fatal(err)
		}
		for _, r := range s.Regions() {
			s.Region(r)
		}
	}
}

func TestDate(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	for v, want := range map[string]time.Time{
		"2027-01-31":                utc(2027, 1, 31, 0, 0, 0),
		" 2027-01-31T12:00:00 ":     utc(2027, 1, 31, 12, 0, 0),
		"2027-01-31 12:00:00":       utc(2027, 1, 31, 12, 0, 0),
		"2027-01-31T12:30":          utc(2027, 1, 31, 12, 30, 0),
		"2027-01-31T12:00:00Z":      utc(2027, 1, 31, 12, 0, 0),
		"2027-01-31T12:00:00+01:00": utc(2027, 1, 31, 11, 0, 0),
		"2027-01-31 12:00:00-05:00": utc(2027, 1, 31, 17, 0, 0),
		"2027-01-31T12:00:00.5":     utc(2027, 1, 31, 12, 0, 0).Add(500 * time.Millisecond),
	} {
		s, _ := FromMap(map[string]string{"session.cookie_expires": v})
		got, ok, err := s.Date("session.cookie_expires")
		if err != nil || !ok || !got.Equal(want) {
			t.Errorf("Date(%q) = %v, %v, %v; want %v", v, got, ok, err, want)
		}
		if err := s.Check(nil); err != nil {
			t.Errorf("Check refuses cookie_expires = %q: %v", v, err)
		}
	}
	for _, v := range []string{"tomorrow", "2027-13-01", "31/01/2027", "2027-01-31T25:00", "1.5", ""} {
		s, _ := FromMap(map[string]string{"session.cookie_expires": v})
		if _, _, err := s.Date("session.cookie_expires"); !errors.Is(err, ErrBadValue) {
			t.Errorf("Date(%q): %v", v, err)
		}
		err := s.Check(nil)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "2027-01-31T12:00:00") {
			t.Errorf("Check(cookie_expires = %q) = %v, want the accepted forms", v, err)
		}
	}
	s, _ := FromMap(nil)
	if _, ok, err := s.Date("session.cookie_expires"); ok || err != nil {
		t.Errorf("unset: %v %v", ok, err)
	}
}

// TestUseConfigDefaults: the referring file's [DEFAULT] values fill the
// gaps of the referenced file's (PasteDeploy's update_defaults without
// overwrite), while here stays the referenced file's directory.
func TestUseConfigDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"app.ini":      "[DEFAULT]\nroot = /srv/app\nname = outer\n[app:main]\nuse = config:sub/base.ini\n",
		"sub/base.ini": "[DEFAULT]\nname = inner\n[app:main]\nsession.data_dir = %(root)s/%(name)s\nsession.lock_dir = %(here)s\n",
	})
	s, err := Load(filepath.Join(dir, "app.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, s, map[string]string{"session.data_dir": "/srv/app/inner", "session.lock_dir": filepath.Join(dir, "sub")})
}

// TestDirIsTheFolderOfTheFileThatHoldsTheKey checks Settings.Dir: the
// folder a relative path in a value is relative to is that of the file
// that holds the key (an inherited one's own), not the working directory
// nor the file first loaded; none for map input.
func TestDirIsTheFolderOfTheFileThatHoldsTheKey(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"conf/app.ini":     "[app:main]\nuse = config:../base/base.ini\nsession.url = sqlite:///own.db\n",
		"base/base.ini":    "[app:main]\ncache.url = sqlite:///inherited.db\n",
		"elsewhere/.empty": "",
	})
	t.Chdir(filepath.Join(root, "elsewhere"))
	s, err := Load(filepath.Join("..", "conf", "app.ini"), "")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"session.url":        filepath.Join(root, "conf"),
		"beaker.session.url": filepath.Join(root, "conf"),
		"cache.url":          filepath.Join(root, "base"),
		"session.type":       "", // not set
	} {
		if got := s.Dir(key); got != want {
			t.Errorf("Dir(%q) = %q, want %q", key, got, want)
		}
	}
	if got := s.Region("r").Dir("cache.url"); got != filepath.Join(root, "base") {
		t.Errorf("Region view: Dir(cache.url) = %q", got)
	}
	m, err := FromMap(map[string]string{"session.url": "sqlite:///x.db"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Dir("session.url"); got != "" {
		t.Errorf("FromMap: Dir = %q, want \"\"", got)
	}
}
