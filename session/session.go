package session

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"iter"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
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
	m     *Manager
	req   *http.Request
	outer *Session // the session of an enclosing Manager's middleware, or nil
	mu    sync.Mutex

	err   error  // load failure or encode failure
	rec   record // the record as loaded, or a fresh one
	cache map[string]any
	d     delta
	// autoBase holds, with Options.Auto, the encoding of each value as a
	// Get decoded it.
	autoBase map[string][]byte

	sv serverState // the server side's state (unused by the client side)
	cs clientState // the client side's state (unused by the server side)

	detached detached  // the load's and commit's context: the request's, not cancelled
	vary     [1]string // the backing array of the Vary header; see addVaryCookie

	// The flags sit with the integer scratch, so that they pack into
	// three words.
	intBuf  [20]byte // the encoding of the first integer set; see setInt
	intUsed bool
	loaded  bool
	isNew   bool
	regen   bool
}

// load reads the session, once. s.mu is held.
func (s *Session) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	// Not cancelled when the client goes away, as the commit is not: a
	// handler that goes on (a logout by Delete or Clear) must see the
	// session and have its changes saved.
	s.detached.parent = s.req.Context()
	ctx, cancel := s.m.commitCtx(&s.detached)
	err := s.m.side.load(ctx, s, s.m.now())
	cancel()
	if err != nil {
		s.err = err
	}
}

// fresh makes s a new, empty session.
func (s *Session) fresh(now time.Time) {
	s.sv.id, s.isNew, s.sv.entry = "", true, store.Entry{}
	s.rec = record{Format: recordFormat, Created: now.UnixMilli()}
	s.cache, s.d, s.autoBase = nil, delta{}, nil
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
// that cannot be encoded, or a key that is not valid UTF-8
// (ErrKeyNotUTF8), fails the request through the error handler with an
// *EncodeError.
func (s *Session) Set(key string, value any) {
	if !validKey(key) {
		s.failEncode(key, ErrKeyNotUTF8)
		return
	}
	switch n := value.(type) {
	case int:
		s.setInt(key, int64(n))
		return
	case int64:
		s.setInt(key, n)
		return
	}
	b, scalar, err := encodeValue(value)
	if err != nil {
		s.failEncode(key, err)
		return
	}
	s.lock()
	defer s.mu.Unlock()
	if scalar {
		value = nil // nothing to re-encode on Changed
	}
	s.setEncoded(key, b, value)
}

// validKey reports whether key is valid UTF-8, as utf8.ValidString does;
// a key is short and most often ASCII, which a plain loop checks several
// times faster than ValidString's set-up for long strings.
func validKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return utf8.ValidString(key[i:])
		}
	}
	return true
}

// failEncode fails the request with an *EncodeError for key, unless it
// failed already.
func (s *Session) failEncode(key string, err error) {
	s.lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = &EncodeError{Key: key, Err: err}
	}
}

// setInt is Set for an integer. The first one a request sets is encoded
// into the session's own scratch (a handler often sets one number: a
// counter, a user id), which saves an allocation. Nothing writes to the
// scratch after that, and the session, which holds it, lives as long as
// anything refers to it; a record the manager remembers across requests
// refers only to its own bytes (aliasValues).
func (s *Session) setInt(key string, n int64) {
	s.lock()
	defer s.mu.Unlock()
	var b []byte
	if !s.intUsed {
		s.intUsed = true
		b = strconv.AppendInt(s.intBuf[:0:len(s.intBuf)], n, 10)
		b = b[:len(b):len(b)]
	} else {
		b = strconv.AppendInt(nil, n, 10)
	}
	s.setEncoded(key, b, nil)
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
	// Decoded through a pointer of its own, so that v stays off the heap
	// on the paths above.
	p := new(T)
	if err := json.Unmarshal(b, p); err != nil {
		return v, false
	}
	v = *p
	if s.cache == nil {
		s.cache = make(map[string]any)
	}
	s.cache[key] = v
	if s.m.opts.Auto {
		// What this read looked like, for autoChanged: a type that holds
		// less than the stored JSON (a struct of some of a map's fields,
		// float64 for a large integer) is not a change.
		if enc, err := json.Marshal(v); err == nil {
			if s.autoBase == nil {
				s.autoBase = make(map[string][]byte)
			}
			s.autoBase[key] = enc
		}
	}
	return v, true
}

