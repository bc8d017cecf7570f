package beaker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
)

// Config is what a Beaker configuration says, resolved: every key read
// once, every default applied, nothing opened. Resolve builds it; Open
// builds the session manager, CSRF protection and cache regions from it;
// beaker check-config prints it, so the CLI shows exactly what Open builds.
type Config struct {
	// Session is the session manager's configuration (session.*).
	Session SessionConfig

	// CSRFTrustedOrigins are pyramid.csrf_trusted_origins.
	CSRFTrustedOrigins []string

	// Regions are the cache regions of cache.regions, in order.
	Regions []RegionConfig

	// Warnings are the settings that are accepted but ignored or risky;
	// Open logs them.
	Warnings []Warning
}

// SessionConfig is the resolved session.* configuration.
type SessionConfig struct {
	// Type is session.type in Beaker's spelling ("memory", "file",
	// "ext:redis", "cookie").
	Type string

	// Options are the session manager's options with their defaults
	// applied; Store, Logger and the handlers are left for Open to fill.
	Options session.Options

	// Store is what the store of a server-side type is opened with.
	Store store.Config

	// MaxEntries and MaxBytes bound a memory store (session.max_entries,
	// session.max_bytes; 0: the store's defaults).
	MaxEntries, MaxBytes int

	// CookieExpiresAt is the instant the session cookie expires, from
	// session.cookie_expires written as a date (2027-01-31,
	// 2027-01-31T12:00:00, optionally with Z or an offset; UTC without
	// one), as Beaker's datetime: every session cookie then carries that
	// Expires. The zero time when cookie_expires is a boolean or seconds
	// (Options.PersistentCookie, Options.CookieExpires).
	CookieExpiresAt time.Time

	// EncryptKey is session.encrypt_key, for cookie sessions
	// (session.CookieOptions.EncryptKey); empty when unset.
	EncryptKey string
	// EncryptKeyFallbacks is session.encrypt_key_fallbacks, split on
	// whitespace (session.CookieOptions.EncryptKeyFallbacks).
	EncryptKeyFallbacks []string
	// ValidateKey is session.validate_key, for cookie sessions
	// (session.CookieOptions.ValidateKey); empty when unset.
	ValidateKey string
}

// RegionConfig is one resolved cache region.
type RegionConfig struct {
	// Type is the region's cache.type in Beaker's spelling; "memory"
	// keeps values in this process.
	Type string

	// Options are the region's options (Store left nil).
	Options cache.RegionOptions

	// Store is what a non-memory region's store is opened with.
	Store store.Config
}

// Warning is a setting that is accepted but ignored, or a risky value.
type Warning struct {
	File string // the file that holds the setting; the source's name for a settings map
	Line int    // 0 when the setting has no line (a settings map)
	Key  string // the setting's key, such as "session.data_dir"
	Msg  string // what is ignored or risky, and what to do
}

// DefaultCacheExpire is the expiry of a region without cache.expire nor
// cache.<region>.expire: pyramid_beaker's 60 seconds.
const DefaultCacheExpire = 60 * time.Second

