package session

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// MaxCookieSize is the largest Set-Cookie line (name, value and
// attributes), in bytes, that a client-side session sends: browsers drop a
// larger cookie without a word.
const MaxCookieSize = 4096

// ErrCookieTooLarge is matched (errors.Is) by every *CookieTooLargeError.
var ErrCookieTooLarge = errors.New("session: cookie too large")

// CookieTooLargeError reports a save of a client-side session whose cookie
// would be over MaxCookieSize. Nothing was sent: the browser keeps the
// cookie it had, and the session as it was before the request.
// DefaultErrorHandler answers 500.
type CookieTooLargeError struct {
	Size int // the Set-Cookie line, in bytes
	Max  int // MaxCookieSize
}

// Error gives the size, the limit and the way out.
func (e *CookieTooLargeError) Error() string {
	return fmt.Sprintf("session: cookie of %d bytes is over browsers' limit of %d bytes; not saved "+
		"(keep less in the session, or use a server-side session.type)", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrCookieTooLarge) true.
func (e *CookieTooLargeError) Is(target error) bool { return target == ErrCookieTooLarge }

// CookieOptions configures a Manager whose sessions live in the cookie
// (INI: session.type = cookie). Options.Store is not used; Options.MaxSize
// still bounds the record, under the cookie's own limit.
//
// The keys come from EncryptKey (with EncryptKeyFallbacks and
// ValidateKey) when it is set, else from ValidateKey alone, else from
// Options.Secrets (INI: session.secret, then session.secret_fallbacks: the
// first seals, all open). Changing which of these are set changes the
// keys: every cookie then starts a new session.
type CookieOptions struct {
	// Options are the server-side Manager's options, with the same INI
	// keys and defaults; Store and StoreTimeout are not used (the cookie
	// holds the session).
	Options

	// EncryptKey, when set, is the key material for sealing cookies
	// (INI: session.encrypt_key), any non-empty string, as in Beaker. The
	// default is empty: ValidateKey, or else Options.Secrets, is used.
	EncryptKey string

	// EncryptKeyFallbacks are older encrypt keys: cookies sealed under
	// them still open, and are sealed again under EncryptKey on the
	// response (INI: session.encrypt_key_fallbacks, whitespace-separated).
	// They need EncryptKey. The default is none.
	EncryptKeyFallbacks []string

	// ValidateKey is Beaker's session.validate_key, any non-empty string.
	// With EncryptKey it is mixed into every key (as the HKDF salt), so
	// that both must be known to forge a cookie; alone, it is the key
	// material (Beaker requires it for cookie sessions; here it is
	// optional). The default is empty.
	ValidateKey string
}

// NewCookie returns a Manager that keeps each session in the cookie
// itself, sealed: Beaker's session.type = cookie. The session API is the
// same as with New (values, flash queues, the CSRF token, Invalidate,
// RegenerateID, Changed, the idle timeout and the lifetime); the operator
// methods (Scan, Lookup, Remove, Purge) return ErrClientSide.
//
// The cookie is encrypted and authenticated with XChaCha20-Poly1305 (its
// random 192-bit nonces stay safe however many cookies a key seals), under
// keys derived with HKDF-SHA256 from the configured key material. The
// cookie name is authenticated with it, so a value cannot be moved to
// another cookie; the record's creation time, the time it was sealed and
// its expiry are inside, so a replayed cookie is refused once past the
// lifetime or the idle timeout, including a lifetime or timeout shortened
// in the configuration since it was sealed. The record is the JSON of
// server-side sessions, never compressed. A cookie that does not open
// (altered, forged, sealed under a key no longer configured, expired)
// gives a new empty session, logged at debug level, never an error page.
// A cookie opened with a fallback key is sealed again under the current
// key on that response.
//
// A request that changes nothing sends no Set-Cookie, except to extend the
// idle timeout, at most once per tenth of it (not at all with
// Options.NoTouch). Invalidate clears the cookie. RegenerateID makes a new
// CSRF token and seals the session into a new cookie (a fresh nonce): the
// cookie carries no id to change, and session fixation does not arise,
// since a cookie planted before login holds only what it held then.
// Every change is a new cookie, so a change made after the response
// started is never saved: it fails with ErrChangedAfterWrite.
//
// The limits of keeping the session in the cookie are described in the
// package documentation: the size (MaxCookieSize), concurrent requests
// that cannot merge, and no server-side revocation.
func NewCookie(opts CookieOptions) (*Manager, error) {
	material, err := cookieKeyMaterial(&opts)
	if err != nil {
		return nil, err
	}
	m, err := newManager(opts.Options)
	if err != nil {
		return nil, err
	}
	sl, err := newSealer(material, m.opts.CookieName)
	if err != nil {
		return nil, err
	}
	cs := &clientSide{sealer: sl, maxSize: m.opts.MaxSize}
	cs.bufs.New = func() any { return new([]byte) }
	m.side = cs
	m.local = true // no I/O: no timer per request
	return m, nil
}

// cookieKeyMaterial picks the configured keys, the current one first.
func cookieKeyMaterial(o *CookieOptions) ([]keyMaterial, error) {
	var out []keyMaterial
	switch {
	case o.EncryptKey != "":
		var salt []byte
		if o.ValidateKey != "" {
			salt = []byte(o.ValidateKey)
		}
		for _, k := range append([]string{o.EncryptKey}, o.EncryptKeyFallbacks...) {
			if k == "" {
				return nil, &OptionError{Key: "session.encrypt_key_fallbacks", Msg: "empty key in session.encrypt_key_fallbacks"}
			}
			out = append(out, keyMaterial{secret: []byte(k), salt: salt})
		}
	case len(o.EncryptKeyFallbacks) > 0:
		return nil, &OptionError{Key: "session.encrypt_key_fallbacks", Msg: "session.encrypt_key_fallbacks is set without session.encrypt_key"}
	case o.ValidateKey != "":
		out = append(out, keyMaterial{secret: []byte(o.ValidateKey)})
	default:
		if len(o.Secrets) == 0 {
			return nil, ErrNoSecret
		}
		for _, s := range o.Secrets {
			if len(s) < MinSecretLen {
				return nil, ErrSecretTooShort
			}
			out = append(out, keyMaterial{secret: []byte(s)})
		}
	}
	return out, nil
}

// clientSide keeps the whole session in a sealed cookie.
type clientSide struct {
	sealer  *sealer
	maxSize int       // largest record JSON, in bytes; <= 0: no limit
	bufs    sync.Pool // *[]byte: buffers to seal in
}

// maxPooledBuffer is the largest seal buffer kept for reuse: more than any
// cookie that can be sent holds.
const maxPooledBuffer = 2 * MaxCookieSize

// clientState is what clientSide keeps per request, inside Session.
type clientState struct {
	expires int64 // unix ms: the loaded or last sealed cookie's expiry
	present bool  // the browser holds a cookie of this name (sent, or set on this response)
	stale   bool  // the cookie opened with a fallback key: seal it again
	clear   bool  // Invalidate: clear the cookie at commit
}

// cookieValues yields the values of the request's cookies named name.
func cookieValues(r *http.Request, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range r.Header["Cookie"] {
			for len(line) > 0 {
				var v string
				var ok bool
				if v, line, ok = nextCookie(line, name); ok && !yield(v) {
					return
				}
			}
		}
	}
}

