package settings

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// badCase is one invalid configuration. The error comes from Parse, or
// from Check when Parse succeeds and get is nil, or from get.
type badCase struct {
	name    string
	ini     string
	section string
	get     func(*Settings) error
	line    int
	key     string
	is      error
	msg     string // substring of Error()
	exact   string // whole Error(), if set
	secret  string // must not appear in Error()
}

func badCases() []badCase {
	return []badCase{
		{
			name: "unknown key with suggestion",
			ini:  "[app:main]\nsession.type = memory\nsession.timout = 10\n",
			line: 3, key: "session.timout", is: ErrUnknownKey,
			exact: "demo.ini:3: session.timout: unknown Beaker setting; did you mean session.timeout?",
		},
		{
			name: "unknown prefixed key with suggestion",
			ini:  "[app:main]\nbeaker.session.cokie_path = /\n",
			line: 2, key: "beaker.session.cokie_path", is: ErrUnknownKey, msg: "did you mean session.cookie_path?",
		},
		{
			name: "unknown key far from everything",
			ini:  "[app:main]\ncache.zzzzzzzzzzzzzz = 1\n",
			line: 2, key: "cache.zzzzzzzzzzzzzz", is: ErrUnknownKey,
			exact: "demo.ini:2: cache.zzzzzzzzzzzzzz: unknown Beaker setting",
		},
		{
			name: "unknown per-region key",
			ini:  "[app:main]\ncache.regions = short_term\ncache.short_term.expir = 5\n",
			line: 3, key: "cache.short_term.expir", is: ErrUnknownKey, msg: "did you mean cache.short_term.expire?",
		},
		{
			name: "bad bool",
			ini:  "[app:main]\nsession.httponly = maybe\n",
			line: 2, key: "session.httponly", is: ErrBadValue,
			exact: `demo.ini:2: session.httponly: "maybe" is not a boolean (want true/false, yes/no, on/off, y/n, t/f or 1/0)`,
		},
		{
			name: "empty bool",
			ini:  "[app:main]\nsession.save_accessed_time =\n",
			line: 2, key: "session.save_accessed_time", is: ErrBadValue, msg: "empty value is not a boolean",
		},
		{
			name: "bad bool from getter",
			ini:  "[app:main]\nsession.auto = truthy\n",
			get:  func(s *Settings) error { _, err := s.Bool("session.auto", false); return err },
			line: 2, key: "session.auto", is: ErrBadValue, msg: `"truthy" is not a boolean`,
		},
		{
			name: "bad secure",
			ini:  "[app:main]\nsession.secure = sometimes\n",
			line: 2, key: "session.secure", is: ErrBadValue, msg: `"sometimes" is not a boolean or "auto"`,
		},
		{
			name: "bad cookie_expires",
			ini:  "[app:main]\nsession.cookie_expires = 1.5\n",
			line: 2, key: "session.cookie_expires", is: ErrBadValue, msg: "not a boolean, a whole number of seconds, or a date",
		},
		{
			name: "bad int",
			ini:  "[app:main]\nsession.max_entries = 10k\n",
			line: 2, key: "session.max_entries", is: ErrBadValue, msg: `"10k" is not a whole number`,
		},
		{
			name: "bad int from getter",
			ini:  "[app:main]\ncache.key_length = 0x10\n",
			get:  func(s *Settings) error { _, err := s.Int("cache.key_length", 250); return err },
			line: 2, key: "cache.key_length", is: ErrBadValue, msg: `"0x10" is not a whole number`,
		},
		{
			name: "zero key_length",
			ini:  "[app:main]\ncache.key_length = 0\n",
			line: 2, key: "cache.key_length", is: ErrBadValue, msg: "not a whole number of 1 or more",
		},
		{
			name: "seconds not a number (the documented message)",
			ini: "[app:main]\n" + strings.Repeat("# padding\n", 12) +
				"session.timeout = ten\n",
			get:  func(s *Settings) error { _, err := s.Seconds("session.timeout", 0); return err },
			line: 14, key: "session.timeout", is: ErrBadValue,
			exact: `demo.ini:14: session.timeout: "ten" is not a whole number of seconds`,
		},
		{
			name: "negative seconds",
			ini:  "[app:main]\nsession.timeout = -5\n",
			line: 2, key: "session.timeout", is: ErrBadValue, msg: `"-5" is negative`,
		},
		{
			name: "negative per-region expire via Region view",
			ini:  "[app:main]\ncache.regions = a\ncache.expire = 10\ncache.a.expire = -1\n",
			get:  func(s *Settings) error { _, err := s.Region("a").Seconds("cache.expire", 0); return err },
			line: 4, key: "cache.a.expire", is: ErrBadValue, msg: "negative",
		},
		{
			name: "fractional expire",
			ini:  "[app:main]\ncache.expire = 1.5\n",
			line: 2, key: "cache.expire", is: ErrBadValue, msg: `"1.5" is not a whole number of seconds`,
		},
		{
			name: "missing interpolation name",
			ini:  "[app:main]\nsession.data_dir = %(missing)s/sessions\n",
			line: 2, key: "session.data_dir", is: ErrInterpolation,
			msg: `%(missing)s refers to "missing", which is not defined in this section or [DEFAULT]`,
		},
		{
			name: "lone percent",
			ini:  "[app:main]\nsession.cookie_path = /100%\n",
			line: 2, key: "session.cookie_path", is: ErrInterpolation, msg: "'%' must be followed by '%' or '('",
		},
		{
			name: "unterminated reference",
			ini:  "[app:main]\nsession.key = %(name\n",
			line: 2, key: "session.key", is: ErrInterpolation, msg: "bad %(name)s reference",
		},
		{
			name: "bad percent in an ignored key still fails, as in PasteDeploy",
			ini:  "[app:main]\nsession.key = k\nmako.directories = 50%\n",
			line: 3, key: "mako.directories", is: ErrInterpolation,
		},
		{
			name: "recursive interpolation",
			ini:  "[app:main]\nsession.key = %(a)s\na = %(b)s\nb = x%(a)s\n",
			line: 2, key: "session.key", is: ErrInterpolation, msg: "more than 10 levels",
		},
		{
			name: "recursive interpolation through DEFAULT",
			ini:  "[DEFAULT]\nloop = %(loop)s\n[app:main]\nsession.key = k\n",
			line: 2, key: "loop", is: ErrInterpolation, msg: "more than 10 levels",
		},
		{
			name: "duplicate key",
			ini:  "[app:main]\nsession.key = a\nsession.type = memory\nsession.key = b\n",
			line: 4, key: "session.key", is: ErrDuplicate, exact: "demo.ini:4: session.key: duplicate key in [app:main] (first set on line 2)",
		},
		{
			name: "duplicate key in another section",
			ini:  "[app:main]\nsession.key = a\n[server:main]\nport = 1\nport = 2\n",
			line: 5, key: "port", is: ErrDuplicate,
		},
		{
			name: "beaker. and plain duplicate",
			ini:  "[app:main]\nbeaker.session.key = a\nsession.key = b\n",
			line: 3, key: "session.key", is: ErrDuplicate, exact: "demo.ini:3: session.key: same key as beaker.session.key (line 2)",
		},
		{
			name: "get and plain duplicate",
			ini:  "[DEFAULT]\ns = x\n[app:main]\nsession.secret = a\nget session.secret = s\n",
			line: 5, key: "session.secret", is: ErrDuplicate, secret: "x",
		},
		{
			name: "get of undefined global",
			ini:  "[app:main]\nget session.secret = nosuch\n",
			line: 2, key: "get session.secret", is: ErrInterpolation, msg: `"nosuch" is not defined in [DEFAULT] or by a "set" line`,
		},
		{
			name: "duplicate section",
			ini:  "[app:main]\nsession.key = a\n[app:main]\n",
			line: 3, is: ErrDuplicate, msg: "duplicate section [app:main] (first on line 1)",
		},
		{
			name: "missing section", section: "app:other",
			ini:   "[app:main]\nsession.key = a\n[server:main]\n",
			is:    ErrNoSection,
			exact: "demo.ini: no section [app:other]; sections found: [app:main], [server:main]",
		},
		{
			name: "default section missing from an empty file",
			ini:  "# nothing\n",
			is:   ErrNoSection, exact: "demo.ini: no section [app:main]; the file has no sections",
		},
		{
			name: "garbage line",
			ini:  "[app:main]\nsession.key = a\nthis is not a setting\n",
			line: 3, is: ErrSyntax, msg: "not a [section] header",
		},
		{
			name: "key before any section",
			ini:  "session.key = a\n[app:main]\n",
			line: 1, is: ErrSyntax, msg: "before the first [section] header",
		},
		{
			name: "empty key",
			ini:  "[app:main]\n = value\n",
			line: 2, is: ErrSyntax, msg: "empty key",
		},
		{
			name: "text after section header",
			ini:  "[app:main] extra\n",
			line: 1, is: ErrSyntax, msg: "text after section header",
		},
		{
			name: "region override for an undeclared region",
			ini:  "[app:main]\ncache.regions = short_term, long_term\ncache.short_trem.expire = 5\n",
			line: 3, key: "cache.short_trem.expire", is: ErrUnknownRegion,
			exact: `demo.ini:3: cache.short_trem.expire: region "short_trem" is not listed in cache.regions (short_term, long_term); did you mean cache.short_term.expire?`,
		},
		{
			name: "region override without cache.regions",
			ini:  "[app:main]\ncache.second.expire = 1\n",
			line: 2, key: "cache.second.expire", is: ErrUnknownRegion, msg: `region "second": cache.regions is not set`,
		},
		{
			name: "secret value not echoed by getter",
			ini:  "[app:main]\nsession.secret = hunter2-very-secret\n",
			get:  func(s *Settings) error { _, err := s.Int("session.secret", 0); return err },
			line: 2, key: "session.secret", is: ErrBadValue, secret: "hunter2",
			exact: "demo.ini:2: session.secret: value is not a whole number",
		},
		{
			name: "secret value not echoed by interpolation error",
			ini:  "[app:main]\nsession.encrypt_key = hunter2%oops\n",
			line: 2, key: "session.encrypt_key", is: ErrInterpolation, secret: "hunter2",
		},
		{
			name: "url value not echoed",
			ini:  "[app:main]\nbeaker.session.url = redis://:hunter2@h/%q\n",
			line: 2, key: "beaker.session.url", is: ErrInterpolation, secret: "hunter2",
		},
	}
}

