// Package session gives each HTTP request a dict-like session, as Pyramid's
// request.session does with Beaker: loaded on first use, saved when the
// response starts, with flash message queues, a CSRF token, an idle timeout
// and an absolute lifetime.
//
// A Manager holds the configuration and says where sessions live: in a
// store (any store.Store that implements store.Updater: memory, file, SQL,
// Redis, memcached) behind a signed id cookie, or, with NewCookie, in the
// cookie itself. Its Middleware, a plain func(http.Handler) http.Handler,
// puts a *Session in each request's context:
//
//	m, err := session.New(session.Options{Store: memstore.New(memstore.Options{}), Secrets: []string{secret}})
//	...
//	http.ListenAndServe(addr, m.Middleware(mux))
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s := session.FromRequest(r)
//		n, _ := session.Get[int](s, "counter")
//		s.Set("counter", n+1)
//		...
//	}
//
// # Never losing a write
//
// A session records what the request changed, not a snapshot of the whole
// session. When the response starts, those changes are applied with
// store.Updater.Update to the record as it is in the store at that moment:
// one conditional write on an uncontended session, a retry on a conflict.
// Concurrent requests on one session (AJAX, several tabs) therefore keep
// each other's values, no flash message is lost and a message added while
// another request pops the queue stays for the next page (two requests
// that load the session at the same moment and both pop it may both show
// a message: that needs a lock per session, which this design avoids), a
// read-only request writes nothing, and a request that saves after a
// concurrent Invalidate does not bring the session back. The idle timeout
// is kept alive with store.Toucher.Touch, which changes only the expiry, at
// most once per tenth of the timeout on stores that report a record's
// expiry; memcached does not, so there every request that changes nothing
// touches.
//
// # Where a session lives
//
// Session holds the values, the delta of the request's operations, the
// flash queues and the CSRF token, and knows nothing of cookies, keys or
// bytes. Below it, one seam has two sides: server-side (an id cookie and a
// store) and client-side (the whole record sealed in the cookie). The
// server side is parameterised by a format: how an id is made and carried
// in the cookie, how a store key is derived from it, how the record is
// encoded, and how the idle timeout is kept alive. The native format is
// described below; Python Beaker's formats plug in as another format,
// without touching Session.
//
// # Logins, logouts and requests in flight
//
// RegenerateID (at login) writes the record under a new id, then replaces
// the old record with a short-lived "moved" marker, conditionally on the
// old record being what it copied; Invalidate (at logout) replaces the
// record with an "ended" marker the same way. A marker holds no data and no
// pointer to the new session, and lives a minute or three store timeouts,
// whichever is longer. So:
//
//   - a write made by another request while the login copies is copied
//     too; a logout made meanwhile wins, and the login ends logged out;
//   - a request that loaded the session before the login and changes it
//     after fails with ErrSessionMoved (409 by default) and sets no
//     cookie; a logout in that position fails the same way, and the login
//     stands;
//   - a request that arrives with the old id after the move is treated as
//     carrying an unknown id: a new, empty session, never the moved one (a
//     reloaded login page or a double-submitted login form works), unless
//     it carries another cookie of the name whose session is live (a
//     browser keeps one set under an earlier cookie_domain or
//     cookie_path), which it then gets;
//   - a request whose session a logout ended after it loaded it saves
//     nothing and sets no cookie: the logout's response cleared it, and a
//     clearing cookie sent late would log out a login made since (in
//     another tab); a login that loses to a logout ends the same way.
//
// The race that remains is the one every framework has: a request that
// arrives with the old id after the move and writes gets a new session and
// a new cookie, which replaces the login's cookie if its response arrives
// last. Behind CSRF protection (package csrf) such a write is refused,
// because the new session has no token.
//
// A commit runs under one deadline (StoreTimeout) for all its store calls,
// and is not cancelled when the client goes away: a logout whose client
// disconnects still ends the session. Nor is the load (under a deadline of
// its own), so that a handler that goes on after its client left sees the
// session, and a logout by Delete or Clear is saved too. The exceptions follow a store that
// did not answer in time, and each gets a StoreTimeout of its own (so such
// a commit can take up to twice StoreTimeout):
//
//   - a login whose "moved" marker went unanswered tries the conditional
//     write once more: the store orders it after the first, so it finds
//     the marker if the first was (or is still being) applied, and writes
//     it if not; then the login stands. If the record changed meanwhile,
//     the login fails and the session stays as it was. If this try is not
//     answered either, the login stands too, for either write may still
//     land and leave the new id all there is of the session; should
//     neither land, the old id keeps the session as it was before the
//     login (never the login's), for the requests still carrying it. A
//     write another request made under the old id in that moment, which
//     the store did answer, then stays under the old id, which the
//     browser no longer sends: the one way a login can cost a write, when
//     the store answers that request but neither of the login's writes.
//     Failing the login instead would lose the whole session whenever one
//     of those writes landed late.
//   - removing a copy that was written but never handed out (after a
//     login or a new session that failed) is a best effort: a copy whose
//     removal fails, or that a late write puts back, expires with its ttl;
//     its id was never sent, so nothing reaches it.
//
// # Size
//
// A record over MaxSize (session.max_size, 256 KiB by default) is not
// saved: the request fails with a *TooLargeError (500 by default) and the
// stored record stays as it was. Every request that changes a session
// rewrites its record, so a session of megabytes makes every such request
// slow; keep large data in your database and its key in the session.
//
// # The cookie
//
// The cookie holds only the session id: 192 random bits, signed with
// HMAC-SHA256 (over the id, and over the cookie's name too when it is not
// Beaker's default, so that two managers sharing a store and a secret
// cannot open each other's sessions with a moved value) under the first of
// the configured secrets (the others still
// verify, for rotation, and a cookie one of them verifies is re-signed
// with the first on its next response, so an old secret can be removed
// after one idle timeout). It is HttpOnly, SameSite=Lax, Path=/ and, by
// default, Secure when the request came over TLS. The store sees a SHA-256
// hash of the id, never the id, and logs show a short hash. A cookie that
// does not verify, whatever the change, starts a new empty session; it is
// never an error page.
//
// # What a Manager keeps
//
// A Manager remembers the last 4096 or so cookie values that verified
// (hashed into slots), so that a returning cookie costs a lookup and a
// constant-time comparison instead of an HMAC. With a store that shares
// its bytes (memstore), each also remembers its session's record as last
// read or saved, with those bytes, when they are at most 4 KiB: a request
// that finds the store still holding the same bytes (the same memory, not
// merely equal) skips decoding them. The store holds those bytes anyway;
// what only the Manager keeps alive is the last record of sessions that
// have since ended, up to 16 MiB in the worst case.
//
// # Errors
//
// A store failure while loading or saving, or a commit that takes longer
// than StoreTimeout, replaces the response with the ErrorHandler's (503 by
// default, keeping the headers that middleware outside the session's set)
// and is logged. A value that cannot be encoded as JSON, or a key that is
// not valid UTF-8 (ErrKeyNotUTF8), gives a 500 with an *EncodeError; a
// record over MaxSize a 500 with a *TooLargeError; a change
// to a session that a concurrent login moved a 409 with ErrSessionMoved. A
// change made after the response started is saved when it can be (an
// existing session keeps its cookie); when it cannot (it needs a new
// cookie), it is logged and passed to the ErrorHandler as
// ErrChangedAfterWrite. Every error is usable with errors.Is and errors.As.
//
// # Pyramid's names
//
// Session has Pyramid's ISession under Go names: Get[T] (session[key]),
// Set, Delete, Has, Keys, Len, All (items, values), Update, Pop[T],
// SetDefault[T], Clear, Changed, Invalidate, IsNew (new), Created,
// AddFlash/AddFlashTo/AddFlashOnce (flash), PeekFlash/PeekFlashes
// (peek_flash), PopFlash/PopFlashes (pop_flash), CSRFToken
// (get_csrf_token), NewCSRFToken (new_csrf_token). docs/pyramid.md in the
// repository lists each with its differences.
package session