// nextCookie reads the first "name=value" pair of a Cookie header line and
// returns the rest of the line. ok reports that the pair's name is name;
// value is then unquoted. Spaces and tabs around a pair are ignored.
func nextCookie(line, name string) (value, rest string, ok bool) {
	part := line
	if i := strings.IndexByte(line, ';'); i >= 0 {
		part, rest = line[:i], line[i+1:]
	}
	for len(part) > 0 && (part[0] == ' ' || part[0] == '\t') {
		part = part[1:]
	}
	if len(part) <= len(name) || part[len(name)] != '=' || part[:len(name)] != name {
		return "", rest, false
	}
	v := part[len(name)+1:]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v, rest, true
}

var errCookieExpired = errors.New("past its idle timeout or lifetime")

func (c *clientSide) load(ctx context.Context, s *Session, now time.Time) error {
	st := &s.cs
	o := &s.m.opts
	var rejected int
	var why error
	// A browser may hold several cookies of the name (one set under an
	// earlier cookie_domain or cookie_path, which it sends first): the
	// one sealed last holds the session as it is; on a tie, the one sent
	// last. At most maxSessionCookies are opened: each costs a decryption.
	var best sealed
	found := false
	tried := 0
	for v := range cookieValues(s.req, o.CookieName) {
		st.present = true
		if tried++; tried > maxSessionCookies {
			break
		}
		p, err := c.sealer.open(v)
		if err == nil && !c.live(o, &p, now) {
			err = errCookieExpired
		}
		if err != nil {
			rejected++
			why = err
			continue
		}
		if !found || p.issued >= best.issued {
			best, found = p, true
		}
	}
	if found {
		s.rec, s.isNew = best.rec, false
		st.expires, st.stale = best.expires, best.key > 0
		return nil
	}
	if rejected > 0 {
		s.m.log.LogAttrs(ctx, slog.LevelDebug, "session: rejected a session cookie; starting a new session",
			slog.Int("cookies", rejected), slog.String("reason", why.Error()))
	}
	s.fresh(now)
	return nil
}

