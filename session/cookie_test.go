package session

import (
	"strings"
	"testing"
)

func FuzzVerify(f *testing.F) {
	s := newSigner([]string{"0123456789abcdef0123456789abcdef", "an older secret, still verifying"})
	good := s.sign(newID())
	f.Add(good)
	f.Add("")
	f.Add(strings.Repeat("A", valueLen))
	f.Add(good[:idLen] + "." + strings.Repeat("A", macLen))
	f.Fuzz(func(t *testing.T, v string) {
		id, _, ok := s.verify(v)
		if !ok {
			if id != "" {
				t.Fatalf("verify(%q) failed but returned id %q", v, id)
			}
			return
		}
		// Only what sign produced verifies, byte for byte.
		if s.sign(id) != v && signWith(s, 1, id) != v {
			t.Fatalf("verify accepted %q, which no secret signs", v)
		}
	})
}

func signWith(s *signer, i int, id string) string {
	return string(s.mac([]byte(id+"."), i, id))
}

func TestVerifyStrict(t *testing.T) {
	s := newSigner([]string{"0123456789abcdef0123456789abcdef"})
	id := newID()
	v := s.sign(id)
	if got, _, ok := s.verify(v); !ok || got != id {
		t.Fatalf("verify(sign(id)) = %q, %v", got, ok)
	}
	for i := range len(v) {
		for _, c := range []byte("AZaz09-_.=+/ ") {
			if c == v[i] {
				continue
			}
			if _, _, ok := s.verify(v[:i] + string(c) + v[i+1:]); ok {
				t.Fatalf("changing byte %d to %q still verifies", i, c)
			}
		}
	}
}
