package settings_test

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gobeaker/beaker/settings"
)

func ExampleParse() {
	const ini = `
[DEFAULT]
debug = false

[app:main]
use = egg:demo
pyramid.reload_templates = %(debug)s
cache.regions = default_term, second
cache.type = memory
cache.expire = 300
cache.second.expire = 1
beaker.session.key = demo
session.secret = 0cb243f53ad865a0f70099c0414ffe9cfcfe03ac
session.timeout = 3600
session.cookie_on_exception = true
`
	s, err := settings.Parse("development.ini", strings.NewReader(ini), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Warnings (here: session.cookie_on_exception is not implemented) go to the logger.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	if err := s.Check(log); err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range s.Keys() {
		v, _ := s.Lookup(k)
		fmt.Printf("%s = %s\n", k, settings.Mask(k, v))
	}
	timeout, _ := s.Seconds("session.timeout", 0)
	fmt.Println("timeout:", timeout)
	for _, r := range s.Regions() {
		expire, _ := s.Region(r).Seconds("cache.expire", 60*time.Second)
		fmt.Printf("region %s expires after %v\n", r, expire)
	}
	// Output:
	// level=WARN msg="Beaker setting not implemented; ignored" file=development.ini line=15 key=session.cookie_on_exception
	// cache.expire = 300
	// cache.regions = default_term, second
	// cache.second.expire = 1
	// cache.type = memory
	// session.cookie_on_exception = true
	// session.key = demo
	// session.secret = 0cb2…(40 chars)
	// session.timeout = 3600
	// timeout: 1h0m0s
	// region default_term expires after 5m0s
	// region second expires after 1s
}

func ExampleSettings_Seconds() {
	s, _ := settings.Parse("demo.ini", strings.NewReader("[app:main]\nsession.timeout = ten\n"), "")
	_, err := s.Seconds("session.timeout", 0)
	fmt.Println(err)
	// Output:
	// demo.ini:2: session.timeout: "ten" is not a whole number of seconds
}