func TestBadInputs(t *testing.T) {
	for _, c := range badCases() {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse("demo.ini", strings.NewReader(c.ini), c.section)
			if err == nil {
				if c.get != nil {
					err = c.get(s)
				} else {
					err = s.Check(nil)
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *settings.Error", err, err)
			}
			if e.File != "demo.ini" || e.Line != c.line || e.Key != c.key {
				t.Errorf("error at %q:%d key %q, want demo.ini:%d key %q (%v)", e.File, e.Line, e.Key, c.line, c.key, e)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if c.exact != "" && err.Error() != c.exact {
				t.Errorf("error\n got %s\nwant %s", err, c.exact)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q lacks %q", err, c.msg)
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Errorf("error %q shows the secret %q", err, c.secret)
			}
		})
	}
}

func TestCheckJoinsErrors(t *testing.T) {
	ini := "[app:main]\nsession.timout = 1\nsession.httponly = maybe\ncache.expire = -1\n"
	s, err := Parse("demo.ini", strings.NewReader(ini), "")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(nil)
	if err == nil {
		t.Fatal("no error")
	}
	want := "demo.ini:2: session.timout: unknown Beaker setting; did you mean session.timeout?\n" +
		`demo.ini:3: session.httponly: "maybe" is not a boolean (want true/false, yes/no, on/off, y/n, t/f or 1/0)` + "\n" +
		`demo.ini:4: cache.expire: "-1" is negative; want a whole number of seconds, 0 or more`
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 {
		t.Errorf("errors.As gives %v", e)
	}
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrBadValue) {
		t.Errorf("joined error does not match its sentinels")
	}
}

