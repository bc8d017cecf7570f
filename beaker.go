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
// Open links every built-in store, so any session.type works by
// configuration; a program that wants a small binary builds its
// session.Manager from the store packages directly.
package beaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// Logger receives warnings about settings and the stores' logs. The
	// default is slog.Default().
	Logger *slog.Logger
}

// Beaker is what Open builds from the settings. Close it when done.
type Beaker struct {
	// Sessions is the session manager built from session.*.
	Sessions *session.Manager
	// CSRF is the CSRF protection, trusting pyramid.csrf_trusted_origins.
	CSRF *csrf.Protection
	// SessionType is the resolved session.type, in Beaker's spelling.
	SessionType string
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

// Open checks s against Beaker's key catalogue (logging warnings for keys
// that are accepted but not implemented) and builds the session manager,
// CSRF protection and cache regions it describes. Every error locates the setting at
// fault (*settings.Error: file, line, key).
func Open(ctx context.Context, s *settings.Settings, opts Options) (*Beaker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := s.Check(log); err != nil {
		return nil, err
	}
	b := &Beaker{}
	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()
	so, err := b.sessionOptions(ctx, s, log)
	if err != nil {
		return nil, err
	}
	if b.Sessions, err = session.New(so); err != nil {
		return nil, err
	}
	co, err := cacheOptions(s, log)
	if err != nil {
		return nil, err
	}
	if b.Cache, err = cache.New(co); err != nil {
		return nil, err
	}
	b.closers = append(b.closers, b.Cache)
	origins := s.Fields(settings.CSRFTrustedOriginsKey)
	if b.CSRF, err = csrf.New(csrf.Options{TrustedOrigins: origins}); err != nil {
		return nil, settingError(s, settings.CSRFTrustedOriginsKey, err.Error(), err)
	}
	ok = true
	return b, nil
}

// settingError locates a problem with key in s.
func settingError(s *settings.Settings, key, msg string, err error) error {
	file, line := s.Position(key)
	written := s.Written(key)
	if written == "" {
		written = key
	}
	return &settings.Error{File: file, Line: line, Key: written, Msg: msg, Err: err}
}

// canonicalType maps the short spelling of a Beaker type to Beaker's own
// ("redis" to "ext:redis").
func canonicalType(t string) string {
	t = strings.TrimSpace(t)
	switch t {
	case "redis", "memcached", "database", "rediscluster", "mongodb", "sqla", "google":
		return "ext:" + t
	}
	return t
}

func (b *Beaker) sessionOptions(ctx context.Context, s *settings.Settings, log *slog.Logger) (session.Options, error) {
	var o session.Options
	o.Logger = log
	typ := canonicalType(s.String("session.type", "memory"))
	b.SessionType = typ

	// Secret.
	secrets := s.Fields("session.secret")
	if len(secrets) == 0 {
		return o, settingError(s, "session.secret", "required: the session cookie is signed with it; make one with: beaker gen-secret", session.ErrNoSecret)
	}
	for _, sec := range secrets {
		if len(sec) < MinSecretLen {
			return o, settingError(s, "session.secret", fmt.Sprintf("a secret of %d bytes is too short (at least %d, better %d or more); make one with: beaker gen-secret", len(sec), MinSecretLen, RecommendedSecretLen), session.ErrSecretTooShort)
		}
		if len(sec) < RecommendedSecretLen {
			file, line := s.Position("session.secret")
			log.Warn("session.secret is shorter than recommended; make a longer one with: beaker gen-secret",
				"file", file, "line", line, "bytes", len(sec), "recommended", RecommendedSecretLen)
		}
	}
	o.Secrets = secrets
	o.CookieName = s.String("session.key", session.DefaultCookieName)
	o.CookiePath = s.String("session.cookie_path", "")
	o.CookieDomain = s.String("session.cookie_domain", "")

	var err error
	if o.Timeout, err = s.Seconds("session.timeout", 0); err != nil {
		return o, err
	}
	if o.Lifetime, err = s.Seconds("session.lifetime", session.DefaultLifetime); err != nil {
		return o, err
	}
	if o.StoreTimeout, err = s.Seconds("session.store_timeout", session.DefaultStoreTimeout); err != nil {
		return o, err
	}
	if v, ok := s.Lookup("session.cookie_expires"); ok {
		if on, err := s.Bool("session.cookie_expires", true); err == nil {
			o.PersistentCookie = !on
		} else if o.CookieExpires, err = s.Seconds("session.cookie_expires", 0); err != nil {
			return o, settingError(s, "session.cookie_expires", fmt.Sprintf("%q is neither a boolean nor a whole number of seconds", v), settings.ErrBadValue)
		}
	}
	if v, ok := s.Lookup("session.secure"); ok {
		if strings.EqualFold(strings.TrimSpace(v), "auto") {
			o.Secure = session.SecureAuto
		} else {
			on, err := s.Bool("session.secure", false)
			if err != nil {
				return o, err
			}
			o.Secure = session.SecureNever
			if on {
				o.Secure = session.SecureAlways
			}
		}
	}
	httpOnly, err := s.Bool("session.httponly", true)
	if err != nil {
		return o, err
	}
	o.NoHTTPOnly = !httpOnly
	if v, ok := s.Lookup("session.samesite"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "lax":
			o.SameSite = http.SameSiteLaxMode
		case "strict":
			o.SameSite = http.SameSiteStrictMode
		case "none":
			o.SameSite = http.SameSiteNoneMode
		case "", "false", "0", "no", "off":
			o.SameSite = http.SameSiteDefaultMode // attribute left out, as Beaker does
		default:
			return o, settingError(s, "session.samesite", fmt.Sprintf("%q is not Lax, Strict or None", v), settings.ErrBadValue)
		}
	}
	if o.SameSite == http.SameSiteNoneMode && o.Secure == session.SecureNever {
		return o, settingError(s, "session.samesite", "browsers drop a SameSite=None cookie that is not Secure; set session.secure = true (or auto behind TLS)", settings.ErrBadValue)
	}
	save, err := s.Bool("session.save_accessed_time", true)
	if err != nil {
		return o, err
	}
	o.NoTouch = !save
	if inv, err := s.Bool("session.invalidate_corrupt", true); err != nil {
		return o, err
	} else if !inv {
		log.Warn("session.invalidate_corrupt = false is ignored: a corrupt session record is always treated as missing")
	}
	if v := strings.TrimSpace(s.String("session.data_serializer", "json")); v != "json" {
		return o, settingError(s, "session.data_serializer", fmt.Sprintf("%q: sessions are stored as JSON; pickle is only read in Beaker-compatible mode (session.format = beaker), which is not available yet", v), ErrNotAvailable)
	}
	if v := strings.TrimSpace(s.String("session.format", "native")); v != "native" {
		if v == "beaker" {
			return o, settingError(s, "session.format", "Beaker-compatible storage (shared sessions with a Python app) is not available yet", ErrNotAvailable)
		}
		return o, settingError(s, "session.format", fmt.Sprintf("%q is not native or beaker", v), settings.ErrBadValue)
	}
	for _, k := range []string{"session.encrypt_key", "session.validate_key", "session.crypto_type"} {
		if s.Has(k) && typ != "cookie" {
			return o, settingError(s, k, "encryption of server-side session data is not available yet; the data is in your own store, and the cookie holds only a signed id", ErrNotAvailable)
		}
	}

	st, err := b.openSessionStore(ctx, s, typ, log)
	if err != nil {
		return o, err
	}
	o.Store = st
	return o, nil
}

