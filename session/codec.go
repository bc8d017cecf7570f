package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The record's JSON is read and written by hand: it is on every request's
// path, and encoding/json's reflection (and its sorting of map keys) cost
// more than the rest of the request. Input is first checked with
// json.Valid, so the reader below may assume well-formed JSON; a fuzz test
// checks that it agrees with encoding/json.

var errRecord = errors.New("malformed session record")

// decodeRecord parses a stored record. Values alias b.
func decodeRecord(b []byte) (record, error) {
	var r record
	if !json.Valid(b) {
		return r, errRecord
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return r, errRecord
	}
	it := members{b: b, i: i}
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		switch string(key) {
		case "v":
			n, err := strconv.Atoi(string(val))
			if err != nil {
				return record{}, errRecord
			}
			r.Format = n
		case "c":
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				return record{}, errRecord
			}
			r.Created = n
		case "n":
			n, err := strconv.ParseUint(string(val), 10, 64)
			if err != nil {
				return record{}, errRecord
			}
			r.Seq = n
		case "t":
			if err := json.Unmarshal(val, &r.CSRF); err != nil {
				return record{}, errRecord
			}
		case "d":
			if val[0] != '{' {
				return record{}, errRecord
			}
			r.Values = make(map[string]json.RawMessage)
			vals := members{b: val}
			for {
				k, v, ok := vals.next()
				if !ok {
					break
				}
				r.Values[string(k)] = v
			}
			if vals.err != nil {
				return record{}, vals.err
			}
		case "f":
			if err := json.Unmarshal(val, &r.Flash); err != nil {
				return record{}, errRecord
			}
		}
	}
	if it.err != nil {
		return record{}, it.err
	}
	if r.Format != recordFormat {
		return record{}, fmt.Errorf("record format %d, want %d", r.Format, recordFormat)
	}
	return r, nil
}

// members iterates over the members of the JSON object that starts at
// b[i], which must be valid JSON.
type members struct {
	b       []byte
	i       int
	started bool
	err     error
}

// next returns the next member's key (unescaped) and raw value.
func (m *members) next() (key, val []byte, ok bool) {
	b, i := m.b, m.i
	if !m.started {
		m.started = true
		i = skipSpace(b, i+1) // past '{'
	} else {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1) // past ','
	}
	if i >= len(b) || b[i] == '}' {
		return nil, nil, false
	}
	if b[i] != '"' {
		m.err = errRecord
		return nil, nil, false
	}
	end := skipString(b, i)
	key = b[i+1 : end-1]
	if containsByte(key, '\\') || !utf8.Valid(key) {
		var s string
		if err := json.Unmarshal(b[i:end], &s); err != nil {
			m.err = errRecord
			return nil, nil, false
		}
		key = []byte(s)
	}
	i = skipSpace(b, end)
	i = skipSpace(b, i+1) // past ':'
	vend := skipValue(b, i)
	m.i = vend
	return key, b[i:vend], true
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

// encodeRecord appends r's JSON to dst.
func encodeRecord(dst []byte, r *record) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(r.Format), 10)
	dst = append(dst, `,"c":`...)
	dst = strconv.AppendInt(dst, r.Created, 10)
	if len(r.Values) > 0 {
		dst = append(dst, `,"d":{`...)
		first := true
		for k, v := range r.Values {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = append(dst, v...)
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
				dst = appendString(dst, m.Msg)
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
