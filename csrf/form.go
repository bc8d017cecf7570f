package csrf

import (
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
)

// formToken reads the token from a form body, never from the query string.
// It parses the body as the handler would (r.ParseForm,
// r.ParseMultipartForm), so the handler finds the whole form on r.
func (p *Protection) formToken(w http.ResponseWriter, r *http.Request) (string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		if r.PostForm == nil {
			if err := p.capBody(w, r, p.opts.MaxFormBytes); err != nil {
				return "", err
			}
			if err := r.ParseForm(); err != nil {
				return "", formError(err)
			}
		}
		return r.PostForm.Get(p.opts.FieldName), nil
	case "multipart/form-data":
		if r.MultipartForm == nil {
			if err := p.capBody(w, r, p.opts.MaxUploadBytes); err != nil {
				return "", err
			}
			// Files beyond MaxFormBytes of memory go to temporary files,
			// which Middleware removes after the handler.
			if err := r.ParseMultipartForm(p.opts.MaxFormBytes); err != nil {
				return "", formError(err)
			}
		}
		if vs := r.MultipartForm.Value[p.opts.FieldName]; len(vs) > 0 {
			return vs[0], nil
		}
	}
	return "", nil
}

// capBody refuses a body whose declared length is over limit, and caps
// the reading of one of unknown length. A negative limit is no cap.
func (p *Protection) capBody(w http.ResponseWriter, r *http.Request, limit int64) error {
	if limit < 0 {
		return nil
	}
	if r.ContentLength > limit {
		return fmt.Errorf("%w: %d bytes, over the cap of %d", ErrTooLarge, r.ContentLength, limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return nil
}

// formError classifies an error from parsing a form body.
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: over the cap of %d bytes", ErrTooLarge, mbe.Limit)
	}
	if errors.Is(err, multipart.ErrMessageTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrBadForm, err)
}
