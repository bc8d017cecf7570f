package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gobeaker/beaker/store/memstore"
)

// Bytes match a remembered record only at the address and length it was
// remembered with: an equal copy, or a part of them, does not.
func TestCachedRecordMatchesBytesByIdentity(t *testing.T) {
	b := encodeRecord(nil, &record{Format: recordFormat, Created: 1, Values: []value{{key: "k", raw: []byte(`1`)}}})
	r, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	c := (&cachedRecord{b: b, rec: r}).seal()
	if !c.matches(b) {
		t.Fatal("its own bytes do not match")
	}
	for name, other := range map[string][]byte{
		"a copy":        slices.Clone(b),
		"a prefix":      b[:len(b)-1],
		"a suffix":      b[1:],
		"longer":        append(b[:len(b):len(b)], ' '),
		"empty":         nil,
		"an empty head": b[:0],
	} {
		if c.matches(other) {
			t.Errorf("%s matches", name)
		}
	}
	if (*cachedRecord)(nil).matches(b) {
		t.Error("no record matches")
	}
}

// checkRecordCache checks every record m remembers, and those in recent
// (records remembered before, which may still be in use), against its
// bytes: it must be what they decode to, and its values must refer to
// those bytes and nothing else. It adds what it finds to recent.
func checkRecordCache(t *testing.T, m *Manager, recent *[]*cachedRecord) (n int) {
	t.Helper()
	var all []*cachedRecord
	for i := range m.server.verified.slots {
		if ve := m.server.verified.slots[i].Load(); ve != nil && ve.rec.Load() != nil {
			all = append(all, ve.rec.Load())
			n++
		}
	}
	all = append(all, *recent...)
	for i, e := range all {
		if cap(e.b) > maxCachedRecord {
			t.Fatalf("record %d: its bytes hold %d bytes of memory (length %d), over %d", i, cap(e.b), len(e.b), maxCachedRecord)
		}
		want, err := decodeRecord(e.b)
		if err != nil {
			t.Fatalf("record %d: its bytes do not decode: %v", i, err)
		}
		if got, w := recordString(e.rec), recordString(want); got != w {
			t.Fatalf("record %d: remembered %.300s, the bytes decode to %.300s", i, got, w)
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(e.b)))
		hi := lo + uintptr(len(e.b))
		for _, v := range e.rec.Values {
			if len(v.raw) == 0 {
				continue
			}
			if p := uintptr(unsafe.Pointer(unsafe.SliceData(v.raw))); p < lo || p+uintptr(len(v.raw)) > hi {
				t.Fatalf("record %d: the value of %q is not in the remembered bytes", i, v.key)
			}
		}
	}
	for _, e := range all[:n] {
		if !slices.Contains(*recent, e) {
			*recent = append(*recent, e)
		}
	}
	if len(*recent) > 16 {
		*recent = (*recent)[len(*recent)-16:]
	}
	return n
}

// recordString is r in a form to compare.
func recordString(r record) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "v=%d c=%d t=%q n=%d", r.Format, r.Created, r.CSRF, r.Seq)
	for _, v := range r.Values {
		fmt.Fprintf(&sb, " %q:%s", v.key, v.raw)
	}
	for _, q := range slices.Sorted(maps.Keys(r.Flash)) {
		for _, m := range r.Flash[q] {
			fmt.Fprintf(&sb, " flash[%q]=%d:%s", q, m.ID, m.Msg)
		}
	}
	return sb.String()
}

