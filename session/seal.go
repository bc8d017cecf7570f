package session

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/crypto/chacha20poly1305"
)

// The sealed cookie of a client-side session is, in unpadded base64url:
//
//	version (1 byte, 1) | key id (4) | nonce (24) | ciphertext | tag (16)
//
// sealed with XChaCha20-Poly1305 under the key that the key id names. The
// plaintext is
//
//	issued (8 bytes) | expires (8) | the record's JSON (codec.go)
//
// with both times in unix milliseconds, big-endian. The authenticated data
// is the version, the key id and the cookie name, so a value opens only
// under the name it was sealed for. Nothing is compressed: the length of
// a compressed payload would tell an attacker who can inject text into
// the session whether it matched a secret in it (the CSRF token).
//
// Each key comes from configured key material through HKDF-SHA256, with a
// distinct label per purpose: one for the AEAD key, one for the key id.
// The id is a public hint that picks the key to try, so that a cookie
// costs one AEAD open however many fallback keys are configured, and a
// cookie under no configured key costs none.
const (
	sealVersion    = 1
	sealKeyIDLen   = 4
	sealNonceStart = 1 + sealKeyIDLen
	sealHeaderLen  = sealNonceStart + chacha20poly1305.NonceSizeX // 29
	sealTimesLen   = 16
	// sealOverhead is what sealing adds to the record's JSON, in bytes
	// before base64.
	sealOverhead = sealHeaderLen + sealTimesLen + chacha20poly1305.Overhead

	labelSealKey = "beaker-go session cookie v1: XChaCha20-Poly1305 key"
	labelKeyID   = "beaker-go session cookie v1: key id"
)

// keyMaterial is one configured key: a secret, and a salt (the validate
// key when an encrypt key is given; nil otherwise).
type keyMaterial struct {
	secret, salt []byte
}

// sealKey is one derived key, ready to seal and open.
type sealKey struct {
	id   [sealKeyIDLen]byte
	aead cipher.AEAD // safe for concurrent use: it holds only the key
	ad   []byte      // version, key id, cookie name
}

// sealer seals records into cookie values and opens them. The first key
// seals; every key opens.
type sealer struct {
	keys []sealKey
	// nonce fills a fresh nonce; nil means crypto/rand. Tests make it
	// deterministic.
	nonce func([]byte)
}

func newSealer(material []keyMaterial, cookieName string) (*sealer, error) {
	if len(material) == 0 {
		return nil, ErrNoSecret
	}
	s := &sealer{keys: make([]sealKey, len(material))}
	for i, km := range material {
		key, err := hkdf.Key(sha256.New, km.secret, km.salt, labelSealKey, chacha20poly1305.KeySize)
		if err != nil {
			return nil, err
		}
		id, err := hkdf.Key(sha256.New, km.secret, km.salt, labelKeyID, sealKeyIDLen)
		if err != nil {
			return nil, err
		}
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, err
		}
		k := &s.keys[i]
		copy(k.id[:], id)
		k.aead = aead
		k.ad = append(append([]byte{sealVersion}, id...), cookieName...)
	}
	return s, nil
}

// sealed is what a cookie held.
type sealed struct {
	rec     record
	issued  int64 // unix ms: when it was sealed
	expires int64 // unix ms: when it stops opening (idle timeout or lifetime)
	key     int   // index of the key that opened it; 0 is the current one
}

// seal seals the record JSON that buf holds after its first
// sealHeaderLen+sealTimesLen bytes (which seal fills) under the current
// key, in place, and returns the sealed bytes: the cookie value once
// base64url-encoded.
func (s *sealer) seal(buf []byte, issued, expires int64) []byte {
	k := &s.keys[0]
	buf[0] = sealVersion
	copy(buf[1:sealNonceStart], k.id[:])
	if s.nonce != nil {
		s.nonce(buf[sealNonceStart:sealHeaderLen])
	} else {
		_, _ = rand.Read(buf[sealNonceStart:sealHeaderLen]) // never fails
	}
	binary.BigEndian.PutUint64(buf[sealHeaderLen:], uint64(issued))
	binary.BigEndian.PutUint64(buf[sealHeaderLen+8:], uint64(expires))
	buf = slices.Grow(buf, chacha20poly1305.Overhead)
	// In place: the ciphertext overwrites the plaintext exactly.
	return k.aead.Seal(buf[:sealHeaderLen], buf[sealNonceStart:sealHeaderLen], buf[sealHeaderLen:], k.ad)
}

// sealBuffer returns buf (a pooled buffer, or nil) ready for seal, with
// room for a record of about size bytes of JSON after the header and the
// times.
func sealBuffer(buf []byte, size int) []byte {
	return slices.Grow(buf[:0], sealOverhead+size)[:sealHeaderLen+sealTimesLen]
}

var (
	errNotSealed = errors.New("not a sealed session cookie")
	errNoKey     = errors.New("sealed under no configured key, or altered")
)

// maxSealedLen is the longest value open tries: no browser keeps a longer
// cookie, and seal never makes one.
const maxSealedLen = MaxCookieSize

// open returns what the cookie value holds, when the value is exactly one
// that seal made under one of the keys for this cookie name. Expiry is the
// caller's to check. The record's values alias a buffer of its own.
func (s *sealer) open(value string) (sealed, error) {
	minLen := base64.RawURLEncoding.EncodedLen(sealOverhead)
	// Strict decoding refuses stray bits in the last character and every
	// byte outside the alphabet but CR and LF, which it skips.
	if len(value) < minLen || len(value) > maxSealedLen ||
		strings.IndexByte(value, '\r') >= 0 || strings.IndexByte(value, '\n') >= 0 {
		return sealed{}, errNotSealed
	}
	dec := base64.RawURLEncoding.Strict()
	src := unsafe.Slice(unsafe.StringData(value), len(value)) // read only
	raw, err := dec.AppendDecode(make([]byte, 0, dec.DecodedLen(len(value))), src)
	if err != nil || raw[0] != sealVersion {
		return sealed{}, errNotSealed
	}
	tried := false
	for i := range s.keys {
		k := &s.keys[i]
		if [sealKeyIDLen]byte(raw[1:sealNonceStart]) != k.id {
			continue
		}
		if tried { // a failed Open clobbers its output: decode again
			raw, _ = dec.AppendDecode(raw[:0], src)
		}
		tried = true
		pt, err := k.aead.Open(raw[sealHeaderLen:sealHeaderLen], raw[sealNonceStart:sealHeaderLen], raw[sealHeaderLen:], k.ad)
		if err != nil {
			continue
		}
		if len(pt) < sealTimesLen {
			return sealed{}, errNotSealed
		}
		rec, err := decodeRecord(pt[sealTimesLen:])
		if err != nil {
			return sealed{}, err
		}
		return sealed{
			rec:     rec,
			issued:  int64(binary.BigEndian.Uint64(pt)),
			expires: int64(binary.BigEndian.Uint64(pt[8:])),
			key:     i,
		}, nil
	}
	return sealed{}, errNoKey
}