// Resolve checks s against Beaker's key catalogue and interprets every
// key, once. It opens nothing and performs no I/O. Every error locates the
// setting at fault (*settings.Error: file, line, key).
//
// The stores of the types Open links itself (file) are checked by their
// driver's Validate; those of other types only by [Check], which is given
// their drivers.
func Resolve(s *settings.Settings) (*Config, error) {
	cfg, err := resolve(s)
	if err != nil {
		return nil, err
	}
	if err := checkStores(s, cfg, builtinDrivers(), false); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Check is Resolve, followed by the checks of every store the settings
// name by its driver (opts.Drivers, and those Open links itself), as Open
// would open it, without I/O: a type whose driver is not linked
// ([ErrNotLinked]), and what the driver's store.Driver.Validate finds: a
// url that does not parse, a required setting left out (session.type =
// file without data_dir, ext:database without url), a backend option out
// of range. Open runs it before opening anything; beaker check-config
// runs it with every driver.
//
// What only I/O can tell is left to Open and to the stores: a folder
// that cannot be made, a database that cannot be opened or refuses the
// credentials (Open fails), and a Redis or memcached server that does not
// answer (their clients connect on first use: the application starts, and
// its requests get 503 until the server is back).
func Check(s *settings.Settings, opts Options) (*Config, error) {
	cfg, err := resolve(s)
	if err != nil {
		return nil, err
	}
	if err := checkStores(s, cfg, append(builtinDrivers(), opts.Drivers...), true); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkStores runs the Validate of the driver of every store of cfg, in
// the order Open opens them; a store whose type has no driver in drivers
// is an ErrNotLinked error if requireLinked, else left alone.
func checkStores(s *settings.Settings, cfg *Config, drivers []store.Driver, requireLinked bool) error {
	check := func(c store.Config, view *settings.Settings, prefix string) error {
		d, ok := findDriver(drivers, c.Type)
		switch {
		case !ok && requireLinked:
			return settingError(view, prefix+"type", notLinked(c.Type), ErrNotLinked)
		case !ok || d.Validate == nil:
			return nil
		}
		// What the driver warns about (an option of its url that it
		// ignores, or that weakens it) becomes a warning of the setting
		// it names, "key" (as store.ConfigError's Key), else the type.
		wc := &warnCollector{}
		c.Logger = slog.New(wc)
		if err := d.Validate(c); err != nil {
			return storeError(view, prefix, fmt.Sprintf("%s store: %v", d.Name, err), err)
		}
		for _, w := range wc.warnings {
			key := storeSetting(view, prefix, w.Key)
			file, line := view.Position(key)
			written := view.Written(key)
			if written == "" {
				written = key
			}
			nw := Warning{File: file, Line: line, Key: written, Msg: d.Name + " store: " + w.Msg}
			if !slices.Contains(cfg.Warnings, nw) { // a global cache.url seen by several regions
				cfg.Warnings = append(cfg.Warnings, nw)
			}
		}
		return nil
	}
	switch cfg.Session.Type {
	case "memory", "cookie":
	default:
		if err := check(cfg.Session.Store, s, "session."); err != nil {
			return err
		}
	}
	for _, rc := range cfg.Regions {
		if rc.Type != "memory" {
			if err := check(rc.Store, s.Region(rc.Options.Name), "cache."); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve is Resolve without the stores' checks.
func resolve(s *settings.Settings) (*Config, error) {
	wc := &warnCollector{}
	if err := s.Check(slog.New(wc)); err != nil {
		return nil, err
	}
	cfg := &Config{Warnings: wc.warnings}
	seen := map[Warning]bool{}
	warnAt := func(r *settings.Settings, key, msg string) {
		file, line := r.Position(key)
		w := Warning{File: file, Line: line, Key: r.Written(key), Msg: msg}
		if !seen[w] { // a global cache.* key seen by several regions
			seen[w] = true
			cfg.Warnings = append(cfg.Warnings, w)
		}
	}
	warn := func(key, msg string) { warnAt(s, key, msg) }
	var err error
	if cfg.Session, err = resolveSession(s, warn); err != nil {
		return nil, err
	}
	if cfg.Regions, err = resolveRegions(s, cfg.Session.Options.StoreTimeout, warnAt); err != nil {
		return nil, err
	}
	cfg.CSRFTrustedOrigins = s.Fields(settings.CSRFTrustedOriginsKey)
	return cfg, nil
}

// warnCollector is a slog.Handler that keeps the warnings (records of
// level Warn and above) of settings.Check, or of a driver's Validate, as
// Warnings.
type warnCollector struct {
	mu       sync.Mutex
	warnings []Warning
}

func (w *warnCollector) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCollector) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCollector) WithGroup(string) slog.Handler                { return w }
func (w *warnCollector) Handle(_ context.Context, r slog.Record) error {
	wn := Warning{Msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "file":
			wn.File = a.Value.String()
		case "line":
			wn.Line = int(a.Value.Int64())
		case "key":
			wn.Key = a.Value.String()
		}
		return true
	})
	w.mu.Lock()
	w.warnings = append(w.warnings, wn)
	w.mu.Unlock()
	return nil
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

// storeConfig gathers the store settings of one section: r is s itself
// for session.*, or s.Region(name) for a region (prefix "cache.").
func storeConfig(r *settings.Settings, use, prefix, typ string, timeout time.Duration) store.Config {
	c := store.Config{
		Use:       use,
		Type:      typ,
		URL:       strings.TrimSpace(r.String(prefix+urlKeys(typ)[0], r.String(prefix+urlKeys(typ)[1], ""))),
		DataDir:   strings.TrimSpace(r.String(prefix+"data_dir", "")),
		LockDir:   strings.TrimSpace(r.String(prefix+"lock_dir", "")),
		TableName: strings.TrimSpace(r.String(prefix+"table_name", "")),
		Timeout:   timeout,
		Params:    map[string]string{},
	}
	for _, k := range r.Keys() {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			c.Params[rest], _ = r.Lookup(k)
		}
	}
	return c
}

func resolveSession(s *settings.Settings, warn func(key, msg string)) (SessionConfig, error) {
	var c SessionConfig
	o := &c.Options
	// Beaker's default type is file when data_dir is given, else memory.
	defaultType := "memory"
	if !s.Has("session.type") && s.Has("session.data_dir") {
		defaultType = "file"
	}
	c.Type = canonicalType(s.String("session.type", defaultType))
	switch c.Type {
	case "memory", "file", "cookie", "ext:database", "ext:memcached", "ext:redis", "ext:rediscluster", "sqlite", "postgresql":
	case "dbm", "ext:mongodb", "ext:sqla", "ext:google":
		return c, settingError(s, "session.type", fmt.Sprintf("%q is a Beaker type that beaker for Go does not support; use memory, file, ext:database, ext:redis, ext:memcached or cookie", c.Type), settings.ErrBadValue)
	default:
		return c, settingError(s, "session.type", fmt.Sprintf("%q is not a Beaker session type; use memory, file, ext:database, ext:redis, ext:memcached or cookie", c.Type), settings.ErrBadValue)
	}

	// Secrets: session.secret is one value, spaces and all, as Beaker reads
	// it; older ones, still verifying, are in session.secret_fallbacks.
	secret := strings.TrimSpace(s.String("session.secret", ""))
	if secret == "" {
		return c, settingError(s, "session.secret", "required: the session cookie is signed with it; make one with: beaker gen-secret", session.ErrNoSecret)
	}
	o.Secrets = append([]string{secret}, s.Fields("session.secret_fallbacks")...)
	for i, sec := range o.Secrets {
		key := "session.secret"
		if i > 0 {
			key = "session.secret_fallbacks"
		}
		if len(sec) < MinSecretLen {
			return c, settingError(s, key, fmt.Sprintf("a secret of %d bytes is too short (at least %d, better %d or more); make one with: beaker gen-secret", len(sec), MinSecretLen, RecommendedSecretLen), session.ErrSecretTooShort)
		}
		if i == 0 && len(sec) < RecommendedSecretLen {
			warn(key, fmt.Sprintf("session.secret is %d bytes, shorter than the recommended %d; make a longer one with: beaker gen-secret", len(sec), RecommendedSecretLen))
		}
	}
	o.CookieName = s.String("session.key", session.DefaultCookieName)
	o.CookiePath = s.String("session.cookie_path", "/")
	o.CookieDomain = s.String("session.cookie_domain", "")
	o.KeyPrefix = s.String("session.key_prefix", session.DefaultKeyPrefix)

	var err error
	if o.Timeout, err = s.Seconds("session.timeout", 0); err != nil {
		return c, err
	}
	if s.Has("session.timeout") && o.Timeout == 0 {
		warn("session.timeout", "session.timeout = 0 means no idle timeout here, but Beaker expires such a session at once "+
			"(every request starts a new one); leave the line out for no idle timeout")
	}
	if o.Lifetime, err = s.Seconds("session.lifetime", session.DefaultLifetime); err != nil {
		return c, err
	}
	if o.StoreTimeout, err = s.Seconds("session.store_timeout", session.DefaultStoreTimeout); err != nil {
		return c, err
	}
	if o.MaxSize, err = s.Int("session.max_size", session.DefaultMaxSize); err != nil {
		return c, err
	}
	if o.MaxSize == 0 {
		o.MaxSize = -1 // max_size = 0: no limit
	}
	if err := resolveCookieExpires(s, &c, time.Now()); err != nil {
		return c, err
	}
	if v, ok := s.Lookup("session.secure"); ok && !strings.EqualFold(strings.TrimSpace(v), "auto") {
		on, err := s.Bool("session.secure", false)
		if err != nil {
			return c, err
		}
		o.Secure = session.SecureNever
		if on {
			o.Secure = session.SecureAlways
		}
	}
	httpOnly, err := s.Bool("session.httponly", true)
	if err != nil {
		return c, err
	}
	o.NoHTTPOnly = !httpOnly
	o.SameSite = http.SameSiteLaxMode
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
			return c, settingError(s, "session.samesite", fmt.Sprintf("%q is not Lax, Strict or None", v), settings.ErrBadValue)
		}
	}
	if o.SameSite == http.SameSiteNoneMode && o.Secure == session.SecureNever {
		return c, settingError(s, "session.samesite", "browsers drop a SameSite=None cookie that is not Secure; set session.secure = true (or auto behind TLS)", settings.ErrBadValue)
	}
	// The manager's own defaults for values written empty or zero
	// (session.lifetime = 0, session.cookie_path =): what Open builds is
	// what Resolve shows. The name is checked as written.
	name := o.CookieName
	*o = o.WithDefaults()
	o.CookieName = name
	if err := checkCookiePath(s, o.CookiePath); err != nil {
		return c, err
	}
	if err := checkCookieDomain(s, o.CookieDomain); err != nil {
		return c, err
	}
	if err := checkCookieName(s, o); err != nil {
		return c, err
	}
	if o.Auto, err = s.Bool("session.auto", false); err != nil {
		return c, err
	}
	save, err := s.Bool("session.save_accessed_time", true)
	if err != nil {
		return c, err
	}
	o.NoTouch = !save
	if inv, err := s.Bool("session.invalidate_corrupt", true); err != nil {
		return c, err
	} else if !inv {
		warn("session.invalidate_corrupt", "session.invalidate_corrupt = false is ignored: a corrupt session record is always treated as missing")
	}
	if v := strings.TrimSpace(s.String("session.data_serializer", "json")); v != "json" {
		return c, settingError(s, "session.data_serializer", fmt.Sprintf("%q: sessions are stored as JSON; pickle is only read in Beaker-compatible mode (session.format = beaker), which is not available yet", v), ErrNotAvailable)
	}
	if v := strings.TrimSpace(s.String("session.format", "native")); v != "native" {
		if v == "beaker" {
			return c, settingError(s, "session.format", "Beaker-compatible storage (shared sessions with a Python app) is not available yet", ErrNotAvailable)
		}
		return c, settingError(s, "session.format", fmt.Sprintf("%q is not native or beaker", v), settings.ErrBadValue)
	}
	c.EncryptKey = s.String("session.encrypt_key", "")
	c.EncryptKeyFallbacks = s.Fields("session.encrypt_key_fallbacks")
	c.ValidateKey = s.String("session.validate_key", "")
	for _, k := range []string{"session.encrypt_key", "session.encrypt_key_fallbacks"} {
		if s.Has(k) && c.Type != "cookie" {
			return c, settingError(s, k, "encryption of server-side session data is not available yet; the data is in your own store, and the cookie holds only a signed id", ErrNotAvailable)
		}
	}
	for _, k := range []string{"session.validate_key", "session.crypto_type"} {
		// Beaker reads them for a server-side session only with
		// encrypt_key, refused above: without it, it ignores them.
		if s.Has(k) && c.Type != "cookie" {
			warn(k, "setting ignored: Beaker uses it for a server-side session only with session.encrypt_key")
		}
	}
	for _, k := range []string{"session.secret", "session.secret_fallbacks", "session.encrypt_key", "session.encrypt_key_fallbacks", "session.validate_key"} {
		if v, ok := s.Lookup(k); ok && placeholder(v) {
			warn(k, "this looks like a placeholder (\"change me\"), not a secret: whoever read the example it came from can forge or read "+
				"sessions; make one with: beaker gen-secret")
		}
	}
	if c.Type == "cookie" && len(c.EncryptKeyFallbacks) > 0 && c.EncryptKey == "" {
		// session.NewCookie refuses it too, but with an ad-hoc error that
		// Open could only locate by its text; here check-config sees it.
		return c, settingError(s, "session.encrypt_key_fallbacks", "set without session.encrypt_key: the fallbacks are older encrypt keys, "+
			"still opening cookies while session.encrypt_key seals them; set session.encrypt_key, or remove this line", settings.ErrBadValue)
	}
	if v, ok := s.Lookup("session.crypto_type"); ok && c.Type == "cookie" {
		// Beaker's backends (beaker.crypto.get_crypto_module); any other
		// name is an error there too.
		switch strings.TrimSpace(v) {
		case "default", "cryptography", "pycryptodome", "pycrypto", "nss":
			warn("session.crypto_type", "setting ignored: cookie sessions are always sealed with XChaCha20-Poly1305 (see session.NewCookie), "+
				"whatever Beaker's crypto backend; Beaker's cookie format is neither read nor written")
		default:
			return c, settingError(s, "session.crypto_type", fmt.Sprintf("%q is not one of Beaker's crypto_type values (default, cryptography, pycryptodome, pycrypto, nss)", v), settings.ErrBadValue)
		}
	}
	if c.MaxEntries, err = s.Int("session.max_entries", 0); err != nil {
		return c, err
	}
	if c.MaxBytes, err = s.Int("session.max_bytes", 0); err != nil {
		return c, err
	}

	for _, k := range storeKeys(s, "session.") {
		if !storeReads(c.Type, k) {
			warn("session."+k, "setting ignored for session.type = "+c.Type)
		}
	}
	for _, k := range []string{"session.max_entries", "session.max_bytes"} {
		if c.Type != "memory" && s.Has(k) {
			warn(k, "setting ignored: "+k+" bounds the memory store only")
		}
	}
	warnRelativePaths(s, "session.", c.Type, func(_ *settings.Settings, key, msg string) { warn(key, msg) })
	warnOtherURL(s, "session.", c.Type, nil, func(_ *settings.Settings, key, msg string) { warn(key, msg) })
	if err := checkMemcachedLogin(s, "session.", c.Type, func(_ *settings.Settings, key, msg string) { warn(key, msg) }); err != nil {
		return c, err
	}
	c.Store = storeConfig(s, "session", "session.", c.Type, o.StoreTimeout)
	return c, nil
}

