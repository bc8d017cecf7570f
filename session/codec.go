package session

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// The record's JSON is read and written by hand: it is on every request's
// path, and encoding/json's reflection (and its sorting of map keys) cost
// more than the rest of the request. The reader validates as it goes:
// the object structure, strings, numbers and literals by hand (one pass,
// so a large string value costs little), nested containers with
// json.Valid. A fuzz test checks that it accepts exactly what
// encoding/json accepts, and reads the same record.

var errRecord = errors.New("malformed session record")

// decodeRecord parses a stored record. Values alias b.
func decodeRecord(b []byte) (record, error) { return decodeRecordInto(b, nil) }

// decodeRecordInto is decodeRecord, with the record's values appended to
// buf[:0] when it is not nil (a buffer the caller keeps, which saves an
// allocation).
func decodeRecordInto(b []byte, buf []value) (record, error) {
	if r, ok := decodeCompact(b, buf); ok {
		return r, nil
	}
	return decodeGeneric(b)
}

// compactHead is how every record encodeRecord writes begins.
const compactHead = `{"v":1,"c":`

// decodeCompact reads a record in the exact form encodeRecord writes it
// (no blanks, the members in its order, plain keys, no flash messages), the
// form of nearly every record read; ok is false for anything else, which
// decodeGeneric then reads (or refuses). Whatever it accepts, it reads as
// decodeGeneric would.
func decodeCompact(b []byte, buf []value) (r record, ok bool) {
	if len(b) < len(compactHead) || string(b[:len(compactHead)]) != compactHead {
		return r, false
	}
	i := len(compactHead)
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	j = digits(b, j)
	if scanNumber(b, i) != j {
		return r, false // not a plain integer
	}
	created, ok := shortInt(b[i:j])
	if !ok {
		return r, false
	}
	r.Format, r.Created = recordFormat, created
	i = j
	if hasMember(b, i, 'd') {
		i += len(`,"d":{`)
		r.Values = buf[:0]
		if r.Values == nil {
			r.Values = make([]value, 0, 4)
		}
		var index map[string]int
		if i < len(b) && b[i] == '}' {
			i++
		} else {
			for {
				if i >= len(b) || b[i] != '"' {
					return r, false
				}
				end, plain := scanString(b, i)
				if end < 0 || !plain || !utf8.Valid(b[i+1:end-1]) || end >= len(b) || b[end] != ':' {
					return r, false
				}
				key := b[i+1 : end-1]
				vend := scanValue(b, end+1)
				if vend < 0 || vend >= len(b) {
					return r, false
				}
				r.Values, index = addValue(r.Values, index, keyString(b, key), b[end+1:vend])
				i = vend + 1
				if b[vend] == '}' {
					break
				}
				if b[vend] != ',' {
					return r, false
				}
			}
		}
	}
	if hasMember(b, i, 't') {
		i += len(`,"t":`)
		if i >= len(b) || b[i] != '"' {
			return r, false
		}
		end, plain := scanString(b, i)
		if end < 0 || !plain || !utf8.Valid(b[i+1:end-1]) {
			return r, false
		}
		r.CSRF = string(b[i+1 : end-1])
		i = end
	}
	if hasMember(b, i, 'n') {
		i += len(`,"n":`)
		j := digits(b, i)
		if j == i || j-i > 19 || b[i] == '0' {
			return r, false
		}
		n, err := strconv.ParseUint(string(b[i:j]), 10, 64)
		if err != nil {
			return r, false
		}
		r.Seq, i = n, j
	}
	if i != len(b)-1 || b[i] != '}' {
		return r, false
	}
	return r, true
}

// hasMember reports whether b[i:] starts with `,"k":` (and a '{' for "d").
func hasMember(b []byte, i int, k byte) bool {
	n := len(`,"k":`)
	if k == 'd' {
		n++
	}
	if len(b)-i < n || b[i] != ',' || b[i+1] != '"' || b[i+2] != k || b[i+3] != '"' || b[i+4] != ':' {
		return false
	}
	return k != 'd' || b[i+5] == '{'
}

