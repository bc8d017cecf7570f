package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/gobeaker/beaker/store"
)

// side is the seam below Session: where a session lives. Session holds the
// values, the delta of this request's operations, flash queues and the
// CSRF token, and knows nothing of cookies, keys or bytes; a side loads
// the record a request carries and saves what the request changed.
//
// There are two sides: serverSide (an id cookie and a store, in a format)
// and the client side (the whole record sealed in the cookie). Each
// method runs with s.mu held.
type side interface {
	// load reads the request's session into s (s.rec, s.isNew and the
	// side's own state), or makes s a new session (s.fresh). A failure of
	// the backing service is returned; s is then a new session.
	load(ctx context.Context, s *Session, now time.Time) error

	// end remembers that the session the request carries must end at
	// commit (Invalidate). s is made fresh by the caller afterwards.
	end(s *Session)

	// save makes what the request changed durable and sets or clears the
	// cookie in h. h is nil once the response has started: a change that
	// needs a new cookie then fails with ErrChangedAfterWrite.
	save(ctx context.Context, s *Session, h http.Header, now time.Time) error
}

// serverSide keeps sessions in a store, carried by an id cookie.
type serverSide struct {
	m       *Manager
	store   store.Store
	updater store.Updater
	toucher store.Toucher
	shared  store.SharedGetter // the store's GetShared, if it has one
	f       format
	maxSize int           // largest record, in bytes; <= 0: no limit
	markTTL time.Duration // how long moved and ended markers stay
	// verified remembers cookie values that verified, with their store
	// keys; nil: none (each request verifies its cookie).
	verified *verifiedCache
	// remember is true when verified cookie entries remember their
	// session's record (cachedRecord): the store shares its bytes and the
	// format is the native one.
	remember bool
}

// serverState is what serverSide keeps per request, inside Session.
type serverState struct {
	identified bool
	stale      bool   // the cookie verified with an older secret: re-sign it
	cookieID   string // id from a valid request cookie

	id    string      // id of the stored record; "" for a new session
	entry store.Entry // the record's bytes and version as loaded

	// end is the session to end at commit (Invalidate, or a record past
	// its lifetime); nil: none. Rare, so kept out of line.
	end *ending

	keyID, keyVal string // the last store key computed, and its id

	// ve is the verified entry of the request cookie, if the cache has
	// one; nil otherwise.
	ve *verifiedEntry

	upd updater // the update function of the save, kept here to save an allocation
}

// ending is a session to end at commit: its id, its entry as loaded,
// whether this request loaded it (then a move since is this request's
// conflict), and whether the cookie must be cleared.
type ending struct {
	id     string
	entry  store.Entry
	loaded bool
	clear  bool
}

// Sentinels of the update functions; none leaves the package.
var (
	errGone    = errors.New("session: record gone")
	errMoved   = errors.New("session: record moved")
	errChanged = errors.New("session: record changed")
)

// key returns the store key of id, computed once per id.
func (sv *serverSide) key(st *serverState, id string) string {
	if id != st.keyID {
		st.keyID, st.keyVal = id, sv.f.storeKey(id)
	}
	return st.keyVal
}

// maxSessionCookies bounds how many cookies of the session's name one
// request's load tries: each one after the first costs a store read.
const maxSessionCookies = 4

// identify reads the session id from the request cookie, without touching
// the store.
func (sv *serverSide) identify(s *Session) {
	st := &s.sv
	if st.identified {
		return
	}
	st.identified = true
	sv.pick(s, 0)
}

// severalCookies reports whether r carries more than one cookie named
// name.
func severalCookies(r *http.Request, name string) bool {
	n := 0
	for range cookieValues(r, name) {
		if n++; n > 1 {
			return true
		}
	}
	return false
}

