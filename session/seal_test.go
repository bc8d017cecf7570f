package session

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testSealers returns a sealer with a current and a fallback key for the
// cookie name "s", and values it sealed (one under each key).
func testSealers(t testing.TB) (*sealer, []string) {
	t.Helper()
	cur := keyMaterial{secret: []byte("the current secret, 32 bytes....")}
	old := keyMaterial{secret: []byte("an older secret, still opening.."), salt: []byte("salt")}
	both, err := newSealer([]keyMaterial{cur, old}, "s")
	if err != nil {
		t.Fatal(err)
	}
	oldOnly, err := newSealer([]keyMaterial{old}, "s")
	if err != nil {
		t.Fatal(err)
	}
	// Deterministic nonces, so that a fuzz worker process seals the same
	// values as the coordinator.
	var counter byte
	for _, s := range []*sealer{both, oldOnly} {
		s.nonce = func(b []byte) {
			counter++
			for i := range b {
				b[i] = counter
			}
		}
	}
	rec := record{Format: recordFormat, Created: 1_700_000_000_000, CSRF: "tok",
		Values: []value{{key: "user", raw: []byte(`"ann"`)}, {key: "n", raw: []byte(`{"a":[1,2]}`)}}}
	var values []string
	for _, s := range []*sealer{both, oldOnly} {
		buf := encodeRecord(sealBuffer(nil, estimateRecord(&rec)), &rec)
		values = append(values, base64.RawURLEncoding.EncodeToString(s.seal(buf, 1_700_000_000_000, 1_700_000_600_000)))
		empty := record{Format: recordFormat, Created: 1}
		values = append(values, base64.RawURLEncoding.EncodeToString(s.seal(encodeRecord(sealBuffer(nil, 0), &empty), 1, 2)))
	}
	return both, values
}

func TestSealOpen(t *testing.T) {
	s, values := testSealers(t)
	for i, v := range values {
		p, err := s.open(v)
		if err != nil {
			t.Fatalf("value %d does not open: %v", i, err)
		}
		if want := i / 2; p.key != want {
			t.Errorf("value %d opened with key %d, want %d", i, p.key, want)
		}
		if i%2 == 0 {
			if p.issued != 1_700_000_000_000 || p.expires != 1_700_000_600_000 || p.rec.CSRF != "tok" || len(p.rec.Values) != 2 {
				t.Errorf("value %d opened to %+v", i, p)
			}
		}
	}
	// The name is authenticated: the same keys under another name open
	// nothing.
	other, err := newSealer([]keyMaterial{{secret: []byte("the current secret, 32 bytes....")}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.open(values[0]); err == nil {
		t.Fatal("a value sealed for cookie s opened as cookie t")
	}
}

// TestKeyIDCollision: two keys with the same id (forced here) are both
// tried, the failed Open of the first not spoiling the second.
func TestKeyIDCollision(t *testing.T) {
	s, values := testSealers(t)
	s.keys[0].id = s.keys[1].id
	s.keys[0].ad = append([]byte{sealVersion}, append(s.keys[1].id[:], 's')...)
	p, err := s.open(values[2]) // sealed under the old key, now second
	if err != nil || p.key != 1 {
		t.Fatalf("open: key %d, %v", p.key, err)
	}
}

func TestDerivedKeysDiffer(t *testing.T) {
	s, _ := testSealers(t)
	if s.keys[0].id == s.keys[1].id {
		t.Fatal("two keys share an id")
	}
	km := keyMaterial{secret: []byte("x")}
	a, _ := newSealer([]keyMaterial{km}, "s")
	b, _ := newSealer([]keyMaterial{{secret: []byte("x"), salt: []byte("v")}}, "s")
	if a.keys[0].id == b.keys[0].id {
		t.Fatal("the validate key does not change the key")
	}
}

// FuzzOpenCookie feeds the opener random, truncated, bit-flipped and
// reordered values: it must never panic, and never accept a value that
// the sealer did not make.
func FuzzOpenCookie(f *testing.F) {
	s, values := testSealers(f)
	genuine := map[string]bool{}
	for _, v := range values {
		genuine[v] = true
		f.Add(v)
		f.Add(v[:len(v)-1])
		f.Add(v[:len(v)/2])
		f.Add(v[len(v)/2:] + v[:len(v)/2])
		raw, _ := base64.RawURLEncoding.DecodeString(v)
		for _, i := range []int{0, 1, 5, 29, 30, 45, len(raw) - 1} {
			b := bytes.Clone(raw)
			b[i] ^= 1
			f.Add(base64.RawURLEncoding.EncodeToString(b))
		}
	}
	f.Add("")
	f.Add(strings.Repeat("A", 80))
	f.Add("AQ" + strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, v string) {
		p, err := s.open(v)
		if err != nil {
			return
		}
		if !genuine[v] {
			t.Fatalf("accepted a value the sealer never made: %q (%+v)", v, p)
		}
	})
}

// TestSetCookieLine: the line built around the sealed value is the one
// net/http would build, whatever the attributes.
func TestSetCookieLine(t *testing.T) {
	sealed := bytes.Repeat([]byte{0xfb, 0x01, 0x7f}, 40)
	value := base64.RawURLEncoding.EncodeToString(sealed)
	exp := time.Unix(1_700_000_000, 0)
	for _, ck := range []http.Cookie{
		{Name: "beaker.session.id", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode},
		{Name: "s", Path: "/app", Domain: "example.com", Secure: true, SameSite: http.SameSiteStrictMode, Expires: exp, MaxAge: 3600},
		{Name: "s", SameSite: http.SameSiteNoneMode, Secure: true, Partitioned: true},
		{Name: "bad name", Path: "/"},
	} {
		want := ck
		want.Value = value
		if got := setCookieLine(&ck, sealed); got != want.String() {
			t.Errorf("got  %q\nwant %q", got, want.String())
		}
	}
}