// storeKeys returns the store settings that r sets in the section prefix,
// without the prefix: url, urls, data_dir, lock_dir, table_name and the
// backend options (file.*, sql.*, redis.*, memcached.*).
func storeKeys(r *settings.Settings, prefix string) []string {
	var out []string
	for _, k := range r.Keys() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		switch rest {
		case "url", "urls", "data_dir", "lock_dir", "table_name":
			out = append(out, rest)
			continue
		}
		for _, p := range []string{"file.", "sql.", "redis.", "memcached."} {
			if strings.HasPrefix(rest, p) {
				out = append(out, rest)
				break
			}
		}
	}
	return out
}

// storeReads reports whether the store of type typ reads the store
// setting key (as storeKeys returns it).
func storeReads(typ, key string) bool {
	switch typ {
	case "file":
		return key == "data_dir" || key == "lock_dir" || strings.HasPrefix(key, "file.")
	case "ext:database", "sqlite", "postgresql":
		return key == "url" || key == "urls" || key == "table_name" || strings.HasPrefix(key, "sql.")
	case "ext:redis", "ext:rediscluster":
		return key == "url" || key == "urls" || strings.HasPrefix(key, "redis.")
	case "ext:memcached":
		return key == "url" || key == "urls" || strings.HasPrefix(key, "memcached.")
	}
	return false // memory, cookie
}