// decodeGeneric parses any record that encoding/json would read.
func decodeGeneric(b []byte) (record, error) {
	var r record
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return r, errRecord
	}
	it := members{b: b, i: i, shallow: true} // each container is checked below
	for {
		key, ok := it.nextKey()
		if !ok {
			break
		}
		if string(key) == "d" && it.i < len(b) && b[it.i] == '{' {
			// The values are read in place, in one pass, rather than
			// skipped as a container and then read again.
			r.Values = make([]value, 0, 4) // most records hold few keys
			var index map[string]int       // for large records only
			vals := members{b: b, i: it.i}
			for {
				k, v, ok := vals.next()
				if !ok {
					break
				}
				r.Values, index = addValue(r.Values, index, keyString(b, k), v)
			}
			if vals.err != nil {
				return record{}, errRecord
			}
			it.i = vals.i
			continue
		}
		val, ok := it.value()
		if !ok {
			break
		}
		if string(val) == "null" {
			continue // as encoding/json: null leaves the field as it is
		}
		switch string(key) {
		case "v":
			n, ok := shortInt(val)
			if !ok {
				var err error
				if n, err = strconv.ParseInt(string(val), 10, strconv.IntSize); err != nil {
					return record{}, errRecord
				}
			}
			r.Format = int(n)
		case "c":
			n, ok := shortInt(val)
			if !ok {
				var err error
				if n, err = strconv.ParseInt(string(val), 10, 64); err != nil {
					return record{}, errRecord
				}
			}
			r.Created = n
		case "n":
			n, err := strconv.ParseUint(string(val), 10, 64)
			if err != nil {
				return record{}, errRecord
			}
			r.Seq = n
		case "t":
			var t string // a local: &r.CSRF would move r to the heap
			if !decodeScalar(val, &t) && json.Unmarshal(val, &t) != nil {
				return record{}, errRecord
			}
			r.CSRF = t
		case "d":
			if val[0] != '{' {
				return record{}, errRecord
			}
			r.Values = r.Values[:0]
			var index map[string]int // for large records only
			vals := members{b: val}
			for {
				k, v, ok := vals.next()
				if !ok {
					break
				}
				r.Values, index = addValue(r.Values, index, string(k), v)
			}
			if vals.err != nil || vals.i != len(val) {
				return record{}, errRecord
			}
		case "f":
			var f map[string][]flashMessage // a local, as for "t"
			if err := json.Unmarshal(val, &f); err != nil {
				return record{}, errRecord
			}
			r.Flash = f
		default:
			if (val[0] == '{' || val[0] == '[') && !json.Valid(val) {
				return record{}, errRecord // a member we do not read, but it must be valid
			}
		}
	}
	if it.err != nil {
		return record{}, it.err
	}
	if skipSpace(b, it.i) != len(b) { // only blanks after the object
		return record{}, errRecord
	}
	if r.Format != recordFormat {
		return record{}, fmt.Errorf("record format %d, want %d", r.Format, recordFormat)
	}
	return r, nil
}