// pick makes the session id the one of the request's skip+1-th cookie of
// the session's name that verifies, and reports whether there is one. A
// browser holds several when one was set under an earlier cookie_domain
// or cookie_path; it sends the older (or longer-path) one first.
func (sv *serverSide) pick(s *Session, skip int) bool {
	st := &s.sv
	rejected := 0
	for _, line := range s.req.Header["Cookie"] {
		for len(line) > 0 {
			var value string
			var ok bool
			if value, line, ok = nextCookie(line, s.m.opts.CookieName); !ok {
				continue
			}
			if sv.verified != nil {
				if e := sv.verified.lookup(value); e != nil {
					if skip > 0 {
						skip--
						continue
					}
					st.cookieID, st.stale, st.keyID, st.keyVal, st.ve = e.id, e.stale, e.id, e.key, e
					return true
				}
			}
			if id, stale, ok := sv.f.parseCookie(value); ok {
				if skip > 0 {
					skip--
					continue
				}
				st.cookieID, st.stale, st.ve = id, stale, nil
				if sv.verified != nil {
					// Copied: both are slices of the request's header.
					v := strings.Clone(value)
					e := &verifiedEntry{value: v, id: within(v, value, id), stale: stale}
					e.key = sv.key(st, e.id)
					sv.verified.add(e)
					st.ve = e
				}
				return true
			}
			rejected++
		}
	}
	if rejected > 0 && st.cookieID == "" {
		s.m.log.LogAttrs(s.req.Context(), slog.LevelDebug, "session: rejected a cookie that does not verify; starting a new session",
			slog.Int("cookies", rejected))
	}
	return false
}

// within returns sub, a part of orig, as the same part of cp, a copy of
// orig, so that the two share one allocation; when sub is not inside orig,
// a copy of it.
func within(cp, orig, sub string) string {
	off := uintptr(unsafe.Pointer(unsafe.StringData(sub))) - uintptr(unsafe.Pointer(unsafe.StringData(orig)))
	if len(sub) == 0 || len(sub) > len(orig) || off > uintptr(len(orig)-len(sub)) {
		return strings.Clone(sub)
	}
	return cp[off : off+uintptr(len(sub))]
}

func (sv *serverSide) load(ctx context.Context, s *Session, now time.Time) error {
	sv.identify(s)
	st := &s.sv
	if st.cookieID == "" {
		s.fresh(now)
		return nil
	}
	// The record's bytes are never modified (values and keys decoded from
	// them alias them), so a store's own bytes can be read in place.
	var e store.Entry
	var found bool
	var err error
	for tried := 1; ; tried++ {
		if sv.shared != nil {
			e, found, err = sv.shared.GetShared(ctx, sv.key(st, st.cookieID))
		} else {
			e, found, err = sv.store.Get(ctx, sv.key(st, st.cookieID))
		}
		if err != nil {
			s.fresh(now)
			return &StoreError{Op: "load", Err: err}
		}
		if found && sv.f.markOf(e.Value) == markNone {
			break
		}
		// Missing, or a session that moved or ended: an unknown id. The
		// request never reaches where a moved session went; another
		// cookie of the name may carry a live one (see pick).
		if tried >= maxSessionCookies || !sv.pick(s, tried) {
			s.fresh(now)
			return nil
		}
	}
	var rec record
	switch ve := st.ve; {
	case !sv.remember || ve == nil || cap(e.Value) > maxCachedRecord:
		rec, err = sv.f.decode(e.Value)
	default:
		if c := ve.rec.Load(); c.matches(e.Value) {
			rec = c.rec
			break
		}
		// Remembered too: a record decoded from the store's bytes refers
		// to those bytes, which never change, or to memory of its own.
		c := new(cachedRecord)
		if rec, err = sv.f.decodeInto(e.Value, c.vals[:0]); err == nil {
			c.b, c.rec = e.Value, rec
			ve.rec.Store(c.seal())
		}
	}
	if err != nil {
		s.m.log.LogAttrs(ctx, slog.LevelWarn, "session: corrupt record treated as missing",
			slog.String("session", logID(st.cookieID)), slog.Any("error", err))
		s.fresh(now)
		return nil
	}
	if sinceMilli(now, rec.Created) >= s.m.opts.Lifetime {
		s.fresh(now)
		st.end = &ending{id: st.cookieID, entry: e}
		return nil
	}
	st.id, st.entry, s.rec = st.cookieID, e, rec
	return nil
}

func (sv *serverSide) end(s *Session) {
	st := &s.sv
	if !s.loaded && severalCookies(s.req, s.m.opts.CookieName) {
		// Several cookies of the name (see pick): load, so that the one
		// whose session is live is ended, not merely the first.
		s.load()
	}
	if s.loaded && st.id != "" {
		st.end = &ending{id: st.id, entry: st.entry, loaded: true}
	} else {
		sv.identify(s)
		if st.end == nil && st.cookieID != "" {
			st.end = &ending{id: st.cookieID}
		}
	}
	if st.end != nil {
		st.end.clear = true
	}
}

