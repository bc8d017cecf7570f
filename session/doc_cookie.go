// # Sessions in the cookie
//
// NewCookie keeps the whole session in the cookie instead of a store
// (Beaker's session.type = cookie, the default of Rails and Django): no
// store to run, nothing kept on the server. The record is the JSON of
// server-side sessions, encrypted and authenticated with
// XChaCha20-Poly1305 under keys derived with HKDF from session.secret
// (or session.encrypt_key and session.validate_key), with the cookie name,
// the creation time and the expiry authenticated with it. What it cannot
// do follows from where the session lives:
//
//   - Size. Browsers drop a cookie over 4096 bytes without a word, so a
//     save whose Set-Cookie line (name, value and attributes) would be
//     over MaxCookieSize fails with a *CookieTooLargeError
//     (errors.Is(err, ErrCookieTooLarge)): the error handler answers (500
//     by default), the log gives the size, and the browser keeps its
//     earlier cookie. Sealing adds 61 bytes and base64 a third, so a
//     record of about 2.9 KB of JSON fits with the default attributes. A session
//     that needs more belongs on the server: set session.type to memory,
//     file, ext:redis, ext:memcached or ext:database; the handlers do not
//     change, and the cookie then holds only a signed id.
//   - Concurrent requests cannot merge. Each response carries the whole
//     session, and the browser keeps the cookie of the response that
//     arrives last: two requests that change the session at once (two
//     tabs, parallel AJAX calls) keep only one request's changes, and a
//     flash message popped by one may show again. Server-side sessions
//     apply each request's changes to the stored record and lose neither.
//   - No server-side revocation. Invalidate clears the cookie in this
//     browser only. A copy of the cookie (stolen, or kept by the user)
//     stays valid until it expires: until the idle timeout
//     (session.timeout) after it was issued, and at most the lifetime
//     (session.lifetime) after the session was created. Both are checked
//     against the times sealed in the cookie and against the
//     configuration at each request, so shortening either in the
//     configuration shortens existing cookies too. To revoke every session
//     at once, replace the secret (or the encrypt key) and list no
//     fallback. To revoke one user's sessions, keep the sessions on the
//     server.
//
// Every change is a new cookie, so a change made after the response
// started cannot be saved: it fails with ErrChangedAfterWrite, logged.
// The operator methods (Scan, Lookup, Remove, Purge) return
// ErrClientSide: there is nothing on the server to list.
package session
