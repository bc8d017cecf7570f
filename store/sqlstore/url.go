package sqlstore

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"path/filepath"
	"slices"
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
	notes   []urlNote     // options accepted but ignored, for Open to log
}

// A urlNote is a query option of the URL that parseURL accepted but that
// the store ignores: Open logs it.
type urlNote struct {
	Option string // the option's name, e.g. "isolation_level"
	Msg    string // why it is ignored
}

// parseURL reads a URL in SQLAlchemy's form, as Beaker users write
// session.url:
//
//	sqlite:///relative/path.db    relative to base (the INI file's folder)
//	sqlite:////absolute/path.db
//	sqlite://  or  sqlite:///:memory:    an in-memory database (one process)
//	sqlite:///path.db?timeout=5   SQLAlchemy's busy timeout, in seconds
//	                              (see parseTimeout); the other options of
//	                              its pysqlite dialect are accepted (see
//	                              parseSQLite)
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

// saBool reads a boolean as SQLAlchemy's util.asbool does: true, yes, on,
// y, t, 1 and false, no, off, n, f, 0, in any case, around spaces.
func saBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "y", "t", "1":
		return true, nil
	case "false", "no", "off", "n", "f", "0":
		return false, nil
	}
	return false, errors.New("want true or false")
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

// parseSQLite reads the part of a sqlite:// URL after the scheme. Its query
// takes the options that SQLAlchemy's pysqlite dialect takes from the URL
// (create_connect_args in sqlalchemy/dialects/sqlite/pysqlite.py: uri,
// timeout, isolation_level, detect_types, check_same_thread and
// cached_statements), with their values checked as SQLAlchemy coerces them:
//
//	timeout             the busy timeout (see parseTimeout)
//	check_same_thread   accepted: a Python threading check, nothing to do
//	                    here
//	isolation_level, detect_types, cached_statements
//	                    accepted and ignored, with a note for Open to log
//	uri                 false is accepted; true is refused (see below)
//
// SQLAlchemy drops any other option without uri=true, and with it hands
// them to SQLite as URI parameters; both are refused here, since an option
// that was meant (mode=ro, cache=shared, …) would be silently lost.
//
// uri=true makes the path a SQLite URI filename (sqlite:///file:x.db?
// mode=ro&uri=true). It is refused rather than supported: the store makes
// the database file itself (mode 0600, its folder too), opens it read-write
// in WAL mode, and reopens it at its path when it is removed or replaced;
// the URI parameters that are the reason to write one (mode=ro, immutable,
// nolock, vfs, cache=shared, mode=memory) contradict that or need a file
// handling of their own, and a URI without parameters says no more than
// the plain path.
func parseSQLite(rest, base string) (target, error) {
	t := target{dialect: sqlite}
	path, query, _ := strings.Cut(rest, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return target{}, fmt.Errorf("%w: sqlite query: %w", ErrURL, err)
		}
		// uri first: with it, the other options mean something else.
		if vs, ok := q["uri"]; ok {
			on, err := saBool(vs[0])
			if err != nil {
				return target{}, fmt.Errorf("%w: sqlite uri=%q: %w", ErrURL, vs[0], err)
			}
			if on {
				return target{}, fmt.Errorf("%w: sqlite uri=true (a SQLite URI filename, file:…?mode=…) is not supported: "+
					"the store creates the database file, opens it read-write in WAL mode and reopens it when it is replaced, "+
					"which URI parameters such as mode=ro, immutable, nolock, vfs or cache=shared would contradict; "+
					"write the path as sqlite:///relative/path.db or sqlite:////absolute/path.db (and ?timeout=)", ErrURL)
			}
		}
		keys := slices.Sorted(maps.Keys(q))
		for _, k := range keys {
			v := q[k][0]
			switch k {
			case "uri":
			case "timeout":
				busy, err := parseTimeout(v)
				if err != nil {
					return target{}, fmt.Errorf("%w: sqlite timeout=%q: %w", ErrURL, v, err)
				}
				t.busy, t.busySet = busy, true
			case "check_same_thread": // a pysqlite option that means nothing here
			case "isolation_level":
				t.notes = append(t.notes, urlNote{k, "isolation_level is ignored: the store runs its own transactions (a write takes the lock at BEGIN, as IMMEDIATE)"})
			case "detect_types", "cached_statements":
				if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
					return target{}, fmt.Errorf("%w: sqlite %s=%q: want a whole number: %w", ErrURL, k, v, err)
				}
				what := "it sets how Python's sqlite3 converts column types"
				if k == "cached_statements" {
					what = "the store prepares its statements once"
				}
				t.notes = append(t.notes, urlNote{k, k + " is ignored: " + what})
			default:
				return target{}, fmt.Errorf("%w: unknown sqlite parameter %q (known: timeout, check_same_thread, "+
					"isolation_level, detect_types, cached_statements; SQLite URI parameters need uri=true, which is not supported)", ErrURL, k)
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