// live reports whether an opened cookie is still valid at now: before its
// sealed expiry, and within the lifetime and idle timeout configured now.
func (c *clientSide) live(o *Options, p *sealed, now time.Time) bool {
	ms := now.UnixMilli()
	if ms >= p.expires || ms-p.rec.Created >= o.Lifetime.Milliseconds() {
		return false
	}
	return o.Timeout <= 0 || ms-p.issued < o.Timeout.Milliseconds()
}

// expiry is when a cookie sealed at now for a session created at created
// (unix ms) stops opening: the idle timeout, capped by the lifetime.
func expiry(o *Options, created int64, now time.Time) int64 {
	end := created + o.Lifetime.Milliseconds()
	if o.Timeout > 0 {
		end = min(end, now.UnixMilli()+o.Timeout.Milliseconds())
	}
	return end
}

func (c *clientSide) end(s *Session) {
	st := &s.cs
	if !s.loaded && !st.present {
		for range cookieValues(s.req, s.m.opts.CookieName) {
			st.present = true
			break
		}
	}
	st.clear = st.present
}

// refreshDue reports whether a request that changed nothing should seal
// the cookie again to extend the idle timeout: when that moves the expiry
// by at least a tenth of the timeout.
func (c *clientSide) refreshDue(s *Session, now time.Time) bool {
	o := &s.m.opts
	if o.Timeout <= 0 || o.NoTouch || s.isNew {
		return false
	}
	return expiry(o, s.rec.Created, now)-s.cs.expires >= (o.Timeout / 10).Milliseconds()
}

func (c *clientSide) save(ctx context.Context, s *Session, h http.Header, now time.Time) error {
	st := &s.cs
	var seal bool
	switch {
	case s.isNew && s.d.empty():
		// Nothing to keep; an Invalidate may still clear the cookie.
	case s.isNew, s.regen, !s.d.empty():
		seal = true
	case h != nil && (st.stale || c.refreshDue(s, now)):
		seal = true // best effort: not once the response has started
	}
	if !seal && !st.clear {
		if h != nil {
			addVaryCookie(h, &s.vary)
		}
		return nil
	}
	if h == nil {
		return ErrChangedAfterWrite
	}
	m := s.m
	var line string
	var rec record
	var expires int64
	if seal {
		rec = s.d.apply(s.rec)
		bp := c.bufs.Get().(*[]byte)
		buf := encodeRecord(sealBuffer(*bp, estimateRecord(&rec)), &rec)
		if n := len(buf) - sealHeaderLen - sealTimesLen; c.maxSize > 0 && n > c.maxSize {
			return &TooLargeError{Size: n, Max: c.maxSize}
		}
		expires = expiry(&m.opts, rec.Created, now)
		sealed := c.sealer.seal(buf, now.UnixMilli(), expires)
		line = setCookieLine(m.cookie(s.req, "", now, time.UnixMilli(rec.Created)), sealed)
		if cap(sealed) <= maxPooledBuffer {
			*bp = sealed[:0]
			c.bufs.Put(bp)
		}
		if len(line) > MaxCookieSize {
			return &CookieTooLargeError{Size: len(line), Max: MaxCookieSize}
		}
	} else {
		ck := m.cookie(s.req, "", now, now)
		ck.MaxAge, ck.Expires = -1, time.Time{}
		line = ck.String()
	}
	addVaryCookie(h, &s.vary)
	h.Add("Set-Cookie", line)
	h.Set("Cache-Control", "no-store")
	if seal {
		s.rec, s.isNew = rec, false
		st.present, st.expires = true, expires
	} else {
		st.present = false
	}
	st.stale, st.clear = false, false
	s.d, s.regen = delta{}, false
	return nil
}

// setCookieLine returns the Set-Cookie line of ck with the base64url
// encoding of sealed as its value. It encodes straight into the line,
// which http.Cookie.String would copy again and check byte by byte
// (base64url needs neither quoting nor sanitizing).
func setCookieLine(ck *http.Cookie, sealed []byte) string {
	enc := base64.RawURLEncoding
	ck.Value = ""
	empty := ck.String()
	n := len(ck.Name) + 1
	if len(empty) < n || empty[:n-1] != ck.Name || empty[n-1] != '=' {
		ck.Value = enc.EncodeToString(sealed) // an invalid name: let net/http decide
		return ck.String()
	}
	b := make([]byte, 0, len(empty)+enc.EncodedLen(len(sealed)))
	b = append(b, empty[:n]...)
	b = enc.AppendEncode(b, sealed)
	b = append(b, empty[n:]...)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// estimateRecord returns about how many bytes of JSON r encodes to, so
// that the seal buffer is allocated once.
func estimateRecord(r *record) int {
	n := 64 + len(r.CSRF)
	for _, v := range r.Values {
		n += len(v.key) + len(v.raw) + 4
	}
	for q, msgs := range r.Flash {
		n += len(q) + 8
		for _, m := range msgs {
			n += len(m.Msg) + 32
		}
	}
	return n
}
