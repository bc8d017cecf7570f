package sqlstore

import (
	"errors"
	"fmt"
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
	busy    time.Duration // SQLite busy timeout; 0: the default
	pgURL   string        // PostgreSQL: the URL as pgx reads it
}

// parseURL reads a URL in SQLAlchemy's form, as Beaker users write
// session.url:
//
//	sqlite:///relative/path.db    relative to base (the INI file's folder)
//	sqlite:////absolute/path.db
//	sqlite://  or  sqlite:///:memory:    an in-memory database (one process)
//	sqlite:///path.db?timeout=5   SQLAlchemy's busy timeout, in seconds
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
				sec, err := strconv.ParseFloat(vs[0], 64)
				if err != nil || sec < 0 {
					return target{}, fmt.Errorf("%w: sqlite timeout=%q: want seconds", ErrURL, vs[0])
				}
				t.busy = time.Duration(sec * float64(time.Second))
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
