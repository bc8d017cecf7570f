package settings

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors carried in [Error.Err]; test for them with [errors.Is].
var (
	// ErrSyntax reports an INI line that is not a section header, a
	// key/value line, a comment or a continuation line.
	ErrSyntax = errors.New("syntax error")
	// ErrNoSection reports that the requested section is not in the file.
	ErrNoSection = errors.New("no such section")
	// ErrDuplicate reports a key (or section) given twice, including the
	// same key given both with and without the "beaker." prefix.
	ErrDuplicate = errors.New("duplicate key")
	// ErrInterpolation reports a bad %(name)s reference, a lone %, a
	// reference loop, or a PasteDeploy "get" line naming an unknown global.
	ErrInterpolation = errors.New("bad interpolation")
	// ErrUnknownKey reports a session.* or cache.* key that Beaker does not
	// know.
	ErrUnknownKey = errors.New("unknown key")
	// ErrUnknownRegion reports a cache.<region>.<key> override for a region
	// that is not listed in cache.regions.
	ErrUnknownRegion = errors.New("unknown cache region")
	// ErrTooLarge reports a settings file larger than [MaxFileSize] or a
	// line longer than [MaxLineLength].
	ErrTooLarge = errors.New("too large")
	// ErrUse reports a PasteDeploy "use" line that cannot be followed: a
	// file that cannot be read, a cycle, or too long a chain.
	ErrUse = errors.New("bad use reference")
	// ErrBadValue reports a value that does not parse as the type the key
	// requires.
	ErrBadValue = errors.New("bad value")
)

// Error is the only error type returned by this package (possibly several
// joined with [errors.Join] by [Settings.Check]). It locates the problem in
// the configuration source.
//
// Error messages never contain the value of a secret key (see [Mask]).
type Error struct {
	// File is the INI file name as given to Load or Parse, or "settings"
	// for settings built by FromMap.
	File string
	// Line is the 1-based line of the key in File, or 0 when unknown
	// (map input, or a file-level problem such as a missing section).
	Line int
	// Key is the key as written in the source (with its "beaker." prefix
	// if it had one); empty for file-level problems.
	Key string
	// Msg describes the problem.
	Msg string
	// Err is one of the package's sentinel errors, or the underlying I/O
	// error for Load.
	Err error
}

// Error formats the error as "file:line: key: msg", leaving out the
// parts that are empty (line when 0).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
	}
	if e.Key != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Key)
	}
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(msg)
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }
