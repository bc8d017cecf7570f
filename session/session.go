package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gobeaker/beaker/store"
)

// Session is one request's view of a user's session: Pyramid's
// request.session. Get it with FromRequest. Its methods are safe for
// concurrent use by the handler's goroutines.
//
// The session is loaded from the store on the first method call. Every
// change is recorded as an operation (a key set or deleted, the values
// cleared, a flash message added or popped, a new CSRF token) and saved
// when the response starts, by applying those operations atomically to the
// record as it is in the store at that moment. So two requests running at
// once on one session keep each other's changes, a request that changed
// nothing writes nothing, and a change never brings back a session that
// another request invalidated meanwhile.
//
// Values are stored as JSON. Set keeps the value's encoding at the time of
// the call; Get decodes into the type asked for, so an int stored is an int
// read. A map or slice that a handler changes in place after Get or Set is
// saved only after Changed.
type Session struct {
	m   *Manager
	req *http.Request
	mu  sync.Mutex

	identified bool
	cookieID   string // id from a valid request cookie
	loaded     bool
	err        error // load failure or encode failure

	id      string // id of the stored record; "" for a new session
	isNew   bool
	entry   store.Entry // the record as loaded
	rec     record      // the record as loaded, or a fresh one
	cache   map[string]any
	d       delta
	oldID   string // record to delete at commit
	regen   bool
	dropped bool // an Invalidate without a new session yet: clear the cookie

	keyID, keyVal string // the last store key computed, and its id
}

// errGone aborts an update of a record that another request deleted.
var errGone = errors.New("session: record gone")

// identify reads the session id from the request cookie, without touching
// the store.
func (s *Session) identify() {
	if s.identified {
		return
	}
	s.identified = true
	rejected := 0
	for _, line := range s.req.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != s.m.opts.CookieName {
				continue
			}
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if id, ok := s.m.signer.verify(value); ok {
				s.cookieID = id
				return
			}
			rejected++
		}
	}
	if rejected > 0 {
		s.m.log.LogAttrs(s.req.Context(), slog.LevelDebug, "session: rejected a cookie that does not verify; starting a new session",
			slog.Int("cookies", rejected))
	}
}

// key returns the store key of the session id, computed once.
func (s *Session) key(id string) string {
	if id != s.keyID {
		s.keyID, s.keyVal = id, storeKey(s.m.opts.KeyPrefix, id)
	}
	return s.keyVal
}

// load reads the session from the store, once. s.mu is held.
func (s *Session) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	s.identify()
	now := s.m.now()
	if s.cookieID == "" {
		s.fresh(now)
		return
	}
	ctx, cancel := s.m.storeCtx(s.req.Context())
	e, found, err := s.m.store.Get(ctx, s.key(s.cookieID))
	cancel()
	if err != nil {
		s.err = &StoreError{Op: "load", Err: err}
		s.fresh(now)
		return
	}
	if !found {
		s.fresh(now)
		return
	}
	rec, err := decodeRecord(e.Value)
	if err != nil {
		s.m.log.LogAttrs(s.req.Context(), slog.LevelWarn, "session: corrupt record treated as missing",
			slog.String("session", logID(s.cookieID)), slog.Any("error", err))
		s.fresh(now)
		return
	}
	if now.Sub(time.UnixMilli(rec.Created)) >= s.m.opts.Lifetime {
		s.fresh(now)
		s.oldID = s.cookieID
		return
	}
	s.id, s.entry, s.rec = s.cookieID, e, rec
}

// fresh makes s a new, empty session.
func (s *Session) fresh(now time.Time) {
	s.id, s.isNew, s.entry = "", true, store.Entry{}
	s.rec = record{Format: recordFormat, Created: now.UnixMilli()}
	s.cache, s.d = nil, delta{}
}

func (s *Session) lock() {
	s.mu.Lock()
	s.load()
}

// Err reports why the session could not be loaded (a store failure), or
// nil. A session that failed to load behaves as a new empty one, and the
// response is replaced by the error handler's when it starts.
func (s *Session) Err() error {
	s.lock()
	defer s.mu.Unlock()
	return s.err
}