func (sv *serverSide) save(ctx context.Context, s *Session, h http.Header, now time.Time) error {
	st := &s.sv
	m := s.m
	var setID string
	clearCookie := false

	if st.end != nil {
		if err := sv.endRecord(ctx, st); err != nil {
			return err
		}
		clearCookie = st.end.clear
		st.end = nil
	}

	switch {
	case s.isNew && s.d.empty():
		// Nothing to store.
	case s.isNew:
		if h == nil {
			return ErrChangedAfterWrite
		}
		if err := sv.create(ctx, s, now); err != nil {
			return err
		}
		setID, clearCookie = st.id, false
	case s.regen:
		if h == nil {
			return ErrChangedAfterWrite
		}
		err := sv.move(ctx, s, now)
		switch {
		case errors.Is(err, errGone):
			// A logout won the race: do not bring the session back.
			// Nor clear the cookie: the logout's response did, and a
			// login since (another tab) may have set the browser's
			// cookie anew, which a clearing cookie arriving late would
			// log out.
			s.fresh(now)
		case err != nil:
			return err
		default:
			setID = st.id
		}
	case !s.d.empty():
		err := sv.update(ctx, s, now)
		switch {
		case errors.Is(err, errGone):
			m.log.LogAttrs(ctx, slog.LevelDebug, "session: not saving changes to a session that another request ended",
				slog.String("session", logID(st.id)))
			// No cookie either, as for a login that lost to a logout.
			s.fresh(now)
		case err != nil:
			return err
		}
	case st.id != "" && sv.refreshDue(s, now):
		if err := sv.refresh(ctx, s, now); err != nil {
			return err
		}
	}
	if setID == "" && !clearCookie && st.stale && st.id != "" && h != nil {
		// Signed with an older secret: re-sign with the current one, but
		// only once a conditional write shows that the record is still
		// this session (a login may have moved it since the load).
		live, err := sv.confirm(ctx, s, now)
		if err != nil {
			return err
		}
		if live {
			setID = st.id
		}
	}
	if h != nil {
		st.stale = false
	}
	s.d = delta{}
	s.regen = false

	if h != nil {
		addVaryCookie(h, &s.vary)
		switch {
		case setID != "":
			h.Add("Set-Cookie", m.cookie(s.req, sv.f.cookieValue(setID), now, time.UnixMilli(s.rec.Created)).String())
			h.Set("Cache-Control", "no-store")
		case clearCookie:
			c := m.cookie(s.req, "", now, now)
			c.MaxAge, c.Expires = -1, time.Time{}
			h.Add("Set-Cookie", c.String())
			h.Set("Cache-Control", "no-store")
		}
	}
	return nil
}

// endRecord replaces the record to end with an "ended" marker, unless a
// login moved it after this request loaded it: then the logout is this
// request's conflict (ErrSessionMoved), and the new session is untouched.
func (sv *serverSide) endRecord(ctx context.Context, st *serverState) error {
	loaded := st.end.loaded
	err := sv.updater.Update(ctx, sv.key(st, st.end.id), st.end.entry, sv.markTTL, func(cur []byte, found bool) ([]byte, error) {
		if !found {
			return nil, errGone
		}
		switch sv.f.markOf(cur) {
		case markEnded:
			return nil, errGone
		case markMoved:
			if loaded {
				return nil, errMoved
			}
			return nil, errGone // an unknown id: nothing to end
		}
		return sv.f.marker(markEnded), nil
	})
	switch {
	case err == nil, errors.Is(err, errGone):
		return nil
	case errors.Is(err, errMoved):
		return ErrSessionMoved
	default:
		return &StoreError{Op: "delete", Err: err}
	}
}

// encode encodes rec, refusing a record over the size limit.
func (sv *serverSide) encode(dst []byte, rec *record) ([]byte, error) {
	return sv.encodeAt(dst, rec, nil)
}

// encodeAt is encode, which also fills at (see encodeRecordAt) when it is
// not nil; it is not nil only with the native format (sv.remember).
func (sv *serverSide) encodeAt(dst []byte, rec *record, at []valueAt) ([]byte, error) {
	var b []byte
	if at != nil {
		b = encodeRecordAt(dst, rec, at)
	} else {
		b = sv.f.encode(dst, rec)
	}
	if sv.maxSize > 0 && len(b) > sv.maxSize {
		return nil, &TooLargeError{Size: len(b), Max: sv.maxSize}
	}
	return b, nil
}

