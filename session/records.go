package session

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// maxCachedRecord bounds the records a session's verified cookie entry
// remembers: the capacity of their bytes, not only their length, so that
// it bounds the memory they hold. Each entry remembers the record of its
// own session, which the store holds too; what the cache alone keeps alive
// (the last record of a session that ended, until its slot is reused) is
// bounded by verifiedSlots × maxCachedRecord (16 MiB, and a little more
// with the allocator's rounding), and is far less for sessions of ordinary
// size.
const maxCachedRecord = 4 << 10

// cachedRecord is a record and the bytes it was read from or written to,
// remembered (verifiedEntry.rec) when the store hands out its own bytes
// (store.SharedGetter), so that a request that loads those same bytes
// skips decoding them.
//
// It is sound because such a store never modifies bytes it was given or
// handed out, and because a cachedRecord holds the bytes it describes:
// while it does, no other allocation can take their address, so bytes
// found at that address, of that length, are those bytes. The record's
// values refer to those bytes and nothing else, and no one modifies it:
// requests that load it share it.
type cachedRecord struct {
	b   []byte
	rec record
	// vals backs rec.Values when the record has few values, which saves
	// an allocation.
	vals [4]value
}

// matches reports whether b are c's bytes: the same address and length.
func (c *cachedRecord) matches(b []byte) bool {
	return c != nil && len(b) > 0 && unsafe.SliceData(c.b) == unsafe.SliceData(b) && len(c.b) == len(b)
}

// seal makes c ready to share: its values can no longer be appended to in
// place.
func (c *cachedRecord) seal() *cachedRecord {
	c.rec.Values = c.rec.Values[:len(c.rec.Values):len(c.rec.Values)]
	return c
}

// aliasValues points each value of r at its copy in out, the encoding of r
// that at describes (see encodeRecordAt), so that r refers to no bytes
// but out's. r.Values must be r's own: no other record shares it. It
// reports false, leaving r only partly pointed at out (the same keys and
// values), when a key is not valid UTF-8: out holds it with U+FFFD in
// place of the invalid bytes, so r is not what out decodes to and must
// not be remembered.
func aliasValues(out []byte, r *record, at []valueAt) bool {
	for i := range r.Values {
		v, a := &r.Values[i], at[i]
		switch k := out[a.key+1 : a.val-2]; {
		case string(k) == v.key:
			v.key = unsafe.String(unsafe.SliceData(k), len(k))
		case !utf8.ValidString(v.key):
			return false
		default:
			v.key = strings.Clone(v.key) // escaped: not in out as it is
		}
		v.raw = out[a.val:a.end:a.end]
	}
	return true
}