// IsNew reports whether the session was created by this request (Pyramid's
// session.new).
func (s *Session) IsNew() bool {
	s.lock()
	defer s.mu.Unlock()
	return s.isNew
}

// Created returns when the session was created (Pyramid's session.created).
func (s *Session) Created() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return time.UnixMilli(s.rec.Created)
}

// Set stores value under key. The value is encoded as JSON now; a value
// that cannot be encoded fails the request through the error handler with
// an *EncodeError.
func (s *Session) Set(key string, value any) {
	b, scalar, err := encodeValue(value)
	s.lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = &EncodeError{Key: key, Err: err}
		}
		return
	}
	if scalar {
		value = nil // nothing to re-encode on Changed
	}
	s.setEncoded(key, b, value)
}

// encodeValue encodes v as JSON, without reflection for the common scalar
// types (scalar is then true).
func encodeValue(v any) (b []byte, scalar bool, err error) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(nil, int64(x), 10), true, nil
	case int64:
		return strconv.AppendInt(nil, x, 10), true, nil
	case string:
		return appendString(nil, x), true, nil
	case bool:
		return strconv.AppendBool(nil, x), true, nil
	}
	b, err = json.Marshal(v)
	return b, false, err
}

func (s *Session) setEncoded(key string, b []byte, value any) {
	s.d.put(key, b, false)
	if value != nil {
		if s.cache == nil {
			s.cache = make(map[string]any)
		}
		s.cache[key] = value
	} else {
		delete(s.cache, key)
	}
}

// raw returns the encoded value of key as this request sees it. s.mu is
// held.
func (s *Session) raw(key string) (json.RawMessage, bool) {
	if o := s.d.op(key); o != nil {
		return o.val, !o.del
	}
	if s.d.cleared {
		return nil, false
	}
	return s.rec.lookup(key)
}

// Get returns the value stored under key, decoded as T. ok is false when
// the key is missing or its value does not decode as T.
func Get[T any](s *Session, key string) (v T, ok bool) {
	s.lock()
	defer s.mu.Unlock()
	if c, found := s.cache[key]; found {
		if t, isT := c.(T); isT {
			return t, true
		}
	}
	b, found := s.raw(key)
	if !found {
		return v, false
	}
	if decodeScalar(b, &v) {
		return v, true
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, false
	}
	if s.cache == nil {
		s.cache = make(map[string]any)
	}
	s.cache[key] = v
	return v, true
}

// decodeScalar decodes b into *p without reflection when T is int, int64,
// string or bool and b is its plain JSON form, and reports whether it did.
func decodeScalar[T any](b []byte, p *T) bool {
	switch any(*p).(type) {
	case int:
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return false
		}
		*(*int)(unsafe.Pointer(p)) = n
	case int64:
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return false
		}
		*(*int64)(unsafe.Pointer(p)) = n
	case bool:
		switch string(b) {
		case "true":
			*(*bool)(unsafe.Pointer(p)) = true
		case "false":
			*(*bool)(unsafe.Pointer(p)) = false
		default:
			return false
		}
	case string:
		if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
			return false
		}
		in := b[1 : len(b)-1]
		for _, c := range in {
			if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
				return false
			}
		}
		*(*string)(unsafe.Pointer(p)) = string(in)
	default:
		return false
	}
	return true
}

// Has reports whether key is set.
func (s *Session) Has(key string) bool {
	s.lock()
	defer s.mu.Unlock()
	_, ok := s.raw(key)
	return ok
}

// Delete removes key. Removing a missing key does nothing.
func (s *Session) Delete(key string) {
	s.lock()
	defer s.mu.Unlock()
	if _, ok := s.raw(key); !ok {
		return
	}
	delete(s.cache, key)
	s.d.put(key, nil, true)
}

// Keys returns the keys that are set, sorted.
func (s *Session) Keys() []string {
	s.lock()
	defer s.mu.Unlock()
	var keys []string
	if !s.d.cleared {
		for _, v := range s.rec.Values {
			if s.d.op(v.key) == nil {
				keys = append(keys, v.key)
			}
		}
	}
	for _, o := range s.d.ops {
		if !o.del {
			keys = append(keys, o.key)
		}
	}
	slices.Sort(keys)
	return keys
}

