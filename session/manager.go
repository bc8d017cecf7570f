package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// SecureMode says when the session cookie gets the Secure attribute.
type SecureMode int

const (
	// SecureAuto sets Secure when the request came over TLS. It is the
	// default (INI: session.secure = auto).
	SecureAuto SecureMode = iota
	// SecureAlways always sets Secure (INI: session.secure = true).
	SecureAlways
	// SecureNever never sets Secure (INI: session.secure = false).
	SecureNever
)

// Default values of Options fields.
const (
	DefaultCookieName   = "beaker.session.id"
	DefaultLifetime     = 14 * 24 * time.Hour
	DefaultStoreTimeout = 2 * time.Second
	DefaultKeyPrefix    = "session:"
	// DefaultMaxSize is the default largest record, in bytes (256 KiB).
	// A session holds what identifies a user and a few small values; a
	// session of megabytes is a bug or an attack, and every request that
	// saves it pays for it.
	DefaultMaxSize = 256 << 10
	// MinSecretLen is the shortest secret New accepts, in bytes.
	MinSecretLen = 16
)

// Options configures a Manager. Only Store and Secrets are required; every
// other field's zero value gives the documented default.
type Options struct {
	// Store holds the sessions. It must implement store.Updater, so that
	// concurrent requests on one session never lose each other's writes;
	// store.Toucher is used, when present, to extend idle timeouts without
	// rewriting data. From an INI file, beaker.Open opens the store that
	// session.type names (with session.url, session.data_dir, ...). No
	// default: New fails without one.
	Store store.Store

	// Secrets sign the session-id cookie with HMAC-SHA256 (INI:
	// session.secret, one value, spaces and all, as Beaker reads it, then
	// the older ones of session.secret_fallbacks). The first signs; all
	// verify, so a new secret can be put first while cookies signed with
	// the old one stay valid (and are re-signed with the new one). Each
	// must be at least MinSecretLen bytes.
	Secrets []string

	// CookieName is the name of the session cookie (INI: session.key). The
	// default is "beaker.session.id", Beaker's.
	CookieName string

	// CookiePath is the cookie's Path (INI: session.cookie_path). The
	// default is "/".
	CookiePath string

	// CookieDomain is the cookie's Domain (INI: session.cookie_domain). The
	// default is none: a host-only cookie.
	CookieDomain string

	// Secure says when the cookie is marked Secure (INI: session.secure).
	// The default is SecureAuto.
	Secure SecureMode

	// NoHTTPOnly leaves out the HttpOnly attribute, letting scripts read
	// the cookie (INI: session.httponly = false). The default is HttpOnly.
	NoHTTPOnly bool

	// SameSite is the cookie's SameSite attribute (INI: session.samesite).
	// The default is http.SameSiteLaxMode.
	SameSite http.SameSite

	// CookieExpires, when positive, makes the cookie persistent for that
	// long from when it is set (INI: session.cookie_expires = <seconds>).
	// The default is a browser-session cookie (Beaker's cookie_expires =
	// true).
	CookieExpires time.Duration

	// PersistentCookie makes the cookie last until the session's lifetime
	// ends (INI: session.cookie_expires = false). Ignored when
	// CookieExpires or CookieExpiresAt is set. The default, false, is a
	// browser-session cookie.
	PersistentCookie bool

	// CookieExpiresAt, when not zero, makes every session cookie expire at
	// that instant (INI: session.cookie_expires = <date>, Beaker's
	// datetime). It takes precedence over CookieExpires and
	// PersistentCookie. The default is the zero time.
	CookieExpiresAt time.Time

	// Auto saves, at the end of each request, the values the request read
	// whose content the handler changed in place, without a call to
	// Changed (INI: session.auto = true, Beaker's auto). Each value read
	// is encoded again at commit and compared with its stored JSON; only
	// the changed ones are written, as a delta. The default is false:
	// call Changed after changing a value in place.
	Auto bool

	// Timeout is the idle timeout: a session not used for this long is
	// gone (INI: session.timeout, seconds). The default, 0, means no idle
	// timeout.
	Timeout time.Duration

	// NoTouch stops read-only requests from extending the idle timeout, so
	// that it counts from the last change (INI: session.save_accessed_time
	// = false). The default extends it with store.Toucher.
	NoTouch bool

	// Lifetime is the absolute lifetime of a session, counted from its
	// creation, whatever its use (INI: session.lifetime, seconds). The
	// default is 14 days.
	Lifetime time.Duration

	// StoreTimeout bounds each store operation, so that an outage gives a
	// prompt error instead of a hung request (INI: session.store_timeout,
	// seconds). The default is 2 seconds.
	StoreTimeout time.Duration

	// KeyPrefix is prepended to store keys (INI: session.key_prefix). The
	// default is "session:".
	KeyPrefix string

	// MaxSize is the largest encoded session record, in bytes (INI:
	// session.max_size). A save over it fails with a *TooLargeError (500
	// by default, the size in the log) and the stored record stays as it
	// was. The default is DefaultMaxSize (256 KiB); a negative value means
	// no limit.
	MaxSize int

	// ErrorHandler answers a request whose session could not be loaded or
	// saved (no INI key). The default, DefaultErrorHandler, answers 503
	// Service Unavailable for a store failure, 409 Conflict for
	// ErrSessionMoved and 500 otherwise. The error
	// is logged before the handler runs. For ErrChangedAfterWrite the
	// response has already started, and the handler must not write.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives error records and debug records for rejected
	// cookies (no INI key). Session ids are never logged, only a short
	// hash. The default is slog.Default().
	Logger *slog.Logger

	// Now returns the current time (no INI key). The default is time.Now;
	// tests may inject a clock.
	Now func() time.Time
}