// shortInt reads a decimal integer of at most 18 digits, with an optional
// minus sign (what strconv.ParseInt reads, without its general cases);
// ok is false for anything else, which the caller hands to strconv.
func shortInt(b []byte) (n int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// keyString returns key as a string. A key that is a slice of b (one
// with no escapes) shares b's memory, as the values do: a decoded record
// never outlives the promise that its bytes are not modified.
func keyString(b, key []byte) string {
	if len(key) == 0 {
		return ""
	}
	if p := unsafe.Pointer(unsafe.SliceData(key)); uintptr(p) >= uintptr(unsafe.Pointer(unsafe.SliceData(b))) &&
		uintptr(p)+uintptr(len(key)) <= uintptr(unsafe.Pointer(unsafe.SliceData(b)))+uintptr(len(b)) {
		return unsafe.String(unsafe.SliceData(key), len(key))
	}
	return string(key)
}

// addValue sets key to v in vals, the last value of a repeated key
// winning (as encoding/json decides). Small records are searched; large
// ones get an index.
func addValue(vals []value, index map[string]int, key string, v json.RawMessage) ([]value, map[string]int) {
	const indexFrom = 32
	if index == nil && len(vals) >= indexFrom {
		index = make(map[string]int, 2*len(vals))
		for i, x := range vals {
			index[x.key] = i
		}
	}
	if index != nil {
		if i, ok := index[key]; ok {
			vals[i].raw = v
			return vals, index
		}
		index[key] = len(vals)
		return append(vals, value{key: key, raw: v}), index
	}
	for i := range vals {
		if vals[i].key == key {
			vals[i].raw = v
			return vals, index
		}
	}
	return append(vals, value{key: key, raw: v}), index
}

// members iterates over the members of the JSON object that starts at
// b[i], checking its syntax: next stops with err set at the first fault.
// After the last member, i is the index after the closing brace.
type members struct {
	b       []byte
	i       int
	started bool
	err     error
	// shallow leaves the content of object and array values unchecked:
	// the caller checks each one (it reads it anyway).
	shallow bool
}

// next returns the next member's key (unescaped) and raw value.
func (m *members) next() (key, val []byte, ok bool) {
	if key, ok = m.nextKey(); !ok {
		return nil, nil, false
	}
	if val, ok = m.value(); !ok {
		return nil, nil, false
	}
	return key, val, true
}

// nextKey returns the next member's key (unescaped) and leaves m.i at the
// start of its value, which the caller reads with value or by itself
// (setting m.i after it).
func (m *members) nextKey() (key []byte, ok bool) {
	b, i := m.b, m.i
	if !m.started {
		m.started = true
		i = skipSpace(b, i+1) // past '{'
		if i < len(b) && b[i] == '}' {
			m.i = i + 1
			return nil, false
		}
	} else {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			m.i = i + 1
			return nil, false
		}
		if i >= len(b) || b[i] != ',' {
			return m.failKey()
		}
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return m.failKey()
	}
	end, plain := scanString(b, i)
	if end < 0 {
		return m.failKey()
	}
	key = b[i+1 : end-1]
	if !plain || !utf8.Valid(key) {
		var s string
		if err := json.Unmarshal(b[i:end], &s); err != nil {
			return m.failKey()
		}
		key = []byte(s)
	}
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return m.failKey()
	}
	m.i = skipSpace(b, i+1)
	return key, true
}

// value returns the raw value that starts at m.i, checked (a container only
// for its brackets when m.shallow), and leaves m.i after it.
func (m *members) value() (val []byte, ok bool) {
	b, i := m.b, m.i
	var vend int
	if m.shallow && i < len(b) && (b[i] == '{' || b[i] == '[') {
		vend = skipContainer(b, i)
	} else {
		vend = scanValue(b, i)
	}
	if vend < 0 {
		m.err = errRecord
		return nil, false
	}
	m.i = vend
	return b[i:vend], true
}

