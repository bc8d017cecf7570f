package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrURL is wrapped by the errors of a URL that the store cannot use.
var ErrURL = errors.New("sqlstore: bad url")

type dialect int

const (
	sqlite dialect = iota + 1
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// target is a parsed URL.
type target struct {
	dialect dialect
	path    string        // SQLite: file path, or "" for an in-memory database
	busy    time.Duration // SQLite busy timeout, when busySet
	busySet bool          // the URL gives timeout=; else the default
	pgURL   string        // PostgreSQL: the URL as pgx reads it
}

// parseURL reads a URL in SQLAlchemy's form, as Beaker users write
// session.url:
//
//	sqlite:///relative/path.db    relative to base (the INI file's folder)
//	sqlite:////absolute/path.db
//	sqlite://  or  sqlite:///:memory:    an in-memory database (one process)
//	sqlite:///path.db?timeout=5   SQLAlchemy's busy timeout, in seconds
//	                              (see parseTimeout)
//	postgresql://user:pass@host:port/db?sslmode=disable
//	postgresql+psycopg2://…       the driver suffix is ignored; postgres:// too
//
// Errors never quote the URL, which may hold a password.
func parseURL(raw, base string) (target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return target{}, fmt.Errorf("%w: want sqlite:///path or postgresql://host/db", ErrURL)
	}
	scheme = strings.ToLower(scheme)
	if i := strings.IndexByte(scheme, '+'); i >= 0 {
		scheme = scheme[:i] // postgresql+psycopg2, sqlite+pysqlite
	}
	switch scheme {
	case "sqlite", "sqlite3":
		return parseSQLite(rest, base)
	case "postgresql", "postgres", "pgsql":
		if _, err := url.Parse("postgres://" + rest); err != nil {
			return target{}, fmt.Errorf("%w: the PostgreSQL URL does not parse", ErrURL)
		}
		return target{dialect: postgres, pgURL: "postgres://" + rest}, nil
	}
	if !isScheme(scheme) { // "user:pass@host://…": not a scheme, and not to be quoted
		return target{}, fmt.Errorf("%w: want sqlite:///path or postgresql://host/db", ErrURL)
	}
	return target{}, fmt.Errorf("%w: unsupported database %q (sqlite and postgresql are)", ErrURL, scheme)
}

// maxBusy is the longest busy timeout SQLite takes: sqlite3_busy_timeout
// counts milliseconds in a C int.
const maxBusy = math.MaxInt32 * time.Millisecond

// parseTimeout reads SQLAlchemy's timeout= of a SQLite URL: how long a write
// waits for another process's lock, in seconds, as a decimal number. 0 means
// no wait (a write fails at once while another process writes), as in
// SQLAlchemy; a positive timeout is rounded up to whole milliseconds,
// SQLite's unit, so the shortest wait is 1 ms. NaN, infinities, negative
// numbers and more than maxBusy (about 24.8 days) are errors.
func parseTimeout(v string) (time.Duration, error) {
	sec, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("want a number of seconds: %w", err)
	case math.IsNaN(sec) || sec < 0:
		return 0, errors.New("want a number of seconds, 0 or more")
	case sec > maxBusy.Seconds(): // +Inf, and 1e400 (ErrRange) too
		return 0, fmt.Errorf("at most %d seconds (SQLite's limit)", int64(maxBusy.Seconds()))
	}
	return time.Duration(math.Ceil(sec*1000)) * time.Millisecond, nil
}

// isScheme reports whether s is a URL scheme: a letter, then letters,
// digits, '+', '-' and '.'.
func isScheme(s string) bool {
	for i, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return s != ""
}

func parseSQLite(rest, base string) (target, error) {
	t := target{dialect: sqlite}
	path, query, _ := strings.Cut(rest, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return target{}, fmt.Errorf("%w: sqlite query: %w", ErrURL, err)
		}
		for k, vs := range q {
			switch k {
			case "timeout":
				busy, err := parseTimeout(vs[0])
				if err != nil {
					return target{}, fmt.Errorf("%w: sqlite timeout=%q: %w", ErrURL, vs[0], err)
				}
				t.busy, t.busySet = busy, true
			case "check_same_thread": // a pysqlite option that means nothing here
			default:
				return target{}, fmt.Errorf("%w: unknown sqlite parameter %q (timeout is known)", ErrURL, k)
			}
		}
	}
	switch {
	case path == "" || path == "/:memory:":
		return t, nil
	case path[0] != '/':
		return target{}, fmt.Errorf("%w: a sqlite URL has three slashes before a relative path and four before an absolute one", ErrURL)
	}
	path, err := url.PathUnescape(path[1:])
	if err != nil {
		return target{}, fmt.Errorf("%w: sqlite path: %w", ErrURL, err)
	}
	if !filepath.IsAbs(path) && base != "" {
		path = filepath.Join(base, path)
	}
	t.path = path
	return t, nil
}