func TestMapErrors(t *testing.T) {
	_, err := FromMap(map[string]string{"beaker.session.key": "a", "session.key": "b"})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrDuplicate) {
		t.Fatalf("err = %v", err)
	}
	if want := "settings: beaker.session.key: same key as session.key"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}

	s, err := FromMap(map[string]string{"session.timeout": "soon", "session.secret": "topsecret", "cache.a.expire": "1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Seconds("session.timeout", time.Second)
	if want := `settings: session.timeout: "soon" is not a whole number of seconds`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	err = s.Check(nil)
	if err == nil || !strings.Contains(err.Error(), `settings: cache.a.expire: region "a": cache.regions is not set`) {
		t.Errorf("Check = %v", err)
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("Check shows a secret")
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.ini")
	_, err := Load(path, "")
	var e *Error
	if !errors.As(err, &e) || e.File != path || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	if want := path + ": cannot open: no such file or directory"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestInterpolationDepth(t *testing.T) {
	// configparser allows 10 nested levels and refuses 11.
	chain := func(n int) string {
		var b strings.Builder
		b.WriteString("[app:main]\nsession.key = %(v1)s\n")
		for i := 1; i < n; i++ {
			b.WriteString("v" + itoa(i) + " = %(v" + itoa(i+1) + ")s\n")
		}
		b.WriteString("v" + itoa(n) + " = end%%\n")
		return b.String()
	}
	s, err := Parse("d.ini", strings.NewReader(chain(9)), "")
	if err != nil {
		t.Fatalf("9 references: %v", err)
	}
	if v, _ := s.Lookup("session.key"); v != "end%" {
		t.Errorf("session.key = %q", v)
	}
	if _, err := Parse("d.ini", strings.NewReader(chain(10)), ""); !errors.Is(err, ErrInterpolation) {
		t.Errorf("10 references: err = %v", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestInterpolationBlowUp(t *testing.T) {
	var b strings.Builder
	b.WriteString("[app:main]\nsession.key = %(a0)s\n")
	for i := 0; i < 9; i++ {
		b.WriteString("a" + itoa(i) + " = " + strings.Repeat("%(a"+itoa(i+1)+")s", 20) + "\n")
	}
	b.WriteString("a9 = x\n")
	_, err := Parse("d.ini", strings.NewReader(b.String()), "")
	if !errors.Is(err, ErrInterpolation) {
		t.Fatalf("err = %v", err)
	}
}
