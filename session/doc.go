// Package session gives each HTTP request a dict-like session, as Pyramid's
// request.session does with Beaker: loaded on first use, saved when the
// response starts, with flash message queues, a CSRF token, an idle timeout
// and an absolute lifetime.
//
// A Manager holds the configuration and a store (any store.Store that
// implements store.Updater: memory, file, SQL, Redis, memcached). Its
// Middleware, a plain func(http.Handler) http.Handler, puts a *Session in
// each request's context:
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
// each other's values, flash messages are neither lost nor shown twice, a
// read-only request writes nothing, and a request that saves after a
// concurrent Invalidate does not bring the session back. The idle timeout
// is kept alive with store.Toucher.Touch, which changes only the expiry, at
// most once per tenth of the timeout.
//
// # The cookie
//
// The cookie holds only the session id: 192 random bits, signed with
// HMAC-SHA256 under the first of the configured secrets (the others still
// verify, for rotation). It is HttpOnly, SameSite=Lax, Path=/ and, by
// default, Secure when the request came over TLS. The store sees a SHA-256
// hash of the id, never the id, and logs show a short hash. A cookie that
// does not verify, whatever the change, starts a new empty session; it is
// never an error page.
//
// # Errors
//
// A store failure while loading or saving, or a store call that takes
// longer than StoreTimeout, replaces the response with the ErrorHandler's
// (503 by default) and is logged. A value that cannot be encoded as JSON
// gives a 500 with an *EncodeError. A change made after the response
// started is saved when it can be (an existing session keeps its cookie);
// when it cannot (it needs a new cookie), it is logged and passed to the
// ErrorHandler as ErrChangedAfterWrite.
package session
