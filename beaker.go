// Package beaker wires Beaker's settings into sessions, CSRF protection and
// cache regions: point it at the [app:main] section of a Pyramid INI file
// (or a settings map) and get what pyramid_beaker gave the Python app.
//
//	s, err := settings.Load("development.ini", "")
//	...
//	b, err := beaker.Open(ctx, s, beaker.Options{})
//	...
//	defer b.Close()
//	http.ListenAndServe(addr, b.Sessions.Middleware(b.CSRF.Middleware(mux)))
//
// # Linking
//
// A program pays only for the backends it names. Open links the types that
// need nothing beyond the standard library: memory, file and cookie. The
// SQL, Redis and memcached stores are linked by the program, by passing
// their drivers (a plain value, no init() registry):
//
//	b, err := beaker.Open(ctx, s, beaker.Options{
//		Drivers: []store.Driver{redisstore.Driver(), sqlstore.Driver()},
//	})
//
// A session.type or cache.type whose driver is not linked fails at Open
// with an error that names the line of Go to add.
//
// # One reading of the settings
//
// Resolve interprets every key once, into a Config, without opening
// anything; Check adds the checks of the linked store drivers that need no
// I/O (a url that does not parse, a required setting left out); Open
// builds from what Check returns, and beaker check-config runs Check with
// every driver and prints it.
package beaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/filestore"
	"github.com/gobeaker/beaker/store/memstore"
)

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// Logger receives warnings about settings and the stores' logs. The
	// default is slog.Default().
	Logger *slog.Logger

	// Drivers link the backends beyond memory, file and cookie (SQL,
	// Redis, memcached): store/sqlstore.Driver(), store/redisstore.Driver(),
	// store/memcachestore.Driver(). The default links none of them.
	Drivers []store.Driver
}

// Beaker is what Open builds from the settings. Close it when done.
type Beaker struct {
	// Sessions is the session manager built from session.*.
	Sessions *session.Manager
	// CSRF is the CSRF protection, trusting pyramid.csrf_trusted_origins.
	CSRF *csrf.Protection
	// SessionType is the resolved session.type, in Beaker's spelling.
	SessionType string
	// Config is the resolved configuration Open built from.
	Config *Config
	// Cache holds the cache regions of cache.regions (none when the
	// settings list no regions).
	Cache *cache.Manager

	closers []io.Closer
}

// Close releases the stores and stops their goroutines.
func (b *Beaker) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i].Close())
	}
	b.closers = nil
	return errors.Join(errs...)
}

// MinSecretLen is the shortest session.secret accepted; RecommendedSecretLen
// is the length under which Open logs a warning.
const (
	MinSecretLen         = session.MinSecretLen
	RecommendedSecretLen = 32
)

// ErrNotAvailable is wrapped by the error for a setting that names a
// feature this version does not have yet.
var ErrNotAvailable = errors.New("not available in this version")

// Open resolves and checks s (see Check), logs its warnings, and builds
// the session manager, CSRF protection and cache regions it describes,
// opening their stores. Every settings error locates the setting at fault
// (*settings.Error: file, line, key).
func Open(ctx context.Context, s *settings.Settings, opts Options) (*Beaker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg, err := Check(s, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		attrs := []any{"file", w.File}
		if w.Line > 0 {
			attrs = append(attrs, "line", w.Line)
		}
		log.Warn(w.Msg, append(attrs, "key", w.Key)...)
	}
	b := &Beaker{Config: cfg, SessionType: cfg.Session.Type}
	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()
	o := &opener{ctx: ctx, log: log, drivers: opts.Drivers, b: b, shared: map[string]store.Store{}}

	so := cfg.Session.Options
	so.Logger = log
	switch cfg.Session.Type {
	case "memory":
		ms := memstore.New(memstore.Options{MaxEntries: cfg.Session.MaxEntries, MaxBytes: int64(cfg.Session.MaxBytes), Logger: log})
		b.closers = append(b.closers, ms)
		so.Store = ms
	case "cookie":
	default:
		if so.Store, err = o.open(cfg.Session.Store, s, "session."); err != nil {
			return nil, err
		}
	}
	if cfg.Session.Type == "cookie" {
		b.Sessions, err = session.NewCookie(session.CookieOptions{Options: so, EncryptKey: cfg.Session.EncryptKey,
			EncryptKeyFallbacks: cfg.Session.EncryptKeyFallbacks, ValidateKey: cfg.Session.ValidateKey})
		if err != nil {
			return nil, settingError(s, cookieErrorKey(s, err), err.Error(), err)
		}
	} else if b.Sessions, err = session.New(so); err != nil {
		if oe := (*session.OptionError)(nil); errors.As(err, &oe) && s.Has(oe.Key) {
			return nil, settingError(s, oe.Key, err.Error(), err)
		}
		return nil, err
	}

	co := cache.Options{Logger: log}
	for _, rc := range cfg.Regions {
		ro := rc.Options
		if rc.Type != "memory" {
			if ro.Store, err = o.open(rc.Store, s.Region(ro.Name), "cache."); err != nil {
				return nil, err
			}
		}
		co.Regions = append(co.Regions, ro)
	}
	if b.Cache, err = cache.New(co); err != nil {
		return nil, err
	}
	b.closers = append(b.closers, b.Cache)
	if b.CSRF, err = csrf.New(csrf.Options{TrustedOrigins: cfg.CSRFTrustedOrigins}); err != nil {
		return nil, settingError(s, settings.CSRFTrustedOriginsKey, err.Error(), err)
	}
	ok = true
	return b, nil
}

