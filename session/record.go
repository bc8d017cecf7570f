package session

import (
	"bytes"
	"encoding/json"
	"slices"
)

// recordFormat is the format version written in every stored record. A
// record of another version is treated as missing.
const recordFormat = 1

// record is a session as stored: JSON, so no gob or pickle of untrusted
// data, read and written by codec.go (the comments give each field's member
// name). Values stay encoded until a handler reads them.
type record struct {
	Format  int                       // "v"
	Created int64                     // "c": unix milliseconds
	Values  []value                   // "d": an object, at most one member per key
	Flash   map[string][]flashMessage // "f": queue -> messages
	CSRF    string                    // "t"
	Seq     uint64                    // "n": the last flash message id

	// Accessed is the last access time (unix milliseconds) for formats
	// that keep the idle timeout inside the record (refreshRewrite); the
	// native format does not store it.
	Accessed int64
}

// value is one stored key and its JSON. A record holds few, so a slice is
// cheaper than a map to build, copy and search.
type value struct {
	key string
	raw json.RawMessage
}

// lookup returns the JSON of key.
func (r *record) lookup(key string) (json.RawMessage, bool) {
	for i := range r.Values {
		if r.Values[i].key == key {
			return r.Values[i].raw, true
		}
	}
	return nil, false
}

// flashMessage is one queued flash message. The id lets a request pop
// exactly the messages it saw, even when another request added more
// meanwhile.
type flashMessage struct {
	ID  uint64          `json:"i"`
	Msg json.RawMessage `json:"m"` // any JSON value
}

// delta is what one request changed. It is applied to the record as stored
// at commit time, not to the copy the request loaded, so concurrent requests
// keep each other's changes.
type delta struct {
	cleared bool
	ops     []valueOp // at most one per key
	// opsBuf is the backing array of ops for a request that sets few keys
	// (a delta lives in its request's Session and is never copied, only
	// reset).
	opsBuf [2]valueOp

	flashAdd  map[string][]flashAdd
	flashPop  map[string][]uint64
	csrf      string
	csrfSet   bool
	anyChange bool
}

// valueOp sets or deletes one key.
type valueOp struct {
	key string
	val json.RawMessage
	del bool
}

// op returns the operation on key, or nil.
func (d *delta) op(key string) *valueOp {
	for i := range d.ops {
		if d.ops[i].key == key {
			return &d.ops[i]
		}
	}
	return nil
}

// put records that key is set to val, or deleted.
func (d *delta) put(key string, val json.RawMessage, del bool) {
	if o := d.op(key); o != nil {
		o.val, o.del = val, del
	} else {
		if d.ops == nil {
			d.ops = d.opsBuf[:0]
		}
		d.ops = append(d.ops, valueOp{key: key, val: val, del: del})
	}
	d.anyChange = true
}

type flashAdd struct {
	msg      json.RawMessage
	allowDup bool
}

func (d *delta) empty() bool { return !d.anyChange }

// apply returns r with d applied. r's maps are not modified: the result
// gets fresh ones where it changes them, so apply can run again on the
// same input (Updater retries).
func (d *delta) apply(r record) record { return d.applyInto(r, nil) }

// applyInto is apply, with the result's values in buf[:0] when it changes
// them and buf has room (a buffer of the caller's, which it must not
// share while the result is in use).
func (d *delta) applyInto(r record, buf []value) record {
	if d.cleared {
		// Pyramid's clear(): the flash queues and the CSRF token go too;
		// what this request added after the Clear is applied below.
		r.Flash, r.CSRF = nil, ""
	}
	if d.cleared || len(d.ops) > 0 {
		n := len(d.ops)
		if !d.cleared {
			n += len(r.Values)
		}
		vals := buf[:0]
		if cap(vals) < n {
			vals = make([]value, 0, n)
		}
		if !d.cleared {
			for _, v := range r.Values {
				if d.op(v.key) == nil {
					vals = append(vals, v)
				}
			}
		}
		for _, o := range d.ops {
			if !o.del {
				vals = append(vals, value{key: o.key, raw: o.val})
			}
		}
		r.Values = vals
	}
	if len(d.flashAdd) > 0 || len(d.flashPop) > 0 {
		fl := make(map[string][]flashMessage, len(r.Flash)+len(d.flashAdd))
		for q, msgs := range r.Flash {
			fl[q] = msgs
		}
		for q, ids := range d.flashPop {
			kept := make([]flashMessage, 0, len(fl[q]))
			for _, m := range fl[q] {
				if !slices.Contains(ids, m.ID) {
					kept = append(kept, m)
				}
			}
			fl[q] = kept
		}
		for q, adds := range d.flashAdd {
			msgs := slices.Clone(fl[q])
			for _, a := range adds {
				if !a.allowDup && slices.ContainsFunc(msgs, func(m flashMessage) bool { return bytes.Equal(m.Msg, a.msg) }) {
					continue
				}
				r.Seq++
				msgs = append(msgs, flashMessage{ID: r.Seq, Msg: a.msg})
			}
			fl[q] = msgs
		}
		for q, msgs := range fl {
			if len(msgs) == 0 {
				delete(fl, q)
			}
		}
		r.Flash = fl
	}
	if d.csrfSet {
		r.CSRF = d.csrf
	}
	return r
}