// urlKeys are the keys that give a store of type typ its address, the
// one the type reads first: Beaker's ext:rediscluster reads urls (Beaker
// 1.13's key), every other type url. The other is read when the first is
// not set.
func urlKeys(typ string) [2]string {
	if typ == "ext:rediscluster" {
		return [2]string{"urls", "url"}
	}
	return [2]string{"url", "urls"}
}

// warnOtherURL warns, when url and urls are both set in r (the settings of
// the section prefix; a region's view for "cache."), that the one the type
// does not read is ignored, as Beaker ignores it: a global cache.url beside
// a cluster region's cache.<region>.urls is a working Beaker file. For a
// region, own tells whether a key is the region's own: a global one may
// serve other regions, and is not warned about.
func warnOtherURL(r *settings.Settings, prefix, typ string, own func(key string) bool, warnAt func(r *settings.Settings, key, msg string)) {
	keys := urlKeys(typ)
	if !r.Has(prefix+keys[0]) || !r.Has(prefix+keys[1]) || own != nil && !own(keys[1]) {
		return
	}
	warnAt(r, prefix+keys[1], fmt.Sprintf("setting ignored: type %s reads its address from %s", typ, r.Written(prefix+keys[0])))
}

// checkMemcachedLogin refuses pylibmc's username and password (a SASL
// login, which Beaker's ext:memcached passes to the client) for a
// memcached store, which speaks the text protocol and has none; for any
// other type Beaker ignores them, and they are warned about.
func checkMemcachedLogin(r *settings.Settings, prefix, typ string, warnAt func(r *settings.Settings, key, msg string)) error {
	for _, k := range []string{prefix + "username", prefix + "password"} {
		if !r.Has(k) {
			continue
		}
		if typ == "ext:memcached" {
			return settingError(r, k, "a memcached login (SASL, pylibmc's username and password) is not supported: "+
				"the memcached store speaks the text protocol, which has none; remove the line and reach the servers without a login", settings.ErrBadValue)
		}
		warnAt(r, k, "setting ignored: Beaker passes it to a memcached client only")
	}
	return nil
}