// Random requests on a memstore, which shares its bytes: each request sees
// exactly what the requests before it left (whether its load found a
// remembered record or decoded one), and every remembered record is what
// its bytes decode to, referring to nothing else.
func TestRecordCacheAgreesWithStore(t *testing.T) {
	m, st := newMemManager(t)
	if !m.server.remember {
		t.Fatal("records are not remembered on a memstore")
	}
	keys := []string{"a", "counter", "é", "tab\tkey", `quote"key`, "<html>", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{} // key -> JSON
	var step func(s *Session) string
	var seen string
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		got := map[string]string{}
		for k, v := range s.All() {
			got[k] = string(v)
		}
		b, _ := json.Marshal(got)
		seen = string(b)
		_, _ = w.Write([]byte(step(s)))
	}))
	cookie := ""
	hits := 0
	var recent []*cachedRecord
	for i := range 600 {
		var desc string
		step = func(s *Session) string {
			k := keys[rng.IntN(len(keys))]
			switch op := rng.IntN(10); {
			case op < 4:
				v := strings.Repeat("x", rng.IntN(3)*rng.IntN(800)) + fmt.Sprint(i)
				s.Set(k, v)
				b, _ := json.Marshal(v)
				model[k] = string(b)
				desc = "set " + k
			case op < 5:
				s.Set(k, i)
				model[k] = fmt.Sprint(i)
				desc = "set int " + k
			case op < 6:
				s.Delete(k)
				delete(model, k)
				desc = "delete " + k
			case op < 7:
				s.NewCSRFToken() // a save that sets no key
				desc = "csrf"
			case op < 8:
				s.AddFlash(i)
				desc = "flash"
			case op < 9 && i%50 == 0:
				s.Clear()
				clear(model)
				desc = "clear"
			case op < 9:
				PopFlashes[int](s, "")
				desc = "pop flashes"
			default:
				desc = "read"
			}
			return desc
		}
		checkRecordCache(t, m, &recent)
		if id, _, ok := m.server.f.parseCookie(strings.TrimPrefix(cookie, m.opts.CookieName+"=")); ok {
			e, found, err := st.GetShared(context.Background(), m.server.f.storeKey(id))
			if err != nil {
				t.Fatal(err)
			}
			if ve := m.server.verified.lookup(strings.TrimPrefix(cookie, m.opts.CookieName+"=")); found && ve != nil && ve.rec.Load().matches(e.Value) {
				hits++
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		wantSeen := modelString(model)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d (%s): status %d", i, desc, rec.Code)
		}
		if seen != wantSeen {
			t.Fatalf("request %d (%s) saw %.300s, want %.300s", i, desc, seen, wantSeen)
		}
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		checkRecordCache(t, m, &recent)
	}
	// Most loads find their record: large ones and ones saved with flash
	// messages are not remembered.
	if n := checkRecordCache(t, m, &recent); n == 0 || hits < 200 {
		t.Fatalf("%d records remembered, %d of 600 loads found theirs", n, hits)
	}
	t.Logf("%d of 600 loads found their record", hits)
}

// modelString is what a request's handler records as seen for model.
func modelString(model map[string]string) string {
	b, _ := json.Marshal(model)
	return string(b)
}

// A stored record whose keys are not valid UTF-8 (Set refuses such keys,
// but another program or an older version may have written them) reads
// with U+FFFD in their place, as encoding/json reads it; a request sees
// the same keys whether its load found a remembered record or decoded the
// bytes. (aliasValues also refuses to remember a record holding such a
// key, should one reach a save.)
func TestRecordCacheInvalidUTF8Key(t *testing.T) {
	m, st := newMemManager(t)
	var step func(s *Session)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		step(FromContext(r.Context()))
	}))
	cookie := ""
	do := func(f func(s *Session)) {
		t.Helper()
		step = f
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
	}
	do(func(s *Session) { s.Set("x", 1) })
	// Set refuses such keys (TestEncodeError): write them into the
	// stored record.
	ctx := context.Background()
	var key string
	if err := st.Scan(ctx, "", func(k string) error { key = k; return nil }); err != nil || key == "" {
		t.Fatalf("Scan: key %q, err %v", key, err)
	}
	e, _, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	seeded := bytes.Replace(e.Value, []byte(`"x":1`), []byte("\"x\":1,\"a\xff\":1,\"a\xfe\":2"), 1)
	if bytes.Equal(seeded, e.Value) {
		t.Fatalf("record %q holds no \"x\":1", e.Value)
	}
	if err := st.Set(ctx, key, seeded, time.Hour); err != nil {
		t.Fatal(err)
	}
	do(func(s *Session) { s.Set("y", 2) })
	var remembered, decoded []string
	do(func(s *Session) { remembered = s.Keys() })
	for i := range m.server.verified.slots {
		if ve := m.server.verified.slots[i].Load(); ve != nil {
			ve.rec.Store(nil)
		}
	}
	do(func(s *Session) { decoded = s.Keys() })
	if !slices.Equal(remembered, decoded) {
		t.Fatalf("keys %q with the remembered record, %q decoded from the same bytes", remembered, decoded)
	}
}

// newMemManager returns a Manager on a new memstore, and the store.
func newMemManager(t *testing.T) (*Manager, *memstore.Store) {
	t.Helper()
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	m, err := New(Options{Store: st, Secrets: []string{"records-test-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

// validKey is utf8.ValidString, faster on short ASCII keys.
func TestValidKeyIsValidString(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []string{"a", "Z", "0", "é", "€", "𝄞", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\x00", "\x7f"}
	for i := range 20000 {
		var sb strings.Builder
		for range i % 13 {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		k := sb.String()
		if got, want := validKey(k), utf8.ValidString(k); got != want {
			t.Fatalf("validKey(%q) = %v, utf8.ValidString %v", k, got, want)
		}
	}
}