// Clear removes every value. Flash messages and the CSRF token stay; use
// Invalidate to end the session.
func (s *Session) Clear() {
	s.lock()
	defer s.mu.Unlock()
	s.d.cleared, s.d.ops, s.cache = true, nil, nil
	s.d.anyChange = true
}

// Changed marks the values that this request has read or set as changed,
// so that changes made in place to a map, slice or struct they hold are
// saved (Pyramid's session.changed()).
func (s *Session) Changed() {
	s.lock()
	defer s.mu.Unlock()
	for k, v := range s.cache {
		b, err := json.Marshal(v)
		if err != nil {
			if s.err == nil {
				s.err = &EncodeError{Key: k, Err: err}
			}
			continue
		}
		s.setEncoded(k, b, v)
	}
}

// Invalidate ends the session: its stored record is deleted, and the
// request goes on with a new, empty session, which is saved under a new id
// if the request puts something in it.
func (s *Session) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identify()
	old := s.cookieID
	if s.loaded && s.id != "" {
		old = s.id
	}
	if old != "" {
		s.oldID = old
		s.dropped = true
	}
	s.loaded, s.err, s.regen = true, nil, false
	s.fresh(s.m.now())
}

// RegenerateID moves the session to a new id, keeping its data, and makes a
// new CSRF token. The old id stops working. Call it when a user logs in,
// against session fixation.
func (s *Session) RegenerateID() {
	s.lock()
	defer s.mu.Unlock()
	if !s.isNew {
		s.regen = true
	}
	s.newCSRFToken()
}

// Flash adds msg to the flash queue named queue ("" is the default queue).
// With allowDuplicate false, a message already in the queue is not added
// again.
func (s *Session) Flash(msg, queue string, allowDuplicate bool) {
	s.lock()
	defer s.mu.Unlock()
	if !allowDuplicate && slices.Contains(s.peekFlash(queue), msg) {
		return
	}
	if s.d.flashAdd == nil {
		s.d.flashAdd = make(map[string][]flashAdd)
	}
	s.d.flashAdd[queue] = append(s.d.flashAdd[queue], flashAdd{msg: msg, allowDup: allowDuplicate})
	s.d.anyChange = true
}

// PeekFlash returns the messages in the flash queue without removing them.
func (s *Session) PeekFlash(queue string) []string {
	s.lock()
	defer s.mu.Unlock()
	return s.peekFlash(queue)
}

func (s *Session) peekFlash(queue string) []string {
	var out []string
	popped := s.d.flashPop[queue]
	for _, m := range s.rec.Flash[queue] {
		if !slices.Contains(popped, m.ID) {
			out = append(out, m.Msg)
		}
	}
	for _, a := range s.d.flashAdd[queue] {
		out = append(out, a.msg)
	}
	return out
}

// PopFlash returns the messages in the flash queue and removes them. Only
// the messages returned are removed: a message that another request adds
// meanwhile stays for the next page.
func (s *Session) PopFlash(queue string) []string {
	s.lock()
	defer s.mu.Unlock()
	out := s.peekFlash(queue)
	if len(out) == 0 {
		return nil
	}
	for _, m := range s.rec.Flash[queue] {
		if !slices.Contains(s.d.flashPop[queue], m.ID) {
			if s.d.flashPop == nil {
				s.d.flashPop = make(map[string][]uint64)
			}
			s.d.flashPop[queue] = append(s.d.flashPop[queue], m.ID)
		}
	}
	delete(s.d.flashAdd, queue)
	s.d.anyChange = true
	return out
}

// CSRFToken returns the session's CSRF token, making one if it has none
// (Pyramid's get_csrf_token).
func (s *Session) CSRFToken() string {
	s.lock()
	defer s.mu.Unlock()
	if s.d.csrfSet {
		return s.d.csrf
	}
	if s.rec.CSRF != "" {
		return s.rec.CSRF
	}
	return s.newCSRFToken()
}