// openSessionStore builds the store that session.type names.
func (b *Beaker) openSessionStore(_ context.Context, s *settings.Settings, typ string, log *slog.Logger) (store.Store, error) {
	switch typ {
	case "memory":
		for _, k := range []string{"session.url", "session.data_dir", "session.lock_dir", "session.table_name"} {
			if s.Has(k) {
				file, line := s.Position(k)
				log.Warn("setting ignored for session.type = memory", "key", s.Written(k), "file", file, "line", line)
			}
		}
		maxEntries, err := s.Int("session.max_entries", 0)
		if err != nil {
			return nil, err
		}
		ms := memstore.New(memstore.Options{MaxEntries: maxEntries, Logger: log})
		b.closers = append(b.closers, ms)
		return ms, nil
	case "file", "ext:database", "ext:memcached", "ext:redis", "ext:rediscluster", "cookie":
		return nil, settingError(s, "session.type", fmt.Sprintf("%q sessions are not available yet in this version; use memory", typ), ErrNotAvailable)
	case "dbm", "ext:mongodb", "ext:sqla", "ext:google":
		return nil, settingError(s, "session.type", fmt.Sprintf("%q is a Beaker type that beaker for Go does not support; use memory, file, ext:database, ext:redis, ext:memcached or cookie", typ), settings.ErrBadValue)
	default:
		return nil, settingError(s, "session.type", fmt.Sprintf("%q is not a Beaker session type; use memory, file, ext:database, ext:redis, ext:memcached or cookie", typ), settings.ErrBadValue)
	}
}

// DefaultCacheExpire is the expiry of a region without cache.expire nor
// cache.<region>.expire: pyramid_beaker's 60 seconds.
const DefaultCacheExpire = 60 * time.Second

// cacheOptions builds the regions of cache.regions, each from the global
// cache.<key> values overridden by cache.<region>.<key>.
func cacheOptions(s *settings.Settings, log *slog.Logger) (cache.Options, error) {
	o := cache.Options{Logger: log}
	seen := map[string]bool{}
	for _, name := range s.Regions() {
		if seen[name] {
			return o, settingError(s, "cache.regions", fmt.Sprintf("region %q is listed twice", name), settings.ErrDuplicate)
		}
		seen[name] = true
		r := s.Region(name)
		ro := cache.RegionOptions{Name: name}
		var err error
		if ro.Expire, err = r.Seconds("cache.expire", DefaultCacheExpire); err != nil {
			return o, err
		}
		enabled, err := r.Bool("cache.enabled", true)
		if err != nil {
			return o, err
		}
		ro.Disabled = !enabled
		if ro.KeyLength, err = r.Int("cache.key_length", cache.DefaultKeyLength); err != nil {
			return o, err
		}
		if ro.MaxEntries, err = r.Int("cache.max_entries", 0); err != nil {
			return o, err
		}
		// The key that set the region's type, for error positions.
		typeKey := "cache." + name + ".type"
		if !s.Has(typeKey) {
			typeKey = "cache.type"
		}
		switch typ := canonicalType(r.String("cache.type", "memory")); typ {
		case "memory":
			ro.Store = nil // values stay decoded in this process
		case "file", "ext:database", "ext:memcached", "ext:redis", "ext:rediscluster":
			return o, settingError(s, typeKey, fmt.Sprintf("region %s: %q caches are not available yet in this version; use memory", name, typ), ErrNotAvailable)
		default:
			return o, settingError(s, typeKey, fmt.Sprintf("region %s: %q is not a cache type; use memory, file, ext:database, ext:redis or ext:memcached", name, typ), settings.ErrBadValue)
		}
		o.Regions = append(o.Regions, ro)
	}
	return o, nil
}
