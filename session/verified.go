package session

import (
	"crypto/subtle"
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// verifiedSlots is the number of cookie values a verifiedCache remembers
// (a power of two). A returning client's cookie is found in it until
// another value that hashes to the same slot replaces it.
const verifiedSlots = 4096

// verifiedCache remembers cookie values that verified recently, with the
// id, the store key and whether an older secret signed them, so that a
// returning client's cookie costs a hash and a comparison instead of an
// HMAC and a SHA-256. Verifying is a pure function of the value and the
// manager's secrets, so a remembered result is always the right one.
//
// The comparison with the remembered value runs in constant time, and a
// value is found only when it is exactly one that verified: a forged value
// learns nothing from the cache that the HMAC would not tell it. The slots
// are chosen with a random seed; entries never change once stored (but for
// the record they remember, an atomic pointer), so a lookup needs no lock.
type verifiedCache struct {
	seed  maphash.Seed
	slots [verifiedSlots]atomic.Pointer[verifiedEntry]
}

// verifiedEntry is one remembered cookie value.
type verifiedEntry struct {
	value string // the whole cookie value, as the client sent it
	id    string
	key   string // the store key of id
	stale bool   // an older secret signed it

	// rec is the record of id last read or written through this entry,
	// with its bytes, when the store shares its bytes; see cachedRecord.
	// It is the one part of an entry that changes.
	rec atomic.Pointer[cachedRecord]
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{seed: maphash.MakeSeed()}
}

// lookup returns the entry of value, or nil.
func (c *verifiedCache) lookup(value string) *verifiedEntry {
	e := c.slots[maphash.String(c.seed, value)&(verifiedSlots-1)].Load()
	if e == nil || !sameConstantTime(e.value, value) {
		return nil
	}
	return e
}

// sameConstantTime reports whether a == b, in time that depends only on
// their lengths. It compares eight bytes at a time.
func sameConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	x := unsafe.Slice(unsafe.StringData(a), len(a)) // read only
	y := unsafe.Slice(unsafe.StringData(b), len(a))
	var v uint64
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v |= binary.LittleEndian.Uint64(x[i:i+8]) ^ binary.LittleEndian.Uint64(y[i:i+8])
	}
	for ; i < len(x); i++ {
		v |= uint64(x[i] ^ y[i])
	}
	return subtle.ConstantTimeEq(int32(uint32(v)|uint32(v>>32)), 0) == 1
}

// add remembers e, replacing whatever its slot held.
func (c *verifiedCache) add(e *verifiedEntry) {
	c.slots[maphash.String(c.seed, e.value)&(verifiedSlots-1)].Store(e)
}
