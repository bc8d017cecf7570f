package session

import (
	"hash/maphash"
	"slices"
	"strings"
	"testing"
)

// A value that lands in the slot of a remembered one is found only when it
// is the same value, whatever character differs.
func TestVerifiedCacheMatchesWholeValue(t *testing.T) {
	c := newVerifiedCache()
	good := newSigner([]string{"secret-0123456789abcdefgh"}, "").sign(newID())
	e := &verifiedEntry{value: good, id: good[:idLen], key: "k"}
	c.add(e)
	if got := c.lookup(good); got != e {
		t.Fatalf("lookup(good) = %v, want the entry", got)
	}
	for i := range len(good) {
		b := []byte(good)
		b[i] ^= 1
		bad := string(b)
		// Put the good entry where bad would be looked up, as a hash
		// collision would.
		c.slots[maphash.String(c.seed, bad)&(verifiedSlots-1)].Store(e)
		if got := c.lookup(bad); got != nil {
			t.Fatalf("a value differing at %d found the entry of the good one", i)
		}
	}
	for _, bad := range []string{"", good[:len(good)-1], good + "A"} {
		c.slots[maphash.String(c.seed, bad)&(verifiedSlots-1)].Store(e)
		if got := c.lookup(bad); got != nil {
			t.Fatalf("lookup(%q) found the entry of the good value", bad)
		}
	}
}

// Strings of every length up to a few words compare equal only when every
// byte is, wherever the difference is (in a word or in the tail).
func TestSameConstantTime(t *testing.T) {
	for n := range 26 {
		a := []byte(strings.Repeat("abcdefghij", 3)[:n])
		if !sameConstantTime(string(a), string(a)) {
			t.Fatalf("length %d: equal strings compare unequal", n)
		}
		for i := range n {
			for _, bit := range []byte{1, 0x80} {
				b := slices.Clone(a)
				b[i] ^= bit
				if sameConstantTime(string(a), string(b)) {
					t.Fatalf("length %d: a difference at %d (bit %#x) compares equal", n, i, bit)
				}
			}
		}
		if sameConstantTime(string(a), string(a)+"x") {
			t.Fatalf("length %d: a longer string compares equal", n)
		}
	}
}
