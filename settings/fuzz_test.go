package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, name := range []string{"seed.ini", "development.ini"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), "")
	}
	f.Add("[app:main]\nuse = config:testdata/seed.ini\nsession.key = k\n", "")
	f.Add("[app:main]\nuse = main\n", "")
	for _, c := range badCases() {
		f.Add(c.ini, c.section)
	}
	f.Fuzz(func(t *testing.T, ini, section string) {
		s, err := Parse("fuzz.ini", strings.NewReader(ini), section)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Error() == "" {
				t.Fatalf("Parse error %v (%T) is not a *Error", err, err)
			}
			return
		}
		if err := s.Check(nil); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check error %v (%T) is not a *Error", err, err)
			}
		}
		for _, k := range s.Keys() {
			if !s.Has(k) {
				t.Fatalf("Keys() lists %q but Has is false", k)
			}
			v, _ := s.Lookup(k)
			_ = Mask(k, v)
			_, _ = s.Bool(k, false)
			_, _ = s.Int(k, 0)
			_, _ = s.Seconds(k, time.Second)
			_ = s.List(k)
			_ = s.Fields(k)
		}
		for _, r := range s.Regions() {
			v := s.Region(r)
			for _, k := range v.Keys() {
				_, _ = v.Seconds(k, 0)
			}
		}
	})
}
