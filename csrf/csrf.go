// Package csrf protects unsafe requests against cross-site request forgery,
// in two layers, as Pyramid's require_csrf does with a session
// (config.set_default_csrf_options(require_csrf=True)):
//
//  1. Origin (Pyramid's check_csrf_origin): Go's http.CrossOriginProtection
//     refuses browser requests whose Sec-Fetch-Site or Origin header shows
//     another origin, unless the Origin is one of Options.TrustedOrigins
//     (pyramid.csrf_trusted_origins, in Pyramid's form or with a scheme).
//  2. Token (Pyramid's check_csrf_token): the request must carry the
//     session's CSRF token (session.Session.CSRFToken) in the X-CSRF-Token
//     header or, failing that, in the csrf_token field of a form body
//     (never the query string). The comparison takes constant time.
//
// Safe methods (GET, HEAD, OPTIONS and TRACE, Pyramid's safe_methods) pass
// both layers; so do requests that Options.Exempt or Options.ExemptPatterns
// exempt (Pyramid's require_csrf=False per view, and its callback).
//
// A form body is parsed only when the header carries no token. An
// url-encoded body is capped (Options.MaxFormBytes); a multipart body,
// uploads included, is parsed with its files spilled to temporary files
// (capped in total by Options.MaxUploadBytes), which Middleware removes
// once the handler returns. Either way the handler finds the parsed form
// in r.PostForm, r.Form and r.MultipartForm, as if it had parsed the body
// itself.
//
// The middleware needs the session: wrap it inside session.Manager's
// Middleware. Templates put the token in forms with Field.
//
// Deliberate differences from Pyramid:
//
//   - The origin layer is Go's: it applies to plain HTTP requests too
//     (Pyramid checks only HTTPS requests), reads Sec-Fetch-Site first and
//     never the Referer, and lets through requests with neither
//     Sec-Fetch-Site nor Origin (non-browser clients and old browsers;
//     Pyramid refuses them on HTTPS unless allow_no_origin). The token is
//     still required of them.
//   - A refusal answers 403 Forbidden (Options.FailureStatus), and 413 for
//     a body over the caps; Pyramid raises BadCSRFOrigin or BadCSRFToken,
//     both 400 Bad Request.
//   - Form bodies are capped (Pyramid has no cap).
package csrf

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/gobeaker/beaker/session"
)

// Default values of Options fields.
const (
	DefaultFieldName      = "csrf_token"
	DefaultHeaderName     = "X-CSRF-Token"
	DefaultMaxFormBytes   = 1 << 20
	DefaultMaxUploadBytes = 32 << 20
	DefaultFailureStatus  = http.StatusForbidden
)

// Reasons a request is refused, or New fails; the error given to
// Options.FailureHandler wraps one of the first six.
var (
	ErrCrossOrigin   = errors.New("csrf: cross-origin request refused")
	ErrTokenMissing  = errors.New("csrf: CSRF token missing")
	ErrTokenMismatch = errors.New("csrf: CSRF token does not match the session's")
	ErrNoSession     = errors.New("csrf: the session has no CSRF token (expired or new session)")
	ErrBadForm       = errors.New("csrf: form body unreadable")
	ErrTooLarge      = errors.New("csrf: request body too large")

	// ErrTrustedOrigin is wrapped by New's error for a malformed entry of
	// Options.TrustedOrigins, which the error names.
	ErrTrustedOrigin = errors.New("csrf: malformed trusted origin")
	// ErrExemptPattern is wrapped by New's error for an entry of
	// Options.ExemptPatterns that http.ServeMux refuses.
	ErrExemptPattern = errors.New("csrf: bad exempt pattern")
)