// Manager loads and saves sessions for HTTP requests. Create it with New;
// its Middleware gives each request a Session. A Manager is safe for
// concurrent use.
type Manager struct {
	opts    Options
	side    side        // where sessions live
	server  *serverSide // side, when it is server-side; nil otherwise
	local   bool        // the store is memstore: no per-operation timer
	log     *slog.Logger
	now     func() time.Time
	onError func(http.ResponseWriter, *http.Request, error)
}

// ErrNoSecret is returned by New when no secret is configured.
var ErrNoSecret = errors.New("session: no secret configured (session.secret); make one with: beaker gen-secret")

// ErrSecretTooShort is returned by New for a secret under MinSecretLen bytes.
var ErrSecretTooShort = fmt.Errorf("session: secret shorter than %d bytes; make one with: beaker gen-secret", MinSecretLen)

// ErrInvalidOptions is matched (errors.Is) by every *OptionError.
var ErrInvalidOptions = errors.New("session: invalid options")

// OptionError reports an option that New or NewCookie cannot use.
type OptionError struct {
	Key string // the option's INI key, such as "session.timeout"
	Msg string // what is wrong with it
}

// Error gives what is wrong.
func (e *OptionError) Error() string { return "session: " + e.Msg }

// Is makes errors.Is(err, ErrInvalidOptions) true.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOptions }

// ErrNotUpdater is returned by New for a store without atomic updates.
var ErrNotUpdater = errors.New("session: store does not implement store.Updater")

// ErrChangedAfterWrite reports a session change made after the response
// had started, that could not be saved because it needed a new cookie (a
// new session, or RegenerateID). Changes to an existing session are saved
// even then.
var ErrChangedAfterWrite = errors.New("session: changed after the response started; the change needs a new cookie and was not saved")

// ErrSessionMoved reports a change to a session that another request
// moved to a new id (RegenerateID, at login) after this request loaded it.
// The change was not saved, and the response sets no cookie: the moved
// session is reached only through the new id. DefaultErrorHandler answers
// 409 Conflict.
var ErrSessionMoved = errors.New("session: moved to a new id by a concurrent request (a login); this request's changes were not saved")

// ErrCommitFailed is returned by the response writer's Hijack when the
// session could not be saved: the error handler has answered the request,
// and the connection is not handed over.
var ErrCommitFailed = errors.New("session: the session could not be saved; the error handler answered the request")

// ErrTooLarge is matched (errors.Is) by every *TooLargeError.
var ErrTooLarge = errors.New("session: record too large")

// TooLargeError reports a save whose encoded record is over
// Options.MaxSize. Nothing was written: the stored record is as it was.
type TooLargeError struct {
	Size int // the encoded record, in bytes
	Max  int // Options.MaxSize
}

// Error gives the size and the limit.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("session: record of %d bytes is over the limit of %d bytes (session.max_size); not saved", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// StoreError is a failure of the session store (server down, time-out).
type StoreError struct {
	Op  string // "load", "save", "touch" or "delete"
	Err error  // the store's error
}