func (m *members) failKey() ([]byte, bool) {
	m.err = errRecord
	return nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString checks the JSON string that starts at b[i] ('"') and returns
// the index after it, or -1 if it is not a valid string. plain reports that
// it holds no escapes.
func scanString(b []byte, i int) (end int, plain bool) {
	// Most strings hold no escape: find the closing quote with
	// bytes.IndexByte (vectorised), check that no backslash comes before
	// it the same way, and that no byte before it is a control character.
	if q := bytes.IndexByte(b[i+1:], '"'); q >= 0 {
		span := b[i+1 : i+1+q]
		if bytes.IndexByte(span, '\\') < 0 {
			if hasControl(span) {
				return -1, false
			}
			return i + 2 + q, true
		}
	}
	plain = true
	for i++; i < len(b); i++ {
		// Skip plain bytes, sixteen then eight at a time: none a quote, a
		// backslash or a control character.
		for i+16 <= len(b) && special(binary.LittleEndian.Uint64(b[i:i+8]))|special(binary.LittleEndian.Uint64(b[i+8:i+16])) == 0 {
			i += 16
		}
		for i+8 <= len(b) && special(binary.LittleEndian.Uint64(b[i:i+8])) == 0 {
			i += 8
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain
		case c < 0x20:
			return -1, false
		case c == '\\':
			plain = false
			i++
			if i >= len(b) {
				return -1, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1, false
					}
				}
				i += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

// hasControl reports whether b holds a control character (below 0x20),
// eight bytes at a time.
func hasControl(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	var acc uint64
	for len(b) >= 32 {
		w0 := binary.LittleEndian.Uint64(b[0:8])
		w1 := binary.LittleEndian.Uint64(b[8:16])
		w2 := binary.LittleEndian.Uint64(b[16:24])
		w3 := binary.LittleEndian.Uint64(b[24:32])
		acc |= (w0-lo*0x20)&^w0 | (w1-lo*0x20)&^w1 | (w2-lo*0x20)&^w2 | (w3-lo*0x20)&^w3
		b = b[32:]
	}
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		acc |= (w - lo*0x20) &^ w
		b = b[8:]
	}
	if acc&hi != 0 {
		return true
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// special returns a non-zero word when one of the eight bytes of w is a
// quote, a backslash or a control character ("Bit Twiddling Hacks":
// haszero and hasless, exact in whether any byte matches).
func special(w uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	ctl := (w - lo*0x20) &^ w & hi
	q := w ^ (lo * '"')
	q = (q - lo) &^ q & hi
	bs := w ^ (lo * '\\')
	bs = (bs - lo) &^ bs & hi
	return ctl | q | bs
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanValue checks the JSON value that starts at b[i] and returns the index
// after it, or -1 if it is not a valid value.
func scanValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := scanString(b, i)
		return end
	case c == '{' || c == '[':
		end := skipContainer(b, i)
		if end < 0 || !json.Valid(b[i:end]) {
			return -1
		}
		return end
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	default:
		return scanNumber(b, i)
	}
}

func literal(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// scanNumber checks a JSON number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipContainer returns the index after the object or array that starts
// at b[i], matching brackets outside strings, or -1 if it is unterminated.
// Its content is checked by the caller.
func skipContainer(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, _ := scanString(b, i)
			if end < 0 {
				return -1
			}
			i = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// encodeRecord appends r's JSON to dst.
func encodeRecord(dst []byte, r *record) []byte { return encodeRecordAt(dst, r, nil) }

// valueAt is where one value went in an encoded record: the offsets of its
// key's opening quote, of its JSON and of the end of its JSON.
type valueAt struct{ key, val, end int }

// encodeRecordAt is encodeRecord, which also fills at[i] for r.Values[i]
// when at is not nil (it must then be as long as r.Values).
func encodeRecordAt(dst []byte, r *record, at []valueAt) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(r.Format), 10)
	dst = append(dst, `,"c":`...)
	dst = strconv.AppendInt(dst, r.Created, 10)
	if len(r.Values) > 0 {
		dst = append(dst, `,"d":{`...)
		for i, v := range r.Values {
			if i > 0 {
				dst = append(dst, ',')
			}
			k := len(dst)
			dst = appendString(dst, v.key)
			dst = append(dst, ':')
			if at != nil {
				at[i] = valueAt{key: k, val: len(dst), end: len(dst) + len(v.raw)}
			}
			dst = append(dst, v.raw...)
		}
		dst = append(dst, '}')
	}
	if len(r.Flash) > 0 {
		dst = append(dst, `,"f":{`...)
		first := true
		for q, msgs := range r.Flash {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, q)
			dst = append(dst, ":["...)
			for i, m := range msgs {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"i":`...)
				dst = strconv.AppendUint(dst, m.ID, 10)
				dst = append(dst, `,"m":`...)
				if len(m.Msg) == 0 {
					dst = append(dst, "null"...) // as encoding/json writes a nil RawMessage
				} else {
					dst = append(dst, m.Msg...)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	if r.CSRF != "" {
		dst = append(dst, `,"t":`...)
		dst = appendString(dst, r.CSRF)
	}
	if r.Seq != 0 {
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendUint(dst, r.Seq, 10)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string. Plain printable ASCII is
// copied; anything else goes through encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