// PeekCSRFToken returns the session's CSRF token, or "" when it has none.
// Unlike CSRFToken it never makes one, so checking a request changes
// nothing.
func (s *Session) PeekCSRFToken() string {
	s.lock()
	defer s.mu.Unlock()
	if s.d.csrfSet {
		return s.d.csrf
	}
	return s.rec.CSRF
}

// NewCSRFToken replaces the session's CSRF token with a new one and returns
// it (Pyramid's new_csrf_token).
func (s *Session) NewCSRFToken() string {
	s.lock()
	defer s.mu.Unlock()
	return s.newCSRFToken()
}

func (s *Session) newCSRFToken() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	s.d.csrf, s.d.csrfSet, s.d.anyChange = hex.EncodeToString(b[:]), true, true
	return s.d.csrf
}

// dirty reports whether there is anything to save. s.mu is held.
func (s *Session) dirty() bool {
	return s.d.anyChange || s.oldID != "" || s.regen || s.err != nil
}

// ttl is how long the stored record should live from now: the idle
// timeout, capped by what is left of the absolute lifetime.
func (s *Session) ttl(now time.Time) time.Duration {
	left := time.UnixMilli(s.rec.Created).Add(s.m.opts.Lifetime).Sub(now)
	if t := s.m.opts.Timeout; t > 0 && t < left {
		return t
	}
	return max(left, time.Millisecond)
}

// commit saves what the request changed. h is the response header when
// the response has not started, so the cookie can still be set; nil after.
// s.mu is held.
func (s *Session) commit(ctx context.Context, h http.Header) error {
	if s.err != nil {
		return s.err
	}
	if !s.loaded {
		return nil
	}
	m := s.m
	now := m.now()
	key := s.key
	var newCookie string
	clearCookie := false

	if s.oldID != "" {
		if err := s.storeDo(ctx, "delete", func(c context.Context) error { return m.store.Delete(c, key(s.oldID)) }); err != nil {
			return err
		}
		s.oldID = ""
		clearCookie = s.dropped
		s.dropped = false
	}

	switch {
	case s.isNew && s.d.empty():
		// Nothing to store.
	case s.isNew:
		if h == nil {
			return ErrChangedAfterWrite
		}
		id := newID()
		rec := s.d.apply(s.rec)
		b := encodeRecord(nil, &rec)
		ttl := s.ttl(now)
		if err := s.storeDo(ctx, "save", func(c context.Context) error { return m.store.Set(c, key(id), b, ttl) }); err != nil {
			return err
		}
		s.id, s.isNew, s.rec, s.entry = id, false, rec, store.Entry{}
		newCookie, clearCookie = id, false
	case s.regen:
		if h == nil {
			return ErrChangedAfterWrite
		}
		var cur store.Entry
		var found bool
		if err := s.storeDo(ctx, "load", func(c context.Context) (err error) {
			cur, found, err = m.store.Get(c, key(s.id))
			return err
		}); err != nil {
			return err
		}
		rec, err := decodeRecord(cur.Value)
		if !found || err != nil {
			// Invalidated by another request meanwhile: do not bring it back.
			s.fresh(now)
			clearCookie = true
			break
		}
		rec = s.d.apply(rec)
		b := encodeRecord(nil, &rec)
		id := newID()
		ttl := s.ttl(now)
		if err := s.storeDo(ctx, "save", func(c context.Context) error { return m.store.Set(c, key(id), b, ttl) }); err != nil {
			return err
		}
		old := s.id
		if err := s.storeDo(ctx, "delete", func(c context.Context) error { return m.store.Delete(c, key(old)) }); err != nil {
			return err
		}
		s.id, s.rec, s.entry, s.regen = id, rec, store.Entry{}, false
		newCookie = id
	case !s.d.empty():
		err := s.update(ctx, now)
		if errors.Is(err, errGone) {
			m.log.LogAttrs(ctx, slog.LevelDebug, "session: not saving changes to a session that another request ended",
				slog.String("session", logID(s.id)))
			s.fresh(now)
			clearCookie = true
			break
		}
		if err != nil {
			return err
		}
	case m.opts.Timeout == 0 || m.opts.NoTouch:
		// No idle timeout to extend.
	case !s.entry.Expires.IsZero() && s.entry.Expires.Sub(now) >= m.opts.Timeout-m.opts.Timeout/10:
		// Touched recently enough.
	case s.id != "":
		ttl := s.ttl(now)
		err := s.storeDo(ctx, "touch", func(c context.Context) error {
			if m.toucher != nil {
				_, err := m.toucher.Touch(c, key(s.id), ttl)
				return err
			}
			return m.updater.Update(c, key(s.id), store.Entry{}, ttl, func(cur []byte, found bool) ([]byte, error) {
				if !found {
					return nil, errGone
				}
				return cur, nil
			})
		})
		if err != nil && !errors.Is(err, errGone) {
			return err
		}
		s.entry.Expires = now.Add(ttl)
	}
	s.d = delta{}

	if h != nil {
		h.Add("Vary", "Cookie")
		switch {
		case newCookie != "":
			h.Add("Set-Cookie", m.cookie(s.req, m.signer.sign(newCookie), now, time.UnixMilli(s.rec.Created)).String())
			h.Set("Cache-Control", "no-store")
		case clearCookie:
			c := m.cookie(s.req, "", now, now)
			c.MaxAge, c.Expires = -1, time.Time{}
			h.Add("Set-Cookie", c.String())
			h.Set("Cache-Control", "no-store")
		}
	}
	return nil
}