// warnRelativePaths warns about a relative path written in an INI file
// for a store of type typ: a file store's data_dir or lock_dir, a SQLite
// url's file. Each is relative to the working directory of the process, as
// in Beaker (and SQLAlchemy, for the url), not to the file's folder, so a
// process started elsewhere (beaker sessions purge, another service) would
// use another folder and see no sessions.
func warnRelativePaths(r *settings.Settings, prefix, typ string, warnAt func(r *settings.Settings, key, msg string)) {
	switch typ {
	case "file":
		for _, k := range []string{prefix + "data_dir", prefix + "lock_dir"} {
			v := strings.TrimSpace(r.String(k, ""))
			if v == "" || filepath.IsAbs(v) || r.Dir(k) == "" {
				continue
			}
			warnAt(r, k, fmt.Sprintf("%q is relative to the working directory of each process (as in Beaker), not to the folder of this file: "+
				"a process started elsewhere, such as beaker sessions, uses another folder; write %%(here)s/%s", v, v))
		}
	case "ext:database", "sqlite":
		k := prefix + "url"
		scheme, p := relativeSQLitePath(strings.TrimSpace(r.String(k, "")))
		if p == "" || r.Dir(k) == "" {
			return
		}
		warnAt(r, k, fmt.Sprintf("%q is relative to the working directory of each process (as SQLAlchemy takes it in Beaker), not to the folder of this file: "+
			"a process started elsewhere, such as beaker sessions, opens another database; write %s:///%%(here)s/%s", p, scheme, p))
	}
}