// decodeScalar decodes b into *p without reflection when T is int, int64,
// string or bool and b is its plain JSON form, and reports whether it did.
func decodeScalar[T any](b []byte, p *T) bool {
	switch any(*p).(type) {
	case int:
		n, err := strconv.Atoi(readOnlyString(b))
		if err != nil {
			return false
		}
		*(*int)(unsafe.Pointer(p)) = n
	case int64:
		n, err := strconv.ParseInt(readOnlyString(b), 10, 64)
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

// readOnlyString returns b as a string without copying it: b must never
// change, which holds for an encoded value (a record's bytes, and the
// encodings of values set, are never modified).
func readOnlyString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
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
	return s.keys()
}

// keys returns the keys that are set, sorted. s.mu is held.
func (s *Session) keys() []string {
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

// Len returns the number of keys that are set (Pyramid's len(session)).
func (s *Session) Len() int {
	return len(s.Keys())
}

// All iterates over the keys that are set, sorted, and their values as
// JSON (Pyramid's session.items() and session.values()). Decode a value
// with encoding/json, or read it typed with Get. The iteration works on a
// snapshot: the handler may change the session inside the loop.
func (s *Session) All() iter.Seq2[string, json.RawMessage] {
	return func(yield func(string, json.RawMessage) bool) {
		s.lock()
		keys := s.keys()
		vals := make([]json.RawMessage, len(keys))
		for i, k := range keys {
			if c, ok := s.cache[k]; ok {
				if b, _, err := encodeValue(c); err == nil {
					vals[i] = b // the value as the handler has it now
					continue
				}
			}
			raw, _ := s.raw(k)
			vals[i] = bytes.Clone(raw) // raw may be the store's own bytes
		}
		s.mu.Unlock()
		for i, k := range keys {
			if !yield(k, vals[i]) {
				return
			}
		}
	}
}

// Update sets every key of m (Pyramid's session.update(m)), in key order.
// A value that cannot be encoded fails the request with an *EncodeError.
func (s *Session) Update(m map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s.Set(k, m[k])
	}
}

// Pop removes key and returns its value decoded as T (Pyramid's
// session.pop(key)). ok is false when the key was not set or its value does
// not decode as T; the key is removed either way.
func Pop[T any](s *Session, key string) (v T, ok bool) {
	v, ok = Get[T](s, key)
	s.Delete(key)
	return v, ok
}

// SetDefault returns the value of key decoded as T, setting it to def first
// when the key is not set (Pyramid's session.setdefault(key, def)). A key
// that is set but does not decode as T is left as it is, and the zero T is
// returned.
func SetDefault[T any](s *Session, key string, def T) T {
	if v, ok := Get[T](s, key); ok {
		return v
	}
	if s.Has(key) {
		var zero T
		return zero
	}
	s.Set(key, def)
	return def
}

// Clear removes every value, the flash queues and the CSRF token
// (Pyramid's session.clear(), as pyramid_beaker does it). The session
// itself goes on, under the same id; use Invalidate to end it, and
// NewCSRFToken or CSRFToken for a new token.
func (s *Session) Clear() {
	s.lock()
	defer s.mu.Unlock()
	s.d.cleared, s.d.ops, s.cache = true, nil, nil
	s.d.flashAdd, s.d.flashPop = nil, nil
	s.d.csrf, s.d.csrfSet = "", false
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

// Invalidate ends the session: its stored record is replaced by a
// short-lived "ended" marker that holds no data (so that a request still
// in flight cannot bring it back), the cookie is cleared, and the request
// goes on with a new, empty session, which is saved under a new id if the
// request puts something in it.
func (s *Session) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.side.end(s)
	s.loaded, s.err, s.regen = true, nil, false
	s.fresh(s.m.now())
}

// RegenerateID moves the session to a new id, keeping its data, and makes a
// new CSRF token. The old id stops working. Call it when a user logs in,
// against session fixation.
//
// The move is atomic: at commit the record is written under the new id,
// then the old record becomes a short-lived "moved" marker, conditionally
// on it being what was copied (a change made meanwhile by another request
// is copied too; a logout made meanwhile wins, and the request ends logged
// out). A request that loaded the old record before the move and changes
// the session after it fails with ErrSessionMoved (409 by default) and
// sets no cookie; one that arrives with the old id after the move gets a
// new, empty session, never the moved one. The race that remains is the
// one every framework has: such a request that also writes gets a new
// cookie, which replaces the login's cookie if its response arrives last.
func (s *Session) RegenerateID() {
	s.lock()
	defer s.mu.Unlock()
	if !s.isNew {
		s.regen = true
	}
	s.newCSRFToken()
}

// AddFlash adds msg to the default flash queue (Pyramid's
// session.flash(msg)). msg may be any value that encodes as JSON: a
// string, a number, a struct; read it back typed with PopFlashes or
// PeekFlashes. A value that cannot be encoded fails the request with an
// *EncodeError, as Set does.
func (s *Session) AddFlash(msg any) { s.addFlash("", msg, true) }

// AddFlashTo adds msg to the flash queue named queue (Pyramid's
// session.flash(msg, queue)).
func (s *Session) AddFlashTo(queue string, msg any) { s.addFlash(queue, msg, true) }

// AddFlashOnce adds msg to the flash queue named queue unless an equal
// message (the same JSON) is already in it (Pyramid's session.flash(msg,
// queue, allow_duplicate=False)).
func (s *Session) AddFlashOnce(queue string, msg any) { s.addFlash(queue, msg, false) }

// Flash adds msg to the flash queue named queue ("" is the default
// queue); with allowDuplicate false, a message already in the queue is
// not added again.
//
// Deprecated: use AddFlash(msg), AddFlashTo(queue, msg) or
// AddFlashOnce(queue, msg), which read better and take any JSON value.
// Flash stays for one release.
func (s *Session) Flash(msg, queue string, allowDuplicate bool) {
	s.addFlash(queue, msg, allowDuplicate)
}

func (s *Session) addFlash(queue string, msg any, allowDuplicate bool) {
	b, _, err := encodeValue(msg)
	if err == nil && !validKey(queue) {
		err = ErrKeyNotUTF8
	}
	if err != nil {
		s.failEncode("flash:"+queue, err)
		return
	}
	s.lock()
	defer s.mu.Unlock()
	if !allowDuplicate {
		for _, m := range s.peekFlash(queue) {
			if bytes.Equal(m, b) {
				return
			}
		}
	}
	if s.d.flashAdd == nil {
		s.d.flashAdd = make(map[string][]flashAdd)
	}
	s.d.flashAdd[queue] = append(s.d.flashAdd[queue], flashAdd{msg: b, allowDup: allowDuplicate})
	s.d.anyChange = true
}

// PeekFlash returns the messages in the flash queue without removing them
// (Pyramid's session.peek_flash(queue)). A message that is not a string
// is returned as its JSON text; PeekFlashes reads messages typed.
func (s *Session) PeekFlash(queue string) []string {
	s.lock()
	defer s.mu.Unlock()
	return flashStrings(s.peekFlash(queue))
}

// PopFlash returns the messages in the flash queue and removes them
// (Pyramid's session.pop_flash(queue)). Only the messages returned are
// removed: a message that another request adds meanwhile stays for the
// next page. A message that is not a string is returned as its JSON text;
// PopFlashes reads messages typed.
func (s *Session) PopFlash(queue string) []string {
	s.lock()
	defer s.mu.Unlock()
	return flashStrings(s.popFlash(queue))
}

// PeekFlashes returns the messages in the flash queue, decoded as T,
// without removing them. A message that does not decode as T is left out.
func PeekFlashes[T any](s *Session, queue string) []T {
	s.lock()
	defer s.mu.Unlock()
	return decodeFlashes[T](s.peekFlash(queue))
}

// PopFlashes returns the messages in the flash queue, decoded as T, and
// removes every message it saw (also those that do not decode as T, which
// are left out of the result).
func PopFlashes[T any](s *Session, queue string) []T {
	s.lock()
	defer s.mu.Unlock()
	return decodeFlashes[T](s.popFlash(queue))
}

func decodeFlashes[T any](msgs []json.RawMessage) []T {
	var out []T
	for _, m := range msgs {
		var v T
		if decodeScalar(m, &v) || json.Unmarshal(m, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

func flashStrings(msgs []json.RawMessage) []string {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		if !decodeScalar(m, &out[i]) && json.Unmarshal(m, &out[i]) != nil {
			out[i] = string(m)
		}
	}
	return out
}

// peekFlash returns the queue's messages as this request sees them. s.mu
// is held.
func (s *Session) peekFlash(queue string) []json.RawMessage {
	var out []json.RawMessage
	if !s.d.cleared {
		popped := s.d.flashPop[queue]
		for _, m := range s.rec.Flash[queue] {
			if !slices.Contains(popped, m.ID) {
				out = append(out, m.Msg)
			}
		}
	}
	for _, a := range s.d.flashAdd[queue] {
		out = append(out, a.msg)
	}
	return out
}

// popFlash returns the queue's messages and records their removal. s.mu
// is held.
func (s *Session) popFlash(queue string) []json.RawMessage {
	out := s.peekFlash(queue)
	if len(out) == 0 {
		return nil
	}
	if !s.d.cleared {
		for _, m := range s.rec.Flash[queue] {
			if !slices.Contains(s.d.flashPop[queue], m.ID) {
				if s.d.flashPop == nil {
					s.d.flashPop = make(map[string][]uint64)
				}
				s.d.flashPop[queue] = append(s.d.flashPop[queue], m.ID)
			}
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
	if s.rec.CSRF != "" && !s.d.cleared {
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
	if s.d.cleared {
		return ""
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

// autoChanged records as set every value the request read or set whose
// encoding now differs from the JSON this request knows for it (Options.Auto).
// s.mu is held.
func (s *Session) autoChanged() {
	for k, v := range s.cache {
		b, err := json.Marshal(v)
		if err != nil {
			s.err = &EncodeError{Key: k, Err: err}
			return
		}
		base, read := s.autoBase[k]
		if !read || s.d.op(k) != nil {
			base, read = s.raw(k)
		}
		if !read || !bytes.Equal(base, b) {
			s.setEncoded(k, b, v)
		}
	}
}

// LogValue implements slog.LogValuer: a Session logs as "session " and a
// short hash of its id, the name the library's own logs give it, never as
// its id, its CSRF token or its values. "(new)" stands for a session that
// has no id yet, or has not been read.
func (s *Session) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String is how fmt prints a Session (%v, %s): the same as LogValue.
func (s *Session) String() string {
	if s == nil {
		return "session <nil>"
	}
	s.mu.Lock()
	ref := s.logRef()
	s.mu.Unlock()
	return "session " + logID(ref)
}

// GoString is how fmt prints a Session with %#v: the same as String, for
// a Session's fields hold its id in clear.
func (s *Session) GoString() string { return s.String() }

// logRef is the session id that logs show (hashed by the logger): the
// stored record's, else the cookie's. s.mu is held.
func (s *Session) logRef() string {
	if s.sv.id != "" {
		return s.sv.id
	}
	return s.sv.cookieID
}

// dirty reports whether there is anything to save. s.mu is held.
func (s *Session) dirty() bool {
	return s.d.anyChange || s.sv.end != nil || s.cs.clear || s.regen || s.err != nil
}

// ttl is how long the stored record should live from now: the idle
// timeout, capped by what is left of the absolute lifetime.
func (s *Session) ttl(now time.Time) time.Duration {
	// The lifetime left: Lifetime - age, saturated (a record created in
	// the future, by a server whose clock is ahead, has more).
	lifetime, age := s.m.opts.Lifetime, sinceMilli(now, s.rec.Created)
	left := time.Duration(math.MaxInt64)
	if age >= 0 || lifetime <= math.MaxInt64+age {
		left = lifetime - age
	}
	if t := s.m.opts.Timeout; t > 0 && t < left {
		return t
	}
	return max(left, time.Millisecond)
}

// sinceMilli returns the time from the unix millisecond ms to now, exactly
// as now.Sub(time.UnixMilli(ms)) does, in integer arithmetic when the two
// are within 139 years of each other: Sub checks its result with an Add
// and an Equal, which cost more than the rest of a request's time
// arithmetic.
func sinceMilli(now time.Time, ms int64) time.Duration {
	const near = 1 << 42 // milliseconds: a million times less fits a Duration
	if nowMs := now.UnixMilli(); ms > nowMs-near && ms < nowMs+near {
		return time.Duration(nowMs-ms)*time.Millisecond + time.Duration(now.Nanosecond()%int(time.Millisecond))
	}
	return now.Sub(time.UnixMilli(ms))
}

// commit saves what the request changed. h is the response header when
// the response has not started, so the cookie can still be set; nil after.
// The whole commit runs under one deadline, and a client that goes away
// does not cancel it. s.mu is held.
func (s *Session) commit(h http.Header) error {
	if s.err != nil {
		return s.err
	}
	if !s.loaded {
		return nil
	}
	if s.m.opts.Auto {
		s.autoChanged()
		if s.err != nil {
			return s.err
		}
	}
	s.detached.parent = s.req.Context()
	ctx, cancel := s.m.commitCtx(&s.detached)
	defer cancel()
	return s.m.side.save(ctx, s, h, s.m.now())
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
	case !m.opts.CookieExpiresAt.IsZero():
		c.Expires = m.opts.CookieExpiresAt
		c.MaxAge = max(int(m.opts.CookieExpiresAt.Sub(now)/time.Second), 1)
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