// update applies the delta to the stored record with one atomic update.
// On success s.rec is the record as written. s.mu is held.
func (s *Session) update(ctx context.Context, now time.Time) error {
	u := updater{d: &s.d, loaded: s.entry.Value, base: s.rec}
	c, cancel := s.m.storeCtx(ctx)
	err := s.m.updater.Update(c, s.key(s.id), s.entry, s.ttl(now), u.apply)
	cancel()
	switch {
	case err == nil:
		s.rec, s.entry = u.result, store.Entry{}
		return nil
	case errors.Is(err, errGone):
		return err
	default:
		return &StoreError{Op: "save", Err: err}
	}
}

// updater is the store.UpdateFunc of a save: it applies the delta to the
// record as stored, decoding it only when another request changed it
// since this one loaded it.
type updater struct {
	d      *delta
	loaded []byte
	base   record
	result record
}

func (u *updater) apply(cur []byte, found bool) ([]byte, error) {
	if !found {
		return nil, errGone
	}
	r := u.base
	if !bytes.Equal(cur, u.loaded) {
		var err error
		if r, err = decodeRecord(cur); err != nil {
			return nil, errGone
		}
	}
	u.result = u.d.apply(r)
	return encodeRecord(make([]byte, 0, len(cur)+64), &u.result), nil
}

// storeDo runs one store operation under the store timeout, wrapping its
// failure in a *StoreError.
func (s *Session) storeDo(ctx context.Context, op string, f func(context.Context) error) error {
	c, cancel := s.m.storeCtx(ctx)
	defer cancel()
	err := f(c)
	if err != nil && !errors.Is(err, errGone) {
		return &StoreError{Op: op, Err: err}
	}
	return err
}

// cookie builds the session cookie with the configured attributes.
func (m *Manager) cookie(r *http.Request, value string, now, created time.Time) *http.Cookie {
	c := &http.Cookie{
		Name:     m.opts.CookieName,
		Value:    value,
		Path:     m.opts.CookiePath,
		Domain:   m.opts.CookieDomain,
		HttpOnly: !m.opts.NoHTTPOnly,
		SameSite: m.opts.SameSite,
		Secure:   m.opts.Secure == SecureAlways || m.opts.Secure == SecureAuto && r.TLS != nil,
	}
	switch {
	case m.opts.CookieExpires > 0:
		c.Expires = now.Add(m.opts.CookieExpires)
		c.MaxAge = int(m.opts.CookieExpires / time.Second)
	case m.opts.PersistentCookie:
		end := created.Add(m.opts.Lifetime)
		c.Expires = end
		c.MaxAge = max(int(end.Sub(now)/time.Second), 1)
	}
	return c
}