// create stores a new session under a new id.
func (sv *serverSide) create(ctx context.Context, s *Session, now time.Time) error {
	rec := s.d.apply(s.rec)
	b, err := sv.encode(nil, &rec)
	if err != nil {
		return err
	}
	id := sv.f.newID()
	key := sv.key(&s.sv, id)
	if err := sv.store.Set(ctx, key, b, s.ttl(now)); err != nil {
		sv.discard(ctx, key) // a write that timed out may have been applied
		return &StoreError{Op: "save", Err: err}
	}
	s.sv.id, s.isNew, s.rec, s.sv.entry = id, false, rec, store.Entry{}
	return nil
}

// move is RegenerateID's commit. It writes the record, with this
// request's changes, under a new id; then it turns the old record into a
// "moved" marker, conditionally on the old record being what it copied.
// If another request changed the old record meanwhile, it copies again; if
// a logout ended it, it removes the new record and returns errGone; if
// another login moved it first, the new record is removed too and the
// request fails with ErrSessionMoved. No acknowledged write to the old
// record is lost, and the old id never leads to the new session.
func (sv *serverSide) move(ctx context.Context, s *Session, now time.Time) error {
	st := &s.sv
	oldKey := sv.f.storeKey(st.id)
	newID := sv.f.newID()
	newKey := sv.f.storeKey(newID)
	base, last, rec := st.entry.Value, st.entry, s.rec
	ttl := s.ttl(now)
	for try := 0; ; try++ {
		// Each try that finds the record changed follows a write of
		// another request's that succeeded, so the tries end once those
		// writes do; as with store.Updater, only the commit's deadline
		// bounds them (a login racing many writes to its session on a
		// store that serializes them, SQLite, took more than 16). An
		// in-process store has no such deadline: the writes that beat a
		// try are this process's own requests.
		if err := ctx.Err(); err != nil {
			if try > 0 {
				sv.discard(ctx, newKey) // the previous try's copy
			}
			return &StoreError{Op: "save", Err: fmt.Errorf("the session kept changing while it moved to a new id: %w", err)}
		}
		next := s.d.apply(rec)
		b, err := sv.encode(nil, &next)
		if err != nil {
			if try > 0 {
				sv.discard(ctx, newKey)
			}
			return err
		}
		if err := sv.store.Set(ctx, newKey, b, ttl); err != nil {
			// A write that timed out may have been applied; and the
			// previous try's copy is there. Removing a fresh random key
			// costs nothing when it is not.
			sv.discard(ctx, newKey)
			return &StoreError{Op: "save", Err: err}
		}
		var seen []byte
		err = sv.updater.Update(ctx, oldKey, last, sv.markTTL, func(cur []byte, found bool) ([]byte, error) {
			if !found {
				return nil, errGone
			}
			switch sv.f.markOf(cur) {
			case markEnded:
				return nil, errGone
			case markMoved:
				return nil, errMoved
			}
			if !bytes.Equal(cur, base) {
				seen = bytes.Clone(cur)
				return nil, errChanged
			}
			return sv.f.marker(markMoved), nil
		})
		switch {
		case err == nil:
			st.id, st.entry, s.rec = newID, store.Entry{}, next
			return nil
		case errors.Is(err, errChanged):
			r, derr := sv.f.decode(seen)
			if derr != nil {
				sv.discard(ctx, newKey)
				return errGone
			}
			rec, base, last = r, seen, store.Entry{Value: seen}
		case errors.Is(err, errGone):
			sv.discard(ctx, newKey)
			return errGone
		case errors.Is(err, errMoved):
			sv.discard(ctx, newKey)
			return ErrSessionMoved
		default:
			// The store failed (a timeout, a lost connection): the
			// marker may have been written all the same, or may still
			// be. Then the old id leads nowhere, and the copy is all
			// that is left of the session: the login stands, late,
			// rather than lose it.
			switch sv.settleMove(ctx, oldKey, base) {
			case moveSettled:
			case moveUnsettled:
				// Neither try was answered: a marker may land later,
				// and then the copy is all that is left of the session.
				// The copy stands; should no marker land, the old id
				// keeps the session as it was before the login (never
				// the login's), for requests still carrying it, and a
				// write one of them made meanwhile stays there (see the
				// package doc: the trade against losing the session).
				sv.m.log.LogAttrs(ctx, slog.LevelWarn, "session: a login's move was not confirmed by the store; the new session stands",
					slog.String("session", logID(st.id)), slog.Any("error", err))
			default:
				sv.discard(ctx, newKey)
				return &StoreError{Op: "save", Err: err}
			}
			st.id, st.entry, s.rec = newID, store.Entry{}, next
			return nil
		}
	}
}

