package session

import (
	"bufio"
	"net"
	"net/http"
)

// responseWriter saves the session when the response starts, so that the
// cookie goes out before the body. It supports http.ResponseController
// (Unwrap), Flush and Hijack.
type responseWriter struct {
	http.ResponseWriter
	m       *Manager
	req     *http.Request
	session Session
	// outerHeader is a copy of the header as the handlers outside this
	// middleware left it (HSTS, CSP, ...), kept when an error replaces the
	// response; nil when it was empty.
	outerHeader http.Header
	ctx         sessionCtx // the request's context, with the session
	started     bool       // the session was committed for the header
	failed      bool       // the error handler answered; the handler's output is dropped
}

// start commits the session before the first byte of the response.
func (w *responseWriter) start() {
	if w.started {
		return
	}
	w.started = true
	s := &w.session
	s.mu.Lock()
	err := s.commit(w.Header())
	id := s.logRef()
	s.mu.Unlock()
	if err != nil {
		w.failed = true
		// The error replaces what the handler meant to send, but not the
		// headers set outside the session middleware.
		h := w.Header()
		for k := range h {
			if v, ok := w.outerHeader[k]; ok {
				h[k] = v
			} else {
				delete(h, k)
			}
		}
		w.m.fail(w.ResponseWriter, w.req, id, err)
	}
}

// finish runs after the handler: it commits a session that the handler
// never wrote a response for, and saves (or reports) changes made after
// the response started.
func (w *responseWriter) finish() {
	if !w.started {
		w.start()
		return
	}
	if w.failed {
		return
	}
	s := &w.session
	s.mu.Lock()
	var err error
	if s.dirty() {
		err = s.commit(nil)
	}
	id := s.logRef()
	s.mu.Unlock()
	if err != nil {
		w.m.fail(discard{w.ResponseWriter}, w.req, id, err)
	}
}

// WriteHeader commits the session, then writes the header. Informational
// (1xx) headers pass through without a commit.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.start()
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write commits the session, then writes b.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.start()
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the session and flushes the response.
func (w *responseWriter) Flush() {
	w.start()
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session (the cookie cannot be sent on a hijacked
// connection, but changes are saved) and hands over the connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.start()
	if w.failed {
		return nil, nil, ErrCommitFailed
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discard is given to the error handler once the response has started, so
// that a handler that writes anyway cannot corrupt the response.
type discard struct{ w http.ResponseWriter }

func (d discard) Header() http.Header         { return http.Header{} }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// addVaryCookie adds "Cookie" to the response's Vary header, unless it is
// there already. The key is written in its canonical form directly
// (Header.Add would canonicalise it on every response), and a header that
// had no Vary gets buf as its backing array, which saves an allocation: a
// later Add copies it (its capacity is one).
func addVaryCookie(h http.Header, buf *[1]string) {
	vs := h["Vary"]
	for _, v := range vs {
		if v == "Cookie" {
			return
		}
	}
	if len(vs) == 0 {
		buf[0] = "Cookie"
		h["Vary"] = buf[:1:1]
		return
	}
	h["Vary"] = append(vs, "Cookie")
}
