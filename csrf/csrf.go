// Package csrf protects unsafe requests against cross-site request forgery,
// in two layers, as Pyramid's require_csrf does with a session:
//
//  1. Go's http.CrossOriginProtection refuses browser requests whose
//     Sec-Fetch-Site or Origin header shows another origin (unless listed
//     in TrustedOrigins).
//  2. For methods other than GET, HEAD and OPTIONS, the request must carry
//     the session's CSRF token (session.Session.CSRFToken) in the
//     X-CSRF-Token header or, failing that, in the csrf_token field of a
//     form body (never the query string). The comparison takes constant
//     time.
//
// The middleware needs the session: wrap it inside session.Manager's
// Middleware. Templates put the token in forms with Field.
package csrf

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"

	"github.com/gobeaker/beaker/session"
)

// Default values of Options fields.
const (
	DefaultFieldName    = "csrf_token"
	DefaultHeaderName   = "X-CSRF-Token"
	DefaultMaxFormBytes = 1 << 20
)

// Reasons a request is refused; the error given to Options.FailureHandler
// wraps one of them.
var (
	ErrCrossOrigin   = errors.New("csrf: cross-origin request refused")
	ErrTokenMissing  = errors.New("csrf: CSRF token missing")
	ErrTokenMismatch = errors.New("csrf: CSRF token does not match the session's")
	ErrNoSession     = errors.New("csrf: the session has no CSRF token (expired or new session)")
	ErrBadForm       = errors.New("csrf: form body unreadable or too large")
)

// Options configures Protection. The zero value is ready to use.
type Options struct {
	// TrustedOrigins are origins ("https://app.example.com", scheme, host
	// and optional port) from which cross-origin requests are allowed (INI:
	// pyramid.csrf_trusted_origins). The default is none.
	TrustedOrigins []string

	// FieldName is the form field that carries the token. The default is
	// "csrf_token", Pyramid's.
	FieldName string

	// HeaderName is the header that carries the token. The default is
	// "X-CSRF-Token", Pyramid's.
	HeaderName string

	// MaxFormBytes caps how much of a form body is read to find the token.
	// The default is 1 MiB.
	MaxFormBytes int64

	// Sessions is the session manager whose token is checked, when
	// several managers are nested on one request (an admin area with its
	// own cookie). The default is the innermost manager's session
	// (session.FromRequest).
	Sessions *session.Manager

	// FailureHandler answers a refused request. The default answers 403
	// Forbidden with a short text saying what was wrong.
	FailureHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Protection is the CSRF middleware. Create it with New.
type Protection struct {
	cop  *http.CrossOriginProtection
	opts Options
}

// New returns a Protection configured by opts. A malformed trusted origin
// is an error.
func New(opts Options) (*Protection, error) {
	p := &Protection{cop: http.NewCrossOriginProtection(), opts: opts}
	for _, o := range opts.TrustedOrigins {
		if err := p.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("csrf: trusted origin %q: %w", o, err)
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
	if p.opts.FailureHandler == nil {
		p.opts.FailureHandler = DefaultFailureHandler
	}
	return p, nil
}

// DefaultFailureHandler answers 403 Forbidden with the reason as text.
func DefaultFailureHandler(w http.ResponseWriter, r *http.Request, err error) {
	http.Error(w, "403 Forbidden: "+err.Error(), http.StatusForbidden)
}

// Middleware refuses cross-origin requests and unsafe requests without the
// session's token, and passes the others to next.
func (p *Protection) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.Check(w, r); err != nil {
			p.opts.FailureHandler(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Check returns nil when r may go on, and otherwise an error wrapping one
// of the Err values. w is used only to cap the form body read.
func (p *Protection) Check(w http.ResponseWriter, r *http.Request) error {
	if err := p.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCrossOrigin, err)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
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
	want := p.session(r).PeekCSRFToken()
	if want == "" {
		return ErrNoSession
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrTokenMismatch
	}
	return nil
}

// session returns the session whose token is checked.
func (p *Protection) session(r *http.Request) *session.Session {
	if p.opts.Sessions != nil {
		return p.opts.Sessions.FromRequest(r)
	}
	return session.FromRequest(r)
}

// formToken reads the token from a form body, never from the query string.
func (p *Protection) formToken(w http.ResponseWriter, r *http.Request) (string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(w, r.Body, p.opts.MaxFormBytes)
		if err := r.ParseForm(); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadForm, err)
		}
		return r.PostForm.Get(p.opts.FieldName), nil
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, p.opts.MaxFormBytes)
		if err := r.ParseMultipartForm(p.opts.MaxFormBytes); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadForm, err)
		}
		if vs := r.MultipartForm.Value[p.opts.FieldName]; len(vs) > 0 {
			return vs[0], nil
		}
	}
	return "", nil
}

// Token returns the request session's CSRF token, making one if needed.
func Token(r *http.Request) string { return session.FromRequest(r).CSRFToken() }

// Field returns a hidden form input named csrf_token that carries the
// request session's CSRF token, for templates: {{ .CSRFField }}.
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
