package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strings"
	"sync"
	"unsafe"
)

const (
	idBytes  = 24                      // 192 random bits
	idLen    = (idBytes*8 + 5) / 6     // 32 base64url characters
	macLen   = (sha256.Size*8 + 5) / 6 // 43 base64url characters
	valueLen = idLen + 1 + macLen      // id "." mac
)

// signer signs and verifies session-id cookie values: "<id>.<mac>", where id
// is 24 random bytes and mac is HMAC-SHA256 over the exact id text, both in
// unpadded base64url. The first secret signs; every secret verifies.
type signer struct {
	pools []sync.Pool // one pool of *macState per secret
	bind  string      // prefix of every MAC's input; see newSigner
}

// macState is an HMAC and buffers reused across requests.
type macState struct {
	h   hash.Hash
	in  []byte
	sum [sha256.Size]byte
}

// newSigner returns a signer for secrets. bind is mixed into every MAC
// before the id: the cookie's name for a name other than Beaker's default,
// so that a value cannot be moved from one manager's cookie to another's
// (the default name keeps the MAC of the id alone).
func newSigner(secrets []string, bind string) *signer {
	s := &signer{pools: make([]sync.Pool, len(secrets)), bind: bind}
	for i, sec := range secrets {
		key := []byte(sec)
		s.pools[i].New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	}
	return s
}

// mac appends the MAC of id under secret i, as base64url, to dst.
func (s *signer) mac(dst []byte, i int, id string) []byte {
	st := s.pools[i].Get().(*macState)
	st.h.Reset()
	st.in = append(append(st.in[:0], s.bind...), id...)
	st.h.Write(st.in)
	st.h.Sum(st.sum[:0])
	dst = base64.RawURLEncoding.AppendEncode(dst, st.sum[:])
	s.pools[i].Put(st)
	return dst
}

// newID returns a fresh random session id.
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// isID reports whether s has the form of an id that newID makes.
func isID(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// sign returns the cookie value for id.
func (s *signer) sign(id string) string {
	buf := make([]byte, 0, valueLen)
	buf = append(buf, id...)
	buf = append(buf, '.')
	return string(s.mac(buf, 0, id))
}

// verify returns the id in a cookie value and the index of the secret
// that signed it, or ok=false when the value is not one that sign produced
// with one of the secrets. Any change to any character fails: the MAC is
// compared as text, in constant time.
func (s *signer) verify(value string) (id string, secret int, ok bool) {
	if len(value) != valueLen || value[idLen] != '.' {
		return "", 0, false
	}
	id, got := value[:idLen], value[idLen+1:]
	if strings.IndexFunc(id, notB64URL) >= 0 {
		return "", 0, false
	}
	var buf [macLen]byte
	for i := range s.pools {
		want := s.mac(buf[:0], i, id)
		if equalConstantTime(want, got) {
			return id, i, true
		}
	}
	return "", 0, false
}

// equalConstantTime compares a and b in time that depends only on their
// lengths.
func equalConstantTime(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range a {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}

func notB64URL(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// storeKey is the key of a session's record: a hash of the id, so that a
// dump of the store does not hand out live session ids.
func storeKey(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	b := make([]byte, 0, len(prefix)+base64.RawURLEncoding.EncodedLen(len(sum)))
	b = append(b, prefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// logID is what logs show for a session: a short hash, never the id.
func logID(id string) string {
	if id == "" {
		return "(new)"
	}
	sum := sha256.Sum256([]byte("log:" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}