// moveOutcome is what settleMove found.
type moveOutcome uint8

const (
	moveSettled   moveOutcome = iota // the old record is a "moved" marker
	moveRefused                      // the store answered: the record changed, or the session ended
	moveUnsettled                    // the store did not answer
)

// settleMove settles a move whose conditional write of the "moved" marker
// failed without an answer: it tries that write once more, on a store
// deadline of its own, and reports whether the old record at key is now a
// marker. The second try is conditional too, so it is ordered after the
// first wherever the store orders writes to a key: if the first was
// applied, or is applied before it (a write still queued on another
// connection, a row lock), it finds the marker; if the first was never
// applied, it writes the marker itself, and the first, applied later,
// finds the record changed and writes nothing. When the record changed
// since the copy or the session ended, the login fails with the session as
// it was (moveRefused). When the store does not answer this try either,
// nothing is known (moveUnsettled): either write may still land, and
// removing the copy would then lose the session, so the login stands.
//
// A marker carries no identity, so a marker found is taken for the move's
// own. That is wrong only when another login of the same session wrote it
// in that same moment: both logins then stand, and the browser keeps the
// cookie of the response that arrives last, losing what was written under
// the other (had the store answered, this login would have failed with
// ErrSessionMoved). A store answering late is far more common than that
// double fault, which before cost the whole session; a marker holding a
// nonce of its move would tell the two apart, but changes the stored
// format that other processes read.
func (sv *serverSide) settleMove(ctx context.Context, key string, base []byte) moveOutcome {
	ctx, cancel := sv.m.storeCtx(context.WithoutCancel(ctx))
	defer cancel()
	err := sv.updater.Update(ctx, key, store.Entry{}, sv.markTTL, func(cur []byte, found bool) ([]byte, error) {
		switch {
		case !found:
			return nil, errGone
		case sv.f.markOf(cur) == markMoved:
			return nil, errMoved
		case !bytes.Equal(cur, base):
			return nil, errChanged // a change, or an "ended" marker
		}
		return sv.f.marker(markMoved), nil
	})
	switch {
	case err == nil || errors.Is(err, errMoved):
		return moveSettled
	case errors.Is(err, errGone) || errors.Is(err, errChanged):
		return moveRefused
	}
	return moveUnsettled
}

// discard removes a record that was written but never handed out. It runs
// on a store deadline of its own: it cleans up after a commit that may
// have failed because the commit's deadline passed.
func (sv *serverSide) discard(ctx context.Context, key string) {
	ctx, cancel := sv.m.storeCtx(context.WithoutCancel(ctx))
	defer cancel()
	if err := sv.store.Delete(ctx, key); err != nil {
		sv.m.log.LogAttrs(ctx, slog.LevelWarn, "session: could not remove an unused record; it expires with its ttl",
			slog.Any("error", err))
	}
}

// update applies the delta to the stored record with one atomic update.
// On success s.rec is the record as written.
func (sv *serverSide) update(ctx context.Context, s *Session, now time.Time) error {
	u := &s.sv.upd
	*u = updater{sv: sv, s: s}
	err := sv.updater.Update(ctx, sv.key(&s.sv, s.sv.id), s.sv.entry, s.ttl(now), u.apply)
	c := u.last
	*u = updater{} // drops the references to the old record
	switch {
	case err == nil && c == nil:
		return &StoreError{Op: "save", Err: errors.New("the store reported a write without computing it")}
	case err == nil:
		s.rec, s.sv.entry = c.rec, store.Entry{}
		if ve := s.sv.ve; c.b != nil && ve != nil && ve.id == s.sv.id {
			ve.rec.Store(c.seal())
		}
		return nil
	case errors.Is(err, errGone):
		return err
	case errors.Is(err, errMoved):
		return ErrSessionMoved
	case errors.As(err, new(*TooLargeError)):
		return err
	default:
		return &StoreError{Op: "save", Err: err}
	}
}

// updater is the store.UpdateFunc of a save: it applies the delta to the
// record as stored, decoding it only when another request changed it
// since this one loaded it.
type updater struct {
	sv *serverSide
	s  *Session // its record and entry as loaded, and its delta
	// last holds the last call's result, and the bytes it returned when
	// it can be remembered (sv.remember; its values alias them); its b is
	// nil otherwise.
	last *cachedRecord
}

