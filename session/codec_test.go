package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func FuzzRecordCodec(f *testing.F) {
	f.Add([]byte(`{"v":1,"c":1700000000000,"d":{"counter":5,"user":"ann","n":{"a":[1,"}"]}},"f":{"":[{"i":1,"m":"hi"}]},"t":"abc","n":1}`))
	f.Add([]byte(`{"v":1,"c":0}`))
	f.Add([]byte(` { "v" : 1 , "c" : 2 , "d" : { "k\u00e9y" : "va\"l" , "x": null } } `))
	f.Add([]byte(`{"v":2,"c":0}`))
	f.Add([]byte(`[1]`))
	f.Add([]byte(`{"v":1,"c":-0,"d":{"a":"\u00e9\n\"x\\","b":-1.5e+10,"c":[true,false,null,{"x":[]}],"d":0.25E-3}}`))
	f.Add([]byte(`{"v":1,"c":5,"d":{"k":"v"}} `))
	f.Add([]byte(`{"v":1,"c":null,"t":null,"d":null,"f":null}`))
	f.Add([]byte(`{"v":1,"c":1,"d":{"a":1,"b":"x","a":[2]},"t":"tok","n":7}`))
	f.Add([]byte(`{"v":1,"c":-0,"d":{},"t":null,"n":0}`))
	f.Add([]byte(`{"v":1,"c":1,"t":"\u00e9","n":18446744073709551616}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ambiguous(b) {
			return
		}
		if fast, ok := decodeCompact(b, nil); ok {
			slow, err := decodeGeneric(b)
			if err != nil || !sameRecord(fast, slow) {
				t.Fatalf("decodeCompact(%q) = %+v; decodeGeneric = %+v, %v", b, fast, slow, err)
			}
		}
		got, err := decodeRecord(b)
		var want jsonRecord
		werr := json.Unmarshal(b, &want)
		if werr == nil && want.Format != recordFormat {
			werr = errRecord
		}
		if err != nil {
			if werr == nil && json.Valid(b) && validShape(b) {
				t.Fatalf("decodeRecord(%q) failed (%v) where encoding/json succeeds", b, err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("decodeRecord(%q) succeeded where encoding/json fails: %v", b, werr)
		}
		if !sameRecord(got, want.record()) {
			t.Fatalf("decodeRecord(%q) = %+v, encoding/json = %+v", b, got, want)
		}
		// Round trip through the hand-written encoder.
		enc := encodeRecord(nil, &got)
		if !json.Valid(enc) {
			t.Fatalf("encodeRecord gave invalid JSON %q", enc)
		}
		again, err := decodeRecord(enc)
		if err != nil || !sameRecord(again, got) {
			t.Fatalf("round trip of %+v: %q → %+v, %v", got, enc, again, err)
		}
		// The same, with the values pointed at the encoding (a save's
		// record that is remembered): the same bytes, the same record.
		view := got
		view.Values = slices.Clone(got.Values)
		at := make([]valueAt, len(view.Values))
		if enc2 := encodeRecordAt(nil, &view, at); !bytes.Equal(enc2, enc) {
			t.Fatalf("encodeRecordAt(%+v) = %q, encodeRecord = %q", got, enc2, enc)
		} else if aliasValues(enc2, &view, at); !sameRecord(view, got) {
			t.Fatalf("the values of %+v pointed at %q read %+v", got, enc2, view)
		}
	})
}

// ambiguous reports input on which the two decoders differ by design:
// encoding/json matches member names case-insensitively and merges
// repeated objects; decodeRecord matches exactly, as the writer writes.
func ambiguous(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	seen := map[string]bool{}
	amb := false
	_ = eachMember(b, i, func(k, _ []byte) error {
		key := string(k)
		for _, known := range []string{"v", "c", "d", "f", "t", "n"} {
			if key != known && strings.EqualFold(key, known) {
				amb = true
			}
		}
		if seen[strings.ToLower(key)] {
			amb = true
		}
		seen[strings.ToLower(key)] = true
		return nil
	})
	return amb
}

// validShape reports whether b's members have the types record declares,
// which encoding/json checks and decodeRecord checks too, with different
// words for it.
func validShape(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil
}

// jsonRecord is record as encoding/json reads it, the oracle of the fuzz
// test.
type jsonRecord struct {
	Format  int                        `json:"v"`
	Created int64                      `json:"c"`
	Values  map[string]json.RawMessage `json:"d"`
	Flash   map[string][]flashMessage  `json:"f"`
	CSRF    string                     `json:"t"`
	Seq     uint64                     `json:"n"`
}

func (j jsonRecord) record() record {
	r := record{Format: j.Format, Created: j.Created, Flash: j.Flash, CSRF: j.CSRF, Seq: j.Seq}
	for k, v := range j.Values {
		r.Values = append(r.Values, value{key: k, raw: v})
	}
	return r
}

// sameRecord compares records, values as decoded JSON (encoding/json keeps
// a value's bytes as they were; so does decodeRecord, but compare the
// meaning to be safe about whitespace).
func sameRecord(a, b record) bool {
	if a.Format != b.Format || a.Created != b.Created || a.CSRF != b.CSRF || a.Seq != b.Seq {
		return false
	}
	if len(a.Flash) != len(b.Flash) {
		return false
	}
	for q, am := range a.Flash {
		bm, ok := b.Flash[q]
		if !ok || len(am) != len(bm) {
			return false
		}
		for i := range am {
			if am[i].ID != bm[i].ID || !sameJSON(am[i].Msg, bm[i].Msg) {
				return false
			}
		}
	}
	if len(a.Values) != len(b.Values) {
		return false
	}
	for _, v := range a.Values {
		av := v.raw
		bv, ok := b.lookup(v.key)
		if !ok {
			return false
		}
		var x, y any
		if json.Unmarshal(av, &x) != nil || json.Unmarshal(bv, &y) != nil || !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// sameJSON compares two JSON values by meaning; a missing value (nil) is
// null, as encoding/json writes a nil RawMessage.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if len(a) == 0 {
		a = json.RawMessage("null")
	}
	if len(b) == 0 {
		b = json.RawMessage("null")
	}
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// eachMember calls fn with each key and raw value of the object at b[i].
func eachMember(b []byte, i int, fn func(key, val []byte) error) error {
	m := members{b: b, i: i}
	for {
		k, v, ok := m.next()
		if !ok {
			return m.err
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good := `{"v":1,"c":5,"d":{"k":"v"}}`
	if _, err := decodeRecord([]byte(good)); err != nil {
		t.Fatalf("good record: %v", err)
	}
	for _, bad := range []string{
		``, `{`, `{"v":1,"c":5`, `{"v":1,"c":5}x`, `{"v":1,"c":5}}`, `{"v":1,,"c":5}`, `{"v":1,"c":5,}`,
		`{"v" 1}`, `{v:1}`, `{"v":1,"c":5,"d":{"k":"v}}`, `{"v":1,"c":5,"d":{"k":"\x"}}`,
		`{"v":1,"c":5,"d":{"k":"\u12"}}`, "{\"v\":1,\"c\":5,\"d\":{\"k\":\"a\tb\"}}", `{"v":1,"c":5,"d":{"k":01}}`,
		`{"v":1,"c":5,"d":{"k":1.}}`, `{"v":1,"c":5,"d":{"k":-}}`, `{"v":1,"c":5,"d":{"k":tru}}`,
		`{"v":1,"c":5,"d":{"k":[1,]}}`, `{"v":1,"c":5,"d":{"k":{"a" 1}}}`, `{"v":1,"c":5,"d":{"k":1e}}`,
		`{"v":1,"c":5,"d":{"k":nul}}`, `{"v":1,"c":5,"d":[]}`, `{"v":2,"c":5}`, `[{"v":1}]`,
	} {
		if r, err := decodeRecord([]byte(bad)); err == nil {
			t.Errorf("decodeRecord(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestDecodeRecordRepeatedKeys(t *testing.T) {
	for _, n := range []int{3, 40} { // searched, then indexed
		var b strings.Builder
		b.WriteString(`{"v":1,"c":5,"d":{`)
		for i := range n {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		b.WriteString(`"k1":"last"}}`)
		r, err := decodeRecord([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Values) != n {
			t.Fatalf("%d keys with one repeated: %d values", n, len(r.Values))
		}
		if v, _ := r.lookup("k1"); string(v) != `"last"` {
			t.Fatalf("repeated key: %s, want the last value", v)
		}
	}
}

func BenchmarkDecodeRecord2K(b *testing.B) {
	r := record{Format: recordFormat, Created: 1, Values: []value{
		{key: "counter", raw: json.RawMessage("41")},
		{key: "blob", raw: appendString(nil, strings.Repeat("abcdefgh", 256))},
	}}
	enc := encodeRecord(nil, &r)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRecord(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecordSmall(b *testing.B) {
	r := record{Format: recordFormat, Created: 1764540000000, Values: []value{
		{key: "counter", raw: json.RawMessage("41")},
	}}
	enc := encodeRecord(nil, &r)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRecord(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// A control character or an escape anywhere in a value, at every offset
// of the word-at-a-time scan, is seen.
func TestScanStringEveryOffset(t *testing.T) {
	for n := 1; n < 80; n++ {
		for at := range n {
			for _, c := range []byte{0x00, 0x1f, '\n', '\\'} {
				b := []byte(`{"v":1,"c":1,"d":{"k":"` + strings.Repeat("a", n) + `"}}`)
				b[len(`{"v":1,"c":1,"d":{"k":"`)+at] = c
				_, err := decodeRecord(b)
				if want := json.Unmarshal(b, new(map[string]any)) != nil; (err != nil) != want {
					t.Fatalf("n=%d at=%d byte %#x: decode error %v, encoding/json rejects: %v", n, at, c, err, want)
				}
			}
		}
	}
}

// Every record the encoder writes without flash messages is read by the
// compact reader (the fast path), the same as by the generic one.
func TestDecodeCompactReadsEncoderOutput(t *testing.T) {
	for _, r := range []record{
		{Format: recordFormat, Created: 1764540000000},
		{Format: recordFormat, Created: -5, Values: []value{{key: "counter", raw: json.RawMessage("41")}}},
		{Format: recordFormat, Created: 1, Values: []value{{key: "é", raw: json.RawMessage(`{"a":[1,"}"]}`)}, {key: "s", raw: json.RawMessage(`"x\"y"`)}}, CSRF: "tok", Seq: 12},
	} {
		enc := encodeRecord(nil, &r)
		fast, ok := decodeCompact(enc, nil)
		if !ok {
			t.Fatalf("decodeCompact(%s) refused the encoder's output", enc)
		}
		if !sameRecord(fast, r) {
			t.Fatalf("decodeCompact(%s) = %+v, want %+v", enc, fast, r)
		}
	}
}