// cookieErrorKey is the setting a cookie-session configuration error is
// about, for its location. Resolve has refused what it can locate itself
// (encrypt_key_fallbacks without encrypt_key); a *session.OptionError
// names its key; for the secrets' errors, the key is inferred from what is
// set.
func cookieErrorKey(s *settings.Settings, err error) string {
	var oe *session.OptionError
	switch {
	case errors.As(err, &oe) && s.Has(oe.Key):
		return oe.Key
	case errors.Is(err, session.ErrNoSecret), errors.Is(err, session.ErrSecretTooShort):
		return "session.secret"
	case s.Has("session.encrypt_key"):
		return "session.encrypt_key"
	case s.Has("session.encrypt_key_fallbacks"):
		return "session.encrypt_key_fallbacks"
	case s.Has("session.validate_key"):
		return "session.validate_key"
	}
	return "session.type"
}

// builtinDrivers are the drivers Open links itself: the backends that need
// nothing beyond the standard library.
func builtinDrivers() []store.Driver {
	return []store.Driver{filestore.Driver()}
}

// opener opens the stores of one Open, sharing one store between the
// session manager and the regions that name the same backend.
type opener struct {
	ctx     context.Context
	log     *slog.Logger
	drivers []store.Driver
	b       *Beaker
	shared  map[string]store.Store
}

// open opens the store c describes, from the settings view (s for
// session.*, s.Region(name) for a region) whose keys start with prefix,
// for errors.
func (o *opener) open(c store.Config, view *settings.Settings, prefix string) (store.Store, error) {
	d, ok := findDriver(append(builtinDrivers(), o.drivers...), c.Type)
	if !ok {
		return nil, settingError(view, prefix+"type", notLinked(c.Type), ErrNotLinked)
	}
	id := strings.Join([]string{c.Type, c.URL, c.DataDir, c.LockDir, c.TableName}, "\x00")
	if st, ok := o.shared[id]; ok {
		return st, nil
	}
	c.Logger = o.log
	st, err := d.Open(o.ctx, c)
	if err != nil {
		return nil, storeError(view, prefix, fmt.Sprintf("opening the %s store: %v", d.Name, err), err)
	}
	if cl, ok := st.(io.Closer); ok {
		o.b.closers = append(o.b.closers, cl)
	}
	o.shared[id] = st
	return st, nil
}

// storeError locates err, a driver's error about the store of the
// section prefix ("session." or "cache.") of view: at the setting a
// *store.ConfigError names when that setting is written (url standing for
// urls and back, as storeConfig reads either), else at the type.
func storeError(view *settings.Settings, prefix, msg string, err error) error {
	key := prefix + "type"
	var ce *store.ConfigError
	if errors.As(err, &ce) {
		key = storeSetting(view, prefix, ce.Key)
	}
	return settingError(view, key, msg, err)
}

// storeSetting is the setting of view that a driver's key (a
// store.ConfigError's Key, a warning's "key") names: prefix+key as
// written, url and urls standing for each other (the address takes either
// spelling); prefix+"type" when view has neither.
func storeSetting(view *settings.Settings, prefix, key string) string {
	alt := map[string]string{"url": "urls", "urls": "url"}[key]
	for _, k := range []string{key, alt} {
		if k != "" && view.Has(prefix+k) {
			return prefix + k
		}
	}
	return prefix + "type"
}

// ErrNotLinked is wrapped by the error for a session.type or cache.type
// whose driver the program did not pass in Options.Drivers.
var ErrNotLinked = errors.New("store driver not linked into this program")

func findDriver(ds []store.Driver, typ string) (store.Driver, bool) {
	for _, d := range ds {
		for _, t := range d.Types {
			if canonicalType(t) == typ {
				return d, true
			}
		}
	}
	return store.Driver{}, false
}

// notLinked says which line of Go links the driver of typ.
func notLinked(typ string) string {
	pkg := ""
	switch typ {
	case "ext:redis", "ext:rediscluster":
		pkg = "redisstore"
	case "ext:memcached":
		pkg = "memcachestore"
	case "ext:database", "sqlite", "postgresql":
		pkg = "sqlstore"
	default:
		return fmt.Sprintf("%q has no driver in this program; pass one in beaker.Options.Drivers", typ)
	}
	return fmt.Sprintf("%q is not linked into this program: pass beaker.Options{Drivers: []store.Driver{%s.Driver()}} to beaker.Open, importing \"github.com/gobeaker/beaker/store/%s\"", typ, pkg, pkg)
}