// Error describes the failure with the operation that failed.
func (e *StoreError) Error() string { return "session: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// EncodeError reports a value given to Session.Set that cannot be encoded
// as JSON.
type EncodeError struct {
	Key string // the key given to Set
	Err error  // encoding/json's error
}

// ErrKeyNotUTF8 is the Err of the *EncodeError of a Set, or of a flash
// message, whose key or queue name is not valid UTF-8: a record is JSON,
// whose keys are text, and the bytes that are not would come back as
// U+FFFD, another key (two such keys, one).
var ErrKeyNotUTF8 = errors.New("session: key is not valid UTF-8")

// Error names the key whose value could not be encoded.
func (e *EncodeError) Error() string {
	return fmt.Sprintf("session: value for key %q cannot be stored as JSON: %v", e.Key, e.Err)
}

// Unwrap returns the encoder's error.
func (e *EncodeError) Unwrap() error { return e.Err }

// New returns a Manager that keeps sessions in opts.Store, in the native
// format (see the package documentation).
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, &OptionError{Key: "session.type", Msg: "Options.Store is nil"}
	}
	u, ok := opts.Store.(store.Updater)
	if !ok {
		return nil, ErrNotUpdater
	}
	if len(opts.Secrets) == 0 {
		return nil, ErrNoSecret
	}
	for _, s := range opts.Secrets {
		if len(s) < MinSecretLen {
			return nil, ErrSecretTooShort
		}
	}
	opts = opts.WithDefaults()
	m, err := newManager(opts)
	if err != nil {
		return nil, err
	}
	sv := &serverSide{
		m:        m,
		store:    opts.Store,
		updater:  u,
		f:        &nativeFormat{signer: newSigner(opts.Secrets, cookieBinding(m.opts.CookieName)), prefix: opts.KeyPrefix},
		maxSize:  m.opts.MaxSize,
		markTTL:  markerTTL(m.opts.StoreTimeout),
		verified: newVerifiedCache(),
	}
	sv.toucher, _ = opts.Store.(store.Toucher)
	sv.shared, _ = opts.Store.(store.SharedGetter)
	if sv.shared != nil {
		// The store keeps the bytes a save gives it unchanged and hands
		// them back as they are: a load of what this process saved can
		// skip decoding it. (Saves point a remembered record's values at
		// the native format's bytes, encodeRecordAt: a format of another
		// layout must not turn this on.)
		sv.remember = true
	}
	m.side, m.server = sv, sv
	// Skipping the per-call timer is safe only for memstore itself, whose
	// calls never wait on I/O: a type that wraps or embeds it may stall.
	_, m.local = opts.Store.(*memstore.Store)
	return m, nil
}

// WithDefaults returns o with the documented default of every field left
// at its zero value: what New and NewCookie use. beaker.Resolve applies it
// too, so that beaker check-config shows what the manager will do.
func (o Options) WithDefaults() Options {
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if o.CookiePath == "" {
		o.CookiePath = "/"
	}
	if o.SameSite == 0 {
		o.SameSite = http.SameSiteLaxMode
	}
	if o.Lifetime <= 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	return o
}

// cookieBinding is what the id cookie's MAC binds besides the id: nothing
// for Beaker's default name (its cookies are the MAC of the id alone), the
// name and a NUL for any other, so that two managers sharing a store and
// a secret cannot open each other's sessions with a moved cookie value.
func cookieBinding(name string) string {
	if name == DefaultCookieName {
		return ""
	}
	return name + "\x00"
}

// newManager applies the defaults of opts that do not depend on where
// sessions live; the caller sets m.side.
func newManager(opts Options) (*Manager, error) {
	opts = opts.WithDefaults()
	if opts.Timeout < 0 {
		return nil, &OptionError{Key: "session.timeout", Msg: "negative Timeout"}
	}
	m := &Manager{opts: opts, log: opts.Logger, now: opts.Now, onError: opts.ErrorHandler}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.onError == nil {
		m.onError = DefaultErrorHandler
	}
	return m, nil
}

