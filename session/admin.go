package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Record is a stored session as operators see it (the beaker CLI's
// sessions commands). It never holds the session id, which is not stored:
// Key is the store key, a hash of the id.
type Record struct {
	// Key is the record's store key: the key prefix and a hash of the id.
	Key string `json:"key"`
	// Created is when the session was made (UTC).
	Created time.Time `json:"created"`
	// Expires is when the store lets the record go (the idle timeout or
	// the lifetime); zero when the store does not say.
	Expires time.Time `json:"expires,omitzero"`
	// Values are the session's values, each as its stored JSON.
	Values map[string]json.RawMessage `json:"values"`
	// Flash are the flash messages waiting, by queue ("" is the default
	// queue), each as its stored JSON.
	Flash map[string][]json.RawMessage `json:"flash,omitempty"`
	// HasCSRFToken says whether the session holds a CSRF token; the token
	// itself is not shown.
	HasCSRFToken bool `json:"has_csrf_token"`
}

// ErrCannotScan is returned by Scan and Purge for a store that cannot list
// or purge its keys.
var ErrCannotScan = errors.New("session: the store cannot list its sessions")

// ErrClientSide is returned by the operator methods of a Manager whose
// sessions live in the cookie: there is nothing on the server to list,
// show or remove.
var ErrClientSide = errors.New("session: sessions live in the client's cookie; the server holds none")

// Scan calls fn with the store key of each stored session, for stores that
// implement store.Scanner.
func (m *Manager) Scan(ctx context.Context, fn func(key string) error) error {
	if m.server == nil {
		return ErrClientSide
	}
	sc, ok := m.server.store.(store.Scanner)
	if !ok {
		return ErrCannotScan
	}
	return sc.Scan(ctx, m.server.f.keyPrefix(), fn)
}

// Lookup returns the stored session that ref names: a store key as Scan
// gives it, that key without its prefix, the value of a session cookie, or
// a session id (which the store is never sent: its key is a hash of it).
// found is false when there is no such session, or its record does not
// decode.
func (m *Manager) Lookup(ctx context.Context, ref string) (r Record, found bool, err error) {
	if m.server == nil {
		return Record{}, false, ErrClientSide
	}
	f := m.server.f
	key := f.refKey(ref)
	e, found, err := m.server.store.Get(ctx, key)
	if err != nil || !found || f.markOf(e.Value) != markNone {
		return Record{}, false, err
	}
	rec, err := f.decode(e.Value)
	if err != nil {
		return Record{}, false, nil
	}
	r = Record{Key: key, Created: time.UnixMilli(rec.Created).UTC(), Expires: e.Expires,
		Values: make(map[string]json.RawMessage, len(rec.Values)), HasCSRFToken: rec.CSRF != ""}
	for _, v := range rec.Values {
		r.Values[v.key] = v.raw
	}
	for q, msgs := range rec.Flash {
		if r.Flash == nil {
			r.Flash = map[string][]json.RawMessage{}
		}
		for _, msg := range msgs {
			r.Flash[q] = append(r.Flash[q], msg.Msg)
		}
	}
	return r, true, nil
}

// Remove deletes the stored session that ref names (see Lookup): the user
// is logged out.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	if m.server == nil {
		return ErrClientSide
	}
	if err := m.server.store.Delete(ctx, m.server.f.refKey(ref)); err != nil {
		return fmt.Errorf("session: remove: %w", err)
	}
	return nil
}

// Purge removes expired sessions from stores that keep them until purged
// (store.Purger), and reports how many it removed.
func (m *Manager) Purge(ctx context.Context) (int, error) {
	if m.server == nil {
		return 0, ErrClientSide
	}
	p, ok := m.server.store.(store.Purger)
	if !ok {
		return 0, ErrCannotScan
	}
	return p.PurgeExpired(ctx)
}