// relativeSQLitePath returns the scheme and the relative file path of a
// SQLite url of SQLAlchemy's form (sqlite:///data/x.db: three slashes, the
// path after them not absolute), or "" for any other url.
func relativeSQLitePath(u string) (scheme, path string) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || scheme != "sqlite" && !strings.HasPrefix(scheme, "sqlite+") {
		return "", ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	p, ok := strings.CutPrefix(rest, "/")
	if !ok || p == "" || p == ":memory:" || strings.HasPrefix(p, "/") || filepath.IsAbs(p) {
		return "", ""
	}
	return scheme, p
}

// resolveCookieExpires reads session.cookie_expires: a boolean (true: a
// browser-session cookie; false: a persistent one), a whole number of
// seconds from when the cookie is set, or a date, the instant it expires
// (Beaker's datetime). A date that has passed is refused: browsers would
// drop every session cookie at once.
func resolveCookieExpires(s *settings.Settings, c *SessionConfig, now time.Time) error {
	if !s.Has("session.cookie_expires") {
		return nil
	}
	o := &c.Options
	if on, err := s.Bool("session.cookie_expires", true); err == nil {
		o.PersistentCookie = !on
		return nil
	}
	if d, err := s.Seconds("session.cookie_expires", 0); err == nil {
		o.CookieExpires = d
		return nil
	}
	at, _, err := s.Date("session.cookie_expires")
	if err != nil {
		v, _ := s.Lookup("session.cookie_expires")
		return settingError(s, "session.cookie_expires", fmt.Sprintf("%q is not a boolean, a whole number of seconds, or a date (%s)", v, settings.DateForms), settings.ErrBadValue)
	}
	if !at.After(now) {
		return settingError(s, "session.cookie_expires", fmt.Sprintf("%s has passed: browsers would drop every session cookie at once", at.UTC().Format(time.RFC3339)), settings.ErrBadValue)
	}
	c.CookieExpiresAt = at
	o.CookieExpiresAt = at
	return nil
}

