package session

import (
	"hash/maphash"
	"slices"
	"strings"
	"testing"
	"unsafe"
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

// within returns the part of the copy that sub is of the original, sharing
// the copy's bytes, and a copy of sub when it is not inside the original.
func TestWithin(t *testing.T) {
	header := "a=1; beaker.session.id=0123456789.sig; b=2"
	orig := header[5:37]
	cp := strings.Clone(orig)
	inCopy := func(s string) bool {
		p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(cp)))
		return p >= start && p+uintptr(len(s)) <= start+uintptr(len(cp))
	}
	for _, tc := range []struct {
		sub    string
		shares bool
	}{
		{orig[18:28], true},                 // the id inside the value
		{orig, true},                        // all of it
		{orig[len(orig)-3:], true},          // its end
		{header[:5], false},                 // before it, in the same header
		{header[30:], false},                // overlapping its end
		{strings.Clone(orig[18:28]), false}, // equal bytes elsewhere
		{"", false},
	} {
		got := within(cp, orig, tc.sub)
		if got != tc.sub {
			t.Errorf("within(%q) = %q, want the same text", tc.sub, got)
		}
		if len(got) > 0 && inCopy(got) != tc.shares {
			t.Errorf("within(%q) shares the copy's bytes: %v, want %v", tc.sub, inCopy(got), tc.shares)
		}
		if len(got) > 0 && !tc.shares && unsafe.StringData(got) == unsafe.StringData(tc.sub) {
			t.Errorf("within(%q) returned the original bytes, not a copy", tc.sub)
		}
	}
}