// DefaultErrorHandler answers 503 Service Unavailable when the session
// store failed, 409 Conflict for ErrSessionMoved, and 500 Internal Server
// Error otherwise (ErrTooLarge, *EncodeError). For ErrChangedAfterWrite it
// writes nothing: the response has started.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrChangedAfterWrite) {
		return
	}
	status := http.StatusInternalServerError
	var se *StoreError
	switch {
	case errors.As(err, &se):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	case errors.Is(err, ErrSessionMoved):
		status = http.StatusConflict
	}
	http.Error(w, http.StatusText(status), status)
}

// ctxKey is the context key of the innermost session. Each Session links
// to the one of the Manager whose middleware encloses its own (outer), so
// that several managers (two cookie names, such as an admin area) nest on
// one request at the cost of one context value each.
type ctxKey struct{}

// sessionCtx is the request's context with its session added, as
// context.WithValue(parent, ctxKey{}, s) would make it. It lives inside the
// responseWriter, which saves an allocation per request.
type sessionCtx struct {
	context.Context
	s *Session
}

// Value returns the session for ctxKey and asks the parent for any other
// key.
func (c *sessionCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c.s
	}
	return c.Context.Value(key)
}

// FromContext returns the session that the innermost Manager.Middleware
// put in ctx. It panics when there is none: the handler was not wrapped by
// the middleware, which is a programming error.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	if s == nil {
		panic("session: no session in context; wrap the handler with Manager.Middleware")
	}
	return s
}

// FromRequest returns the request's session from the innermost manager's
// middleware; see FromContext. With nested managers, use the manager's own
// Manager.FromRequest to reach its session.
func FromRequest(r *http.Request) *Session { return FromContext(r.Context()) }

// FromContext returns this manager's session in ctx, even when other
// managers' middleware is nested inside its own. It panics when ctx holds
// none of this manager's sessions.
func (m *Manager) FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	for ; s != nil; s = s.outer {
		if s.m == m {
			return s
		}
	}
	panic("session: no session of this Manager in context; wrap the handler with its Middleware")
}

// FromRequest returns this manager's session of r; see
// Manager.FromContext.
func (m *Manager) FromRequest(r *http.Request) *Session { return m.FromContext(r.Context()) }

// Middleware gives each request a Session, reached with FromRequest. The
// session is loaded on first use (a request that never uses it costs no
// store access) and saved when the response starts: on the first
// WriteHeader, Write or Flush, or when next returns. If next panics,
// nothing more is saved and the panic goes on.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &responseWriter{ResponseWriter: w}
		if h := w.Header(); len(h) > 0 {
			rw.outerHeader = h.Clone()
		}
		s := &rw.session
		s.m = m
		s.outer, _ = r.Context().Value(ctxKey{}).(*Session)
		rw.m = m
		rw.ctx = sessionCtx{Context: r.Context(), s: s}
		r = r.WithContext(&rw.ctx)
		s.req = r
		rw.req = r
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

// storeCtx bounds a store call of its own (cleaning up after a commit)
// by the store timeout.
func (m *Manager) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.local {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.opts.StoreTimeout)
}

// commitCtx is the context of a load or a commit: not cancelled when the
// client goes away (a logout whose client disconnects still ends the
// session), and bounded as a whole by one store timeout, however many
// store calls the commit makes.
func (m *Manager) commitCtx(d *detached) (context.Context, context.CancelFunc) {
	var ctx context.Context = d
	if m.local {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.opts.StoreTimeout)
}

// detached is a request's context without its cancellation, as
// context.WithoutCancel makes it; kept inside Session, so that a commit
// costs no allocation for it.
type detached struct{ parent context.Context }

func (d *detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *detached) Done() <-chan struct{}       { return nil }
func (d *detached) Err() error                  { return nil }
func (d *detached) Value(key any) any           { return d.parent.Value(key) }
func (d *detached) String() string              { return "session commit context" }

// fail logs err and hands it to the error handler.
// A failure because the client went away (the request's context was
// cancelled) is logged at debug level and answered by nobody: nothing is
// wrong with the store, and there is no one to answer.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, id string, err error) {
	level, msg := slog.LevelError, "session error"
	clientGone := errors.Is(err, context.Canceled) && r.Context().Err() != nil
	if clientGone {
		level, msg = slog.LevelDebug, "session not saved: the client went away"
	}
	m.log.LogAttrs(context.WithoutCancel(r.Context()), level, msg,
		slog.String("session", logID(id)), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Any("error", err))
	if !clientGone {
		m.onError(w, r, err)
	}
}