// checkCookieName checks session.key against RFC 6265 (a cookie name is a
// token: ASCII letters, digits and !#$%&'*+-.^_`|~) and the cookie name
// prefixes: a __Secure- cookie must be Secure, a __Host- cookie Secure,
// with Path=/ and no Domain. Browsers refuse a cookie that breaks the
// rules, and Go's net/http would write an empty Set-Cookie for an invalid
// name: sessions would silently never persist.
func checkCookieName(s *settings.Settings, o *session.Options) error {
	name := o.CookieName
	if name == "" {
		return settingError(s, "session.key", "empty: the session cookie needs a name (leave the line out for Beaker's beaker.session.id)", settings.ErrBadValue)
	}
	for _, r := range name {
		if !isTokenRune(r) {
			what := fmt.Sprintf("%q", r)
			switch {
			case r == ' ':
				what = "a space"
			case r > 0x7e:
				what = fmt.Sprintf("%q, which is not ASCII", r)
			case r < 0x20 || r == 0x7f:
				what = fmt.Sprintf("the control character %U", r)
			}
			return settingError(s, "session.key", fmt.Sprintf("%q is not a cookie name: it holds %s; a cookie name (RFC 6265 token) is ASCII letters, digits and !#$%%&'*+-.^_`|~", name, what), settings.ErrBadValue)
		}
	}
	host := hasPrefixFold(name, "__Host-")
	if !host && !hasPrefixFold(name, "__Secure-") {
		return nil
	}
	var missing []string
	switch o.Secure {
	case session.SecureAlways:
	case session.SecureNever:
		missing = append(missing, "Secure (session.secure is false; set it to true)")
	default:
		missing = append(missing, "Secure (session.secure is auto, the default, which leaves Secure out of cookies set over plain HTTP, where browsers then refuse the cookie; set session.secure = true)")
	}
	if host {
		if o.CookiePath != "/" {
			missing = append(missing, fmt.Sprintf("Path=/ (session.cookie_path is %q)", o.CookiePath))
		}
		if o.CookieDomain != "" {
			missing = append(missing, fmt.Sprintf("no Domain (session.cookie_domain is %q; leave it out)", o.CookieDomain))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	prefix := name[:strings.IndexByte(name[1:], '-')+2]
	return settingError(s, "session.key", fmt.Sprintf("browsers accept a %s cookie only with the attributes its prefix requires; missing: %s", prefix, strings.Join(missing, "; ")), settings.ErrBadValue)
}

// checkCookiePath checks session.cookie_path as the session cookie will
// carry it: browsers ignore a Path that does not start with '/' (the
// cookie then gets the request's folder), and net/http drops ';', control
// characters and non-ASCII bytes from it, so "/a;b" would be sent as
// "/ab".
func checkCookiePath(s *settings.Settings, path string) error {
	if !strings.HasPrefix(path, "/") {
		return settingError(s, "session.cookie_path", fmt.Sprintf("%q does not start with '/': browsers ignore such a Path and scope the cookie to the folder of each request", path), settings.ErrBadValue)
	}
	var kept strings.Builder
	bad := ""
	for i := 0; i < len(path); i++ {
		b := path[i]
		if b >= 0x20 && b < 0x7f && b != ';' {
			kept.WriteByte(b)
			continue
		}
		if bad == "" {
			switch {
			case b == ';':
				bad = "';'"
			case b >= 0x80:
				bad = "a byte that is not ASCII"
			default:
				bad = fmt.Sprintf("the control character %U", rune(b))
			}
		}
	}
	if bad != "" {
		return settingError(s, "session.cookie_path", fmt.Sprintf("%q holds %s, which a cookie's Path cannot carry: it would be sent as Path=%s", path, bad, kept.String()), settings.ErrBadValue)
	}
	return nil
}

// checkCookieDomain checks session.cookie_domain by the rule net/http
// applies when it writes the cookie (a host name such as example.com or
// .example.com, or an IPv4 address): for anything else net/http logs to
// the default logger and leaves Domain out, and the cookie silently
// becomes host-only.
func checkCookieDomain(s *settings.Settings, domain string) error {
	if domain == "" {
		return nil
	}
	if err := (&http.Cookie{Name: "n", Domain: domain}).Valid(); err != nil {
		return settingError(s, "session.cookie_domain", fmt.Sprintf("%q is not a cookie domain (a host name such as example.com or .example.com, in ASCII, or an IPv4 address): "+
			"Go's net/http would send the cookie without Domain, for this host only (leave the line out for that)", domain), settings.ErrBadValue)
	}
	return nil
}

// isTokenRune reports whether r may appear in a cookie name (an RFC 7230
// token character).
func isTokenRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return r < 0x7f && strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case
// (browsers match cookie prefixes case-insensitively).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// resolveRegions builds the regions of cache.regions, each from the global
// cache.<key> values overridden by cache.<region>.<key>.
func resolveRegions(s *settings.Settings, timeout time.Duration, warnAt func(r *settings.Settings, key, msg string)) ([]RegionConfig, error) {
	var out []RegionConfig
	seen := map[string]bool{}
	// The global store settings (cache.url...): read by a region, or why
	// not, by region.
	globalRead := map[string]bool{}
	globalWhyNot := map[string][]string{}
	globals := s.Region("") // the global cache.* keys: no region is named ""
	globalKeys := storeKeys(globals, "cache.")
	for _, name := range s.Regions() {
		if seen[name] {
			return nil, settingError(s, "cache.regions", fmt.Sprintf("region %q is listed twice", name), settings.ErrDuplicate)
		}
		seen[name] = true
		r := s.Region(name)
		rc := RegionConfig{Options: cache.RegionOptions{Name: name}}
		ro := &rc.Options
		var err error
		if ro.Expire, err = r.Seconds("cache.expire", DefaultCacheExpire); err != nil {
			return nil, err
		}
		enabled, err := r.Bool("cache.enabled", true)
		if err != nil {
			return nil, err
		}
		ro.Disabled = !enabled
		if ro.KeyLength, err = r.Int("cache.key_length", cache.DefaultKeyLength); err != nil {
			return nil, err
		}
		if ro.MaxEntries, err = r.Int("cache.max_entries", 0); err != nil {
			return nil, err
		}
		if ro.RoundTrip, err = r.Bool("cache.round_trip", false); err != nil {
			return nil, err
		}
		if p, ok := r.Lookup("cache.key_prefix"); ok {
			ro.Prefix = p + name + ":"
		}
		// The key that set the region's type, for error positions.
		typeKey := "cache." + name + ".type"
		if !s.Has(typeKey) {
			typeKey = "cache.type"
		}
		rc.Type = canonicalType(r.String("cache.type", "memory"))
		switch rc.Type {
		case "memory", "file", "ext:database", "ext:memcached", "ext:redis", "ext:rediscluster", "sqlite", "postgresql":
		default:
			return nil, settingError(s, typeKey, fmt.Sprintf("region %s: %q is not a cache type; use memory, file, ext:database, ext:redis or ext:memcached", name, rc.Type), settings.ErrBadValue)
		}
		warnRelativePaths(r, "cache.", rc.Type, warnAt)
		warnOtherURL(r, "cache.", rc.Type, func(k string) bool { return s.Has("cache." + name + "." + k) }, warnAt)
		if err := checkMemcachedLogin(r, "cache.", rc.Type, warnAt); err != nil {
			return nil, err
		}
		for _, k := range storeKeys(r, "cache.") {
			own := s.Has("cache." + name + "." + k)
			switch {
			case !storeReads(rc.Type, k) && own:
				warnAt(r, "cache."+k, fmt.Sprintf("setting ignored for cache region %s (type %s)", name, rc.Type))
			case !own && storeReads(rc.Type, k):
				globalRead[k] = true
			case !own:
				globalWhyNot[k] = append(globalWhyNot[k], name+": type "+rc.Type)
			}
		}
		for _, k := range globalKeys {
			if s.Has("cache." + name + "." + k) {
				globalWhyNot[k] = append(globalWhyNot[k], name+": its own cache."+name+"."+k)
			}
		}
		rc.Store = storeConfig(r, "cache", "cache.", rc.Type, timeout)
		out = append(out, rc)
	}
	if i, j, ok := overlappingRegions(out); ok {
		// cache.New refuses them too, but here the error has its line.
		p, q := regionPrefix(out[i].Options), regionPrefix(out[j].Options)
		return nil, settingError(s, "cache.regions", fmt.Sprintf("regions %q and %q would share store keys: their key prefixes %q and %q overlap, "+
			"so a key of one can be a key of the other; rename one (without ':') or give one a cache.<region>.key_prefix", out[i].Options.Name, out[j].Options.Name, p, q), settings.ErrBadValue)
	}
	if len(out) > 0 {
		for _, k := range globalKeys {
			if !globalRead[k] {
				why := globalWhyNot[k]
				if len(why) > 5 {
					why = append(why[:5], "…")
				}
				warnAt(globals, "cache."+k, "setting ignored: no cache region uses it ("+strings.Join(why, "; ")+")")
			}
		}
	}
	return out, nil
}

// placeholder reports whether a secret reads like the placeholder of an
// example file ("change me", "replace-this", "your secret here") rather
// than a secret: one to three of its words (runs of letters and digits,
// case folded) that spell a placeholder together, so that a word that
// only starts like one ("replacement") does not count.
func placeholder(v string) bool {
	words := strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i := range words {
		w := ""
		for j := i; j < len(words) && j < i+3; j++ {
			w += words[j]
			switch w {
			case "changeme", "changethis", "replaceme", "replacethis", "yoursecret", "secrethere", "placeholder":
				return true
			}
		}
	}
	return false
}

// overlappingRegions finds two regions with stores whose key prefixes
// overlap (regionPrefix: "a" and "a:b" by default), i < j, in O(n log n):
// sorted, a prefix comes right before the strings it starts. Regions on
// different backends count too, as in cache.New: where each lives may
// change.
func overlappingRegions(out []RegionConfig) (i, j int, ok bool) {
	var idx []int
	prefixes := make([]string, len(out))
	for k := range out {
		if out[k].Type != "memory" {
			idx = append(idx, k)
			prefixes[k] = regionPrefix(out[k].Options)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(prefixes[a], prefixes[b]) })
	for k := 1; k < len(idx); k++ {
		if a, b := idx[k-1], idx[k]; strings.HasPrefix(prefixes[b], prefixes[a]) {
			return min(a, b), max(a, b), true
		}
	}
	return 0, 0, false
}

// regionPrefix is the key prefix of a region's store keys, as cache.New
// sets it.
func regionPrefix(o cache.RegionOptions) string {
	if o.Prefix != "" {
		return o.Prefix
	}
	return "cache:" + o.Name + ":"
}
