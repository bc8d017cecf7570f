// Package logtest records what a test's code logs through log/slog.
package logtest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Recorder is a slog.Handler that keeps each record as one line of text:
// its level, message and attributes ("WARN msg key=value"). It is safe for
// concurrent use; its zero value is ready.
type Recorder struct {
	mu   sync.Mutex
	recs []string
}

// Enabled implements slog.Handler: every level is kept.
func (h *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs implements slog.Handler; the attributes are not kept.
func (h *Recorder) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup implements slog.Handler; the group is not kept.
func (h *Recorder) WithGroup(string) slog.Handler { return h }

// Handle implements slog.Handler.
func (h *Recorder) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, s)
	h.mu.Unlock()
	return nil
}

// All returns the records kept, one per line.
func (h *Recorder) All() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.recs, "\n")
}