func (u *updater) apply(cur []byte, found bool) ([]byte, error) {
	if !found {
		return nil, errGone
	}
	r := u.s.rec
	if !bytes.Equal(cur, u.s.sv.entry.Value) {
		switch u.sv.f.markOf(cur) {
		case markMoved:
			return nil, errMoved
		case markEnded:
			return nil, errGone
		}
		var err error
		if r, err = u.sv.f.decode(cur); err != nil {
			return nil, errGone
		}
	}
	dst := make([]byte, 0, len(cur)+64)
	c := new(cachedRecord)
	u.last = c
	c.rec = u.s.d.applyInto(r, c.vals[:])
	if !u.sv.remember {
		return u.sv.encode(dst, &c.rec)
	}
	b, aliased, err := u.sv.encodeAliased(dst, &c.rec, r.Values, c.vals[:])
	if aliased {
		c.b = b
	}
	return b, err
}

// encodeAliased is encode for a record that may be remembered. When it
// can be (aliased is true: it is small, has no flash messages, and its
// bytes decode to exactly r), r's values are pointed at the returned
// bytes, so that it refers to nothing else, and those bytes take no more
// memory than maxCachedRecord (a record that shrank is copied out of its
// larger buffer). base is the values before the delta: when r.Values is
// still base (a delta that set no key), which other requests may share, it
// is copied first, into buf if it has room.
func (sv *serverSide) encodeAliased(dst []byte, r *record, base, buf []value) (b []byte, aliased bool, err error) {
	var atBuf [8]valueAt
	at := atBuf[:]
	if len(r.Values) > len(at) {
		at = make([]valueAt, len(r.Values))
	}
	at = at[:len(r.Values)]
	b, err = sv.encodeAt(dst, r, at)
	if err != nil || len(b) > maxCachedRecord || len(r.Flash) > 0 {
		return b, false, err
	}
	if cap(b) > maxCachedRecord {
		b = bytes.Clone(b)
	}
	if len(r.Values) > 0 && unsafe.SliceData(r.Values) == unsafe.SliceData(base) {
		r.Values = append(buf[:0], r.Values...)
	}
	return b, aliasValues(b, r, at), nil
}

// confirm rewrites the loaded record unchanged, conditionally on it still
// being a record (not a marker), and reports whether it was. It also
// extends the idle timeout, as any access does.
func (sv *serverSide) confirm(ctx context.Context, s *Session, now time.Time) (bool, error) {
	st := &s.sv
	ttl := s.ttl(now)
	err := sv.updater.Update(ctx, sv.key(st, st.id), st.entry, ttl, func(cur []byte, found bool) ([]byte, error) {
		if !found || sv.f.markOf(cur) != markNone {
			return nil, errGone
		}
		return cur, nil
	})
	switch {
	case err == nil:
		st.entry = store.Entry{Expires: now.Add(ttl)}
		return true, nil
	case errors.Is(err, errGone):
		return false, nil
	default:
		return false, &StoreError{Op: "touch", Err: err}
	}
}

// refreshDue reports whether a request that changed nothing should extend
// the idle timeout: at most once per tenth of it, or on every such request
// where the store reports no expiry (memcached).
func (sv *serverSide) refreshDue(s *Session, now time.Time) bool {
	o := &s.m.opts
	if o.Timeout == 0 || o.NoTouch {
		return false
	}
	e := s.sv.entry.Expires
	return e.IsZero() || e.Sub(now) < o.Timeout-o.Timeout/10
}

// refresh extends the idle timeout of the loaded record, never creating
// it and never past its lifetime.
func (sv *serverSide) refresh(ctx context.Context, s *Session, now time.Time) error {
	st := &s.sv
	ttl := s.ttl(now)
	var err error
	switch {
	case sv.f.refresh() == refreshTouch && sv.toucher != nil:
		_, err = sv.toucher.Touch(ctx, sv.key(st, st.id), ttl)
	default:
		rewrite := sv.f.refresh() == refreshRewrite
		err = sv.updater.Update(ctx, sv.key(st, st.id), st.entry, ttl, func(cur []byte, found bool) ([]byte, error) {
			if !found || sv.f.markOf(cur) != markNone {
				return nil, errGone
			}
			if !rewrite {
				return cur, nil
			}
			r, err := sv.f.decode(cur)
			if err != nil {
				return nil, errGone
			}
			r.Accessed = now.UnixMilli()
			return sv.f.encode(nil, &r), nil
		})
	}
	if err != nil && !errors.Is(err, errGone) {
		return &StoreError{Op: "touch", Err: err}
	}
	st.entry.Expires = now.Add(ttl)
	return nil
}
