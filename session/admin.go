package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Record is a stored session as operators see it (the beaker CLI's
// sessions commands). It never holds the session id, which is not stored:
// Key is the store key, a hash of the id.
type Record struct {
	Key          string                     `json:"key"`
	Created      time.Time                  `json:"created"`
	Expires      time.Time                  `json:"expires,omitzero"`
	Values       map[string]json.RawMessage `json:"values"`
	Flash        map[string][]string        `json:"flash,omitempty"`
	HasCSRFToken bool                       `json:"has_csrf_token"`
}

// ErrCannotScan is returned by Scan and Purge for a store that cannot list
// or purge its keys.
var ErrCannotScan = errors.New("session: the store cannot list its sessions")

// storeKeyOf turns what an operator gives into a store key: a store key as
// Scan lists it, the part of it after the prefix, or a cookie value.
func (m *Manager) storeKeyOf(ref string) string {
	if strings.HasPrefix(ref, m.opts.KeyPrefix) {
		return ref
	}
	if id, ok := m.signer.verify(ref); ok {
		return storeKey(m.opts.KeyPrefix, id)
	}
	return m.opts.KeyPrefix + ref
}

// Scan calls fn with the store key of each stored session, for stores that
// implement store.Scanner.
func (m *Manager) Scan(ctx context.Context, fn func(key string) error) error {
	sc, ok := m.store.(store.Scanner)
	if !ok {
		return ErrCannotScan
	}
	return sc.Scan(ctx, m.opts.KeyPrefix, fn)
}

// Lookup returns the stored session that ref names: a store key as Scan
// gives it, or the value of a session cookie. found is false when there is
// no such session, or its record does not decode.
func (m *Manager) Lookup(ctx context.Context, ref string) (r Record, found bool, err error) {
	key := m.storeKeyOf(ref)
	e, found, err := m.store.Get(ctx, key)
	if err != nil || !found {
		return Record{}, false, err
	}
	rec, err := decodeRecord(e.Value)
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
			r.Flash = map[string][]string{}
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
	if err := m.store.Delete(ctx, m.storeKeyOf(ref)); err != nil {
		return fmt.Errorf("session: remove: %w", err)
	}
	return nil
}

// Purge removes expired sessions from stores that keep them until purged
// (store.Purger), and reports how many it removed.
func (m *Manager) Purge(ctx context.Context) (int, error) {
	p, ok := m.store.(store.Purger)
	if !ok {
		return 0, ErrCannotScan
	}
	return p.PurgeExpired(ctx)
}
