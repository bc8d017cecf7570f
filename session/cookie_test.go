package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func FuzzVerify(f *testing.F) {
	s := newSigner([]string{"0123456789abcdef0123456789abcdef", "an older secret, still verifying"}, "")
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
	s := newSigner([]string{"0123456789abcdef0123456789abcdef"}, "")
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

// TestDefaultNameCookieIsTheMACOfTheID pins the cookie format of Beaker's
// default cookie name: "<id>.<base64url(HMAC-SHA256(secret, id))>", as
// before names were bound; another name binds the name too.
func TestDefaultNameCookieIsTheMACOfTheID(t *testing.T) {
	const sec = "0123456789abcdef0123456789abcdef"
	id := newID()
	h := hmac.New(sha256.New, []byte(sec))
	h.Write([]byte(id))
	want := id + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	if got := newSigner([]string{sec}, cookieBinding(DefaultCookieName)).sign(id); got != want {
		t.Fatalf("default-name cookie %q, want %q", got, want)
	}
	other := newSigner([]string{sec}, cookieBinding("admin"))
	if _, _, ok := other.verify(want); ok {
		t.Fatal("a default-name cookie verifies under another name")
	}
}