// Options configures Protection. The zero value is ready to use.
type Options struct {
	// TrustedOrigins are the origins from which cross-origin unsafe
	// requests are allowed (Pyramid: the pyramid.csrf_trusted_origins
	// setting, or check_csrf_origin's trusted_origins). The default is
	// none: only the request's own origin.
	//
	// An entry is written as Pyramid writes it, meaning HTTPS:
	//   - "example.com": https://example.com
	//   - "example.com:8443": https://example.com:8443
	//   - ".example.com": https://example.com and https://any.sub.example.com
	//     (Pyramid's is_same_domain), on the default port; with a port,
	//     ".example.com:8443", on that port
	//   - "null": the opaque origin "null" (sandboxed frames, some
	//     redirects); it trusts every such page, so list it only if needed
	//
	// or, beyond Pyramid, with its scheme: "https://a.example",
	// "http://localhost:8080", "https://.example.com". A scheme-less entry
	// never trusts an http:// origin, as in Pyramid. Default ports (443,
	// 80) may be written or not. A malformed entry is an error from New
	// that names it (ErrTrustedOrigin).
	TrustedOrigins []string

	// Exempt, when it returns true, lets an unsafe request through without
	// the origin or token check: a bearer-token API, say, whose requests
	// carry no cookie a forger could ride on. It is Pyramid's callback
	// option with the opposite sense (Pyramid's callback returns False to
	// skip the checks). It runs before the body is read. The default
	// exempts nothing.
	Exempt func(r *http.Request) bool

	// ExemptPatterns are http.ServeMux patterns ("POST /webhooks/",
	// "/api/") whose requests go through without the origin or token
	// check (Pyramid: require_csrf=False on a view). They are also handed
	// to http.CrossOriginProtection.AddInsecureBypassPattern, and match as
	// it does: only requests the pattern matches directly, not those a
	// ServeMux would redirect to it. An invalid or conflicting pattern is
	// an error from New (ErrExemptPattern).
	ExemptPatterns []string

	// FieldName is the form field that carries the token (Pyramid:
	// check_csrf_token's token, require_csrf's token option). The default
	// is "csrf_token", Pyramid's.
	FieldName string

	// HeaderName is the header that carries the token, looked at before
	// the body (Pyramid: check_csrf_token's header). The default is
	// "X-CSRF-Token", Pyramid's.
	HeaderName string

	// MaxFormBytes caps an application/x-www-form-urlencoded body read to
	// find the token, and is the memory a multipart body may take before
	// its file parts are spilled to temporary files (non-file parts may
	// take 10 MiB more, as http.Request.ParseMultipartForm allows). The
	// default (0, or any value under 1) is 1 MiB: this cap cannot be
	// removed. Pyramid has no cap.
	MaxFormBytes int64

	// MaxUploadBytes caps a multipart/form-data body read to find the
	// token, uploaded files included. The default (0) is 32 MiB; a
	// negative value removes the cap (the body is then bounded only by
	// the server and the disk). The cap matters because the token is
	// known only once the body has been read: until then a request is
	// anyone's. Pyramid has no cap.
	MaxUploadBytes int64

	// Sessions is the session manager whose token is checked, when
	// several managers are nested on one request (an admin area with its
	// own cookie). The default is the innermost manager's session
	// (session.FromRequest).
	Sessions *session.Manager

	// FailureStatus is the status the default FailureHandler answers a
	// refused request with. The default is 403 Forbidden (Go's
	// CrossOriginProtection's; Pyramid answers 400 Bad Request). A body
	// over the caps is answered 413 Content Too Large whatever this says.
	FailureStatus int

	// FailureHandler answers a refused request; err wraps ErrCrossOrigin,
	// ErrTokenMissing, ErrTokenMismatch, ErrNoSession, ErrBadForm or
	// ErrTooLarge. The default answers FailureStatus (or 413 for
	// ErrTooLarge) with a short text saying what was wrong.
	FailureHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Protection is the CSRF middleware. Create it with New.
type Protection struct {
	cop     *http.CrossOriginProtection
	trusted []trustedOrigin
	exempt  *http.ServeMux // nil without ExemptPatterns
	marker  http.Handler   // what exempt returns for an exempt request
	opts    Options
}

// exemptMarker is the handler registered for ExemptPatterns; a request is
// exempt when the ServeMux returns it.
type exemptMarker struct{ _ byte }

func (*exemptMarker) ServeHTTP(http.ResponseWriter, *http.Request) {}

// New returns a Protection configured by opts. A malformed trusted origin
// or exempt pattern is an error.
func New(opts Options) (*Protection, error) {
	p := &Protection{cop: http.NewCrossOriginProtection(), opts: opts}
	for _, entry := range opts.TrustedOrigins {
		o, err := parseTrustedOrigin(entry)
		if err != nil {
			return nil, err
		}
		p.trusted = append(p.trusted, o)
	}
	if len(opts.ExemptPatterns) > 0 {
		p.exempt, p.marker = http.NewServeMux(), &exemptMarker{}
		for _, pat := range opts.ExemptPatterns {
			if err := handle(p.exempt, pat, p.marker); err != nil {
				return nil, err
			}
			p.cop.AddInsecureBypassPattern(pat)
		}
	}
	if p.opts.FieldName == "" {
		p.opts.FieldName = DefaultFieldName
	}
	if p.opts.HeaderName == "" {
		p.opts.HeaderName = DefaultHeaderName
	}
	if p.opts.MaxFormBytes <= 0 {
		p.opts.MaxFormBytes = DefaultMaxFormBytes
	}
	if p.opts.MaxUploadBytes == 0 {
		p.opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if p.opts.FailureStatus == 0 {
		p.opts.FailureStatus = DefaultFailureStatus
	}
	if p.opts.FailureHandler == nil {
		status := p.opts.FailureStatus
		p.opts.FailureHandler = func(w http.ResponseWriter, r *http.Request, err error) { fail(w, err, status) }
	}
	return p, nil
}

// handle registers pattern on mux, turning ServeMux's panic for an invalid
// or conflicting pattern into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w %q: %s", ErrExemptPattern, pattern, withoutLocations(fmt.Sprint(v)))
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// withoutLocations drops from a ServeMux panic message the " (registered
// at FILE:LINE)" notes, which name this package's source, and its newlines.
func withoutLocations(msg string) string {
	for {
		i := strings.Index(msg, " (registered at ")
		if i < 0 {
			break
		}
		j := strings.IndexByte(msg[i:], ')')
		if j < 0 {
			break
		}
		msg = msg[:i] + msg[i+j+1:]
	}
	return strings.Join(strings.Fields(msg), " ")
}

// DefaultFailureHandler answers 403 Forbidden (413 Content Too Large for
// ErrTooLarge) with the reason as text. New's default handler is the same
// with Options.FailureStatus.
func DefaultFailureHandler(w http.ResponseWriter, r *http.Request, err error) {
	fail(w, err, http.StatusForbidden)
}

func fail(w http.ResponseWriter, err error, status int) {
	if errors.Is(err, ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	http.Error(w, fmt.Sprintf("%d %s: %v", status, http.StatusText(status), err), status)
}

// Middleware refuses cross-origin requests and unsafe requests without the
// session's token, and passes the others to next.
//
// When the check or next parses a multipart body on the request next is
// given, Middleware removes its temporary files once next returns (net/http
// does so only for the request it made, and the session middleware hands on
// a copy). A handler that keeps using uploaded files after it returns must
// move them first.
func (p *Protection) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.MultipartForm == nil {
			defer func() {
				if r.MultipartForm != nil {
					r.MultipartForm.RemoveAll()
				}
			}()
		}
		if err := p.Check(w, r); err != nil {
			p.opts.FailureHandler(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Check returns nil when r may go on, and otherwise an error wrapping one
// of the Err values. w is used only to cap the body read. When it reads a
// form body, it leaves the parsed form on r (r.PostForm, r.Form,
// r.MultipartForm); a caller other than Middleware removes the temporary
// files of a multipart form itself (r.MultipartForm.RemoveAll).
func (p *Protection) Check(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	if p.isExempt(r) {
		return nil
	}
	if err := p.checkOrigin(r); err != nil {
		return err
	}
	// A session without a token cannot match: refuse before reading the
	// body.
	want := p.session(r).PeekCSRFToken()
	if want == "" {
		return ErrNoSession
	}
	got := r.Header.Get(p.opts.HeaderName)
	if got == "" {
		var err error
		if got, err = p.formToken(w, r); err != nil {
			return err
		}
	}
	if got == "" {
		return fmt.Errorf("%w: send it in the %s header or the %s form field", ErrTokenMissing, p.opts.HeaderName, p.opts.FieldName)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrTokenMismatch
	}
	return nil
}

// isExempt reports whether Options.Exempt or Options.ExemptPatterns exempt r.
func (p *Protection) isExempt(r *http.Request) bool {
	if p.opts.Exempt != nil && p.opts.Exempt(r) {
		return true
	}
	if p.exempt != nil {
		if h, _ := p.exempt.Handler(r); h == p.marker {
			return true
		}
	}
	return false
}

// checkOrigin applies Go's cross-origin check, then lets through a refused
// request whose Origin is trusted (the check in which Go itself consults
// AddTrustedOrigin, extended to Pyramid's forms).
func (p *Protection) checkOrigin(r *http.Request) error {
	err := p.cop.Check(r)
	if err == nil {
		return nil
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		for _, o := range p.trusted {
			if o.matches(origin) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %w", ErrCrossOrigin, err)
}

// session returns the session whose token is checked.
func (p *Protection) session(r *http.Request) *session.Session {
	if p.opts.Sessions != nil {
		return p.opts.Sessions.FromRequest(r)
	}
	return session.FromRequest(r)
}

// Token returns the request session's CSRF token, making one if needed
// (Pyramid: get_csrf_token).
func Token(r *http.Request) string { return session.FromRequest(r).CSRFToken() }

// Field returns a hidden form input named csrf_token (DefaultFieldName)
// that carries the request session's CSRF token, for templates:
// {{ .CSRFField }}. With a configured Options.FieldName or
// Options.Sessions, use Protection.Field.
func Field(r *http.Request) template.HTML { return field(DefaultFieldName, Token(r)) }

// Field is like the package's Field, with the configured field name and
// the token of the configured manager's session.
func (p *Protection) Field(r *http.Request) template.HTML {
	return field(p.opts.FieldName, p.session(r).CSRFToken())
}

// Token is like the package's Token, for the configured manager's session.
func (p *Protection) Token(r *http.Request) string { return p.session(r).CSRFToken() }

func field(name, token string) template.HTML {
	return template.HTML(`<input type="hidden" name="` + template.HTMLEscapeString(name) + `" value="` +
		template.HTMLEscapeString(token) + `">`)
}
