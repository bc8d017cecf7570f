package session

import (
	"time"
)

// A format says how a server-side session is represented outside the
// process: how an id is made and carried in the cookie, how a store key is
// derived from it, how the record is encoded, and how the idle timeout is
// kept alive. Session itself knows none of this.
//
// The native format is nativeFormat. Python Beaker's (uuid4().hex ids,
// hex(HMAC-SHA1)+id cookies, raw ids in each backend's layout, pickled
// records with _accessed_time inside, refreshed by rewriting the record)
// is another implementation of the same interface.
type format interface {
	// newID returns a fresh random session id.
	newID() string
	// cookieValue returns the cookie value that carries id.
	cookieValue(id string) string
	// parseCookie returns the id a cookie value carries. ok is false for a
	// value that does not verify; stale is true when it verified with a key
	// other than the current one, so the response should re-sign it.
	parseCookie(value string) (id string, stale, ok bool)
	// storeKey returns the store key of the record of id.
	storeKey(id string) string
	// keyPrefix is what every store key of this format starts with, for
	// Scan.
	keyPrefix() string
	// refKey turns what an operator gives (a store key, a cookie value, the
	// part of a key after the prefix, a session id) into a store key.
	refKey(ref string) string
	// encode appends the record's bytes to dst; decode reads them. A record
	// that does not decode is treated as missing.
	encode(dst []byte, r *record) []byte
	decode(b []byte) (record, error)
	// decodeInto is decode with the values in buf[:0] (a buffer of the
	// caller's, reused when it has room).
	decodeInto(b []byte, buf []value) (record, error)
	// marker returns the bytes of a marker of kind k (never markNone); the
	// caller owns them. markOf tells whether stored bytes are a marker.
	marker(k mark) []byte
	markOf(b []byte) mark
	// refresh is how a read-only request keeps the idle timeout alive.
	refresh() refreshPolicy
}

// mark is the kind of a marker: a short-lived stand-in that replaces a
// record when its session ends. A marker holds no data, no id and no
// pointer to another session: a holder of the old id reaches nothing.
type mark uint8

const (
	markNone  mark = iota // a record, not a marker
	markMoved             // RegenerateID moved the session to a new id
	markEnded             // Invalidate ended the session
)

// markerTTL is how long a marker stays: long enough to cover the requests
// in flight when the session moved or ended (more than the store timeout),
// short enough that markers do not pile up.
func markerTTL(storeTimeout time.Duration) time.Duration {
	return max(time.Minute, 3*storeTimeout)
}

// refreshPolicy is how a format keeps the idle timeout alive.
type refreshPolicy uint8

const (
	// refreshTouch extends the store's expiry (store.Toucher), never
	// rewriting data.
	refreshTouch refreshPolicy = iota
	// refreshRewrite rewrites the record with a new access time inside
	// (record.Accessed), for formats whose readers check that time.
	refreshRewrite
)

// nativeFormat is this library's own format: 192-bit random ids,
// "<id>.<mac>" cookies (HMAC-SHA256, base64url), store keys that are the
// prefix and a SHA-256 hash of the id (a dump of the store hands out no
// live session), JSON records (codec.go), and Touch for the idle timeout.
type nativeFormat struct {
	signer *signer
	prefix string
}

// The markers' bytes: constants, so that no caller can change them.
const (
	movedMarker = `{"v":1,"moved":true}`
	endedMarker = `{"v":1,"ended":true}`
)

func (f *nativeFormat) newID() string                { return newID() }
func (f *nativeFormat) cookieValue(id string) string { return f.signer.sign(id) }
func (f *nativeFormat) parseCookie(v string) (string, bool, bool) {
	id, i, ok := f.signer.verify(v)
	return id, i > 0, ok
}
func (f *nativeFormat) storeKey(id string) string           { return storeKey(f.prefix, id) }
func (f *nativeFormat) keyPrefix() string                   { return f.prefix }
func (f *nativeFormat) encode(dst []byte, r *record) []byte { return encodeRecord(dst, r) }
func (f *nativeFormat) decode(b []byte) (record, error)     { return decodeRecord(b) }
func (f *nativeFormat) decodeInto(b []byte, buf []value) (record, error) {
	return decodeRecordInto(b, buf)
}
func (f *nativeFormat) refresh() refreshPolicy { return refreshTouch }

func (f *nativeFormat) refKey(ref string) string {
	if len(ref) > len(f.prefix) && ref[:len(f.prefix)] == f.prefix {
		return ref
	}
	if id, _, ok := f.signer.verify(ref); ok {
		return f.storeKey(id)
	}
	if isID(ref) {
		// A bare id: its key, rather than the id itself sent to the
		// store (and quoted in its errors).
		return f.storeKey(ref)
	}
	return f.prefix + ref
}

func (f *nativeFormat) marker(k mark) []byte {
	if k == markMoved {
		return []byte(movedMarker)
	}
	return []byte(endedMarker)
}

func (f *nativeFormat) markOf(b []byte) mark {
	if len(b) != len(movedMarker) || b[0] != '{' {
		return markNone
	}
	switch {
	case string(b) == movedMarker:
		return markMoved
	case string(b) == endedMarker:
		return markEnded
	}
	return markNone
}
