package settings

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MapSource is the File of errors and positions for settings built by
// [FromMap].
const MapSource = "settings"

// CSRFTrustedOriginsKey is the one Pyramid key, outside session.* and
// cache.*, that Settings keeps: a whitespace-separated list of origins
// (read it with [Settings.Fields]).
const CSRFTrustedOriginsKey = "pyramid.csrf_trusted_origins"

// Settings holds the Beaker keys of one configuration: every session.* and
// cache.* key (stored without any "beaker." prefix) and
// pyramid.csrf_trusted_origins, each with its value and position.
//
// A Settings is immutable once built and safe for concurrent use.
type Settings struct {
	file    string
	entries map[string]entry
	notes   []note // warnings found while reading, logged by Check

	// regions indexes the cache keys by region, built on first use.
	regionsOnce sync.Once
	regions     *regionIndex
}

// entry is one kept key.
type entry struct {
	name  string // as written (may carry "beaker.")
	value string
	file  string // where it was written: the source, or a file it inherits from
	dir   string // %(here)s of that file: its absolute folder ("" for map input)
	line  int
}

// note is a warning found while reading the source.
type note struct {
	file string
	key  string
	line int
	msg  string
}

// builder collects the kept keys of a source.
type builder struct {
	s   *Settings
	dir string // %(here)s of the file being read ("" for map input)
}

func newBuilder(file, dir string) *builder {
	return &builder{s: &Settings{file: file, entries: map[string]entry{}}, dir: dir}
}

// canonical returns the stored name of key and whether Settings keeps it.
func canonical(key string) (string, bool) {
	if rest, ok := strings.CutPrefix(key, "beaker."); ok && (strings.HasPrefix(rest, "session.") || strings.HasPrefix(rest, "cache.")) {
		return rest, true
	}
	if strings.HasPrefix(key, "session.") || strings.HasPrefix(key, "cache.") || key == CSRFTrustedOriginsKey {
		return key, true
	}
	return "", false
}

func (b *builder) add(name, value string, line int) error {
	c, keep := canonical(name)
	if !keep {
		if strings.HasPrefix(name, "beaker.") {
			b.s.notes = append(b.s.notes, note{file: b.s.file, key: name, line: line,
				msg: "key ignored: only beaker.session.* and beaker.cache.* keys are used"})
		}
		return nil
	}
	if prev, ok := b.s.entries[c]; ok {
		msg := "key given twice"
		if prev.name != name {
			msg = "same key as " + prev.name
		}
		if prev.line > 0 {
			msg += fmt.Sprintf(" (line %d)", prev.line)
		}
		return &Error{File: b.s.file, Line: line, Key: name, Msg: msg, Err: ErrDuplicate}
	}
	b.s.entries[c] = entry{name: name, value: value, file: b.s.file, dir: b.dir, line: line}
	return nil
}

// FromMap builds Settings from a Pyramid settings dictionary. Values are
// used as they are (no %(name)s interpolation). Keys are handled as in
// [Parse]: "beaker." prefixes are stripped, a key given with and without
// the prefix is an [ErrDuplicate] error, keys outside session.* and cache.*
// (except pyramid.csrf_trusted_origins) are dropped. Errors and positions
// name the file [MapSource] with line 0.
func FromMap(m map[string]string) (*Settings, error) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	// Plain names sort before "beaker." ones, so a duplicate is reported
	// on the prefixed spelling.
	sort.Slice(names, func(i, j int) bool {
		pi, pj := strings.HasPrefix(names[i], "beaker."), strings.HasPrefix(names[j], "beaker.")
		if pi != pj {
			return pj
		}
		return names[i] < names[j]
	})
	b := newBuilder(MapSource, "")
	for _, k := range names {
		if err := b.add(k, m[k], 0); err != nil {
			return nil, err
		}
	}
	return b.s, nil
}

// Source returns the file name the settings were read from (as given to
// Load or Parse, "<input>" if that was empty), or [MapSource].
func (s *Settings) Source() string { return s.file }

func (s *Settings) get(key string) (entry, bool) {
	c, ok := canonical(key)
	if !ok {
		return entry{}, false
	}
	e, ok := s.entries[c]
	return e, ok
}

// Lookup returns the value of key and whether it is set. key may be
// given with or without the "beaker." prefix.
func (s *Settings) Lookup(key string) (string, bool) {
	e, ok := s.get(key)
	return e.value, ok
}

// Has reports whether key (with or without "beaker.") is set.
func (s *Settings) Has(key string) bool {
	_, ok := s.get(key)
	return ok
}

// Keys returns the keys that are set, sorted, without "beaker." prefixes.
func (s *Settings) Keys() []string {
	keys := make([]string, 0, len(s.entries))
	for k := range s.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Position returns where key was set: the file name and the 1-based line
// (0 for map input). The file is the source, or for a value inherited
// through a "use = config:" line, the file that holds it. For a key that
// is not set it returns the source name and 0.
func (s *Settings) Position(key string) (file string, line int) {
	e, ok := s.get(key)
	if !ok {
		return s.file, 0
	}
	return e.file, e.line
}

// Dir returns the folder of the file that holds key: the absolute
// directory that %(here)s stands for in that file, which is where a
// relative path written in the value is meant to be (a value inherited
// through a "use = config:" line gets the inherited file's folder). For
// input read by Parse without a name it is the working directory at the
// time of Parse. It returns "" for settings built by [FromMap] and for a
// key that is not set.
func (s *Settings) Dir(key string) string {
	e, _ := s.get(key)
	return e.dir
}

// Written returns key as it was spelled in the source (for instance
// "beaker.session.secret" for "session.secret"), or "" if it is not set.
func (s *Settings) Written(key string) string {
	e, _ := s.get(key)
	return e.name
}

// badValue returns an ErrBadValue error for e. The value is quoted at the
// start of the message unless the key is secret.
func (s *Settings) badValue(e entry, what string) *Error {
	v := strings.TrimSpace(e.value)
	var msg string
	switch {
	case isSecretKey(e.name):
		msg = "value is " + what
	case v == "":
		msg = "empty value is " + what
	default:
		msg = quoteShort(v) + " is " + what
	}
	return &Error{File: e.file, Line: e.line, Key: e.name, Msg: msg, Err: ErrBadValue}
}

// String returns the value of key, or def if it is not set.
func (s *Settings) String(key, def string) string {
	if e, ok := s.get(key); ok {
		return e.value
	}
	return def
}

const boolHelp = "not a boolean (want true/false, yes/no, on/off, y/n, t/f or 1/0)"

// parseBool is Beaker's asbool without its fallbacks: true, yes, on, y,
// t, 1 and false, no, off, n, f, 0, ignoring case and surrounding blanks.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "y", "t", "1":
		return true, true
	case "false", "no", "off", "n", "f", "0":
		return false, true
	}
	return false, false
}

// Bool returns key as a boolean, or def if it is not set. Accepted
// values (any case, blanks trimmed): true, yes, on, y, t, 1 and false,
// no, off, n, f, 0. Anything else, including an empty value, is an
// [ErrBadValue] *Error.
func (s *Settings) Bool(key string, def bool) (bool, error) {
	e, ok := s.get(key)
	if !ok {
		return def, nil
	}
	b, ok := parseBool(e.value)
	if !ok {
		return def, s.badValue(e, boolHelp)
	}
	return b, nil
}

// parseInt accepts an optional sign and ASCII digits, blanks trimmed.
func parseInt(v string) (int64, error) {
	v = strings.TrimSpace(v)
	digits := strings.TrimLeft(v, "+-")
	if len(v)-len(digits) > 1 || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(v, 10, 64)
}

// Int returns key as an integer, or def if it is not set. The value must
// be an optional sign followed by decimal digits (blanks around it are
// ignored); anything else is an [ErrBadValue] *Error.
func (s *Settings) Int(key string, def int) (int, error) {
	e, ok := s.get(key)
	if !ok {
		return def, nil
	}
	n, err := parseInt(e.value)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return def, s.badValue(e, "not a whole number")
	}
	if err != nil || n < math.MinInt || n > math.MaxInt {
		return def, s.badValue(e, "out of range")
	}
	return int(n), nil
}

// maxSeconds is the largest number of seconds a time.Duration holds.
const maxSeconds = math.MaxInt64 / int64(time.Second)

func (s *Settings) seconds(e entry) (time.Duration, *Error) {
	n, err := parseInt(e.value)
	negative := strings.HasPrefix(strings.TrimSpace(e.value), "-")
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, s.badValue(e, "not a whole number of seconds")
	case negative && n != 0 || negative && err != nil:
		return 0, s.badValue(e, "negative; want a whole number of seconds, 0 or more")
	case err != nil || n > maxSeconds:
		return 0, s.badValue(e, "too many seconds")
	}
	return time.Duration(n) * time.Second, nil
}

// Seconds returns key, a whole non-negative number of seconds (as for
// Int), as a time.Duration, or def if it is not set. A bad value is an
// [ErrBadValue] *Error such as
//
//	demo.ini:14: session.timeout: "ten" is not a whole number of seconds
func (s *Settings) Seconds(key string, def time.Duration) (time.Duration, error) {
	e, ok := s.get(key)
	if !ok {
		return def, nil
	}
	d, err := s.seconds(e)
	if err != nil {
		return def, err
	}
	return d, nil
}

// DateForms lists the forms of a date that [Settings.Date] accepts, for
// messages.
const DateForms = "2027-01-31, 2027-01-31T12:00, 2027-01-31T12:00:00 (or with a space for the T, or fractional seconds), " +
	"each optionally followed by Z or an offset such as +01:00; without one the time is UTC"

const cookieExpiresHelp = "not a boolean, a whole number of seconds, or a date (" + DateForms + ")"

// parseDate parses v, blanks trimmed, in one of dateLayouts.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if len(v) < 10 || len(v) > 40 {
		return time.Time{}, false
	}
	for _, l := range [...]string{
		"2006-01-02",
		"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05",
		"2006-01-02T15:04Z07:00", "2006-01-02T15:04",
		"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05",
		"2006-01-02 15:04Z07:00", "2006-01-02 15:04",
	} {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Date returns key as an instant written in ISO 8601 form (see
// [DateForms]: a date, or a date and time, with an optional zone; without
// one the time is UTC, as Beaker writes a naive datetime with "GMT"), or
// the zero time and false if it is not set. Anything else is an
// [ErrBadValue] *Error.
func (s *Settings) Date(key string) (time.Time, bool, error) {
	e, ok := s.get(key)
	if !ok {
		return time.Time{}, false, nil
	}
	t, ok := parseDate(e.value)
	if !ok {
		return time.Time{}, false, s.badValue(e, "not a date ("+DateForms+")")
	}
	return t, true, nil
}

// List returns key as a comma-separated list, items trimmed and empty
// items dropped (Beaker's reading of cache.regions); nil if it is not set.
func (s *Settings) List(key string) []string {
	e, ok := s.get(key)
	if !ok {
		return nil
	}
	var out []string
	for _, item := range strings.Split(e.value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Fields returns key split at runs of white space (including newlines of
// a multi-line value), as session.secret rotation lists and
// pyramid.csrf_trusted_origins are read; nil if it is not set.
func (s *Settings) Fields(key string) []string {
	e, ok := s.get(key)
	if !ok {
		return nil
	}
	f := strings.Fields(e.value)
	if len(f) == 0 {
		return nil
	}
	return f
}

// Regions returns the cache regions declared by cache.regions (see
// [Settings.List]).
func (s *Settings) Regions() []string { return s.List("cache.regions") }

// regionIndex sorts the cache keys once: the declared regions, the global
// cache.<key> entries, and each region's cache.<region>.<key> overrides.
// Building it is linear in the number of keys (times the length of the
// longest region name), so a view per region costs only that region's
// keys and the global ones.
type regionIndex struct {
	declared  map[string]bool
	maxLen    int                         // longest declared region name
	globals   map[string]entry            // cache.<key>, by canonical name, without cache.regions
	overrides map[string]map[string]entry // region -> "cache.<key>" -> entry
}

// regionIndex returns the index of s, building it on first use.
func (s *Settings) regionIndex() *regionIndex {
	s.regionsOnce.Do(func() {
		x := &regionIndex{declared: map[string]bool{}, globals: map[string]entry{}, overrides: map[string]map[string]entry{}}
		for _, r := range s.Regions() {
			x.declared[r] = true
			x.maxLen = max(x.maxLen, len(r))
		}
		for c, e := range s.entries {
			rest, ok := strings.CutPrefix(c, "cache.")
			if !ok || rest == "regions" {
				continue
			}
			if r, k, ok := x.regionOf(rest); ok {
				m := x.overrides[r]
				if m == nil {
					m = map[string]entry{}
					x.overrides[r] = m
				}
				m["cache."+k] = e
				continue
			}
			x.globals[c] = e
		}
		s.regions = x
	})
	return s.regions
}

// regionOf returns the declared region whose override key rest
// (a cache key without "cache.") is, and the per-region key; it prefers
// the longest region name, since region names may contain dots. Only
// prefixes as long as a declared name are tried, so a long key costs no
// more than the longest region name.
func (x *regionIndex) regionOf(rest string) (region, key string, ok bool) {
	for i := min(len(rest)-2, x.maxLen); i > 0; i-- {
		if rest[i] == '.' && x.declared[rest[:i]] {
			return rest[:i], rest[i+1:], true
		}
	}
	return "", "", false
}

// Region returns the view of the cache settings seen by one region:
// Settings holding every global cache.<key> (except cache.regions), with
// cache.<region>.<key> overrides replacing them under the name
// cache.<key>, as Beaker builds a region's options. Values keep their
// positions and spellings, so errors from the view's getters point at the
// line that set the value. Session keys are not in the view. A region not
// declared in cache.regions gets the global keys only.
//
// For example, with cache.expire = 60 and cache.second.expire = 1,
// s.Region("second").Seconds("cache.expire", 0) returns 1s.
//
// The keys are sorted by region once, on the first call; each call then
// costs the global keys and the region's own.
func (s *Settings) Region(name string) *Settings {
	x := s.regionIndex()
	own := x.overrides[name]
	v := &Settings{file: s.file, entries: make(map[string]entry, len(x.globals)+len(own))}
	maps.Copy(v.entries, x.globals)
	maps.Copy(v.entries, own)
	return v
}

// CacheValue returns the value of cache.<region>.<key> if set, else of
// the global cache.<key>, and whether either is set. key is a bare cache
// key such as "expire".
func (s *Settings) CacheValue(region, key string) (string, bool) {
	if v, ok := s.Lookup("cache." + region + "." + key); ok {
		return v, true
	}
	return s.Lookup("cache." + key)
}

// isSecretKey reports whether the value of key must not be shown:
// secret, encrypt_key, validate_key, url, urls, and anything whose last
// part mentions "password".
func isSecretKey(key string) bool {
	last := key[strings.LastIndexByte(key, '.')+1:]
	switch last {
	case "secret", "encrypt_key", "validate_key", "url", "urls":
		return true
	}
	return strings.Contains(strings.ToLower(last), "password")
}

// Mask returns value made safe for printing as the value of key.
//
// The values of secret, encrypt_key and validate_key (and keys ending in
// password) are replaced by their first 4 characters (only if the value
// has 16 or more) followed by "…" and their length, e.g.
// "0cb2…(40 chars)". For url and urls, passwords in the user-info and
// query values of URLs are replaced by "xxxxx"; a value that does not
// parse as URLs but contains "@" is masked entirely. Other values are
// returned unchanged.
func Mask(key, value string) string {
	if !isSecretKey(key) || value == "" {
		return value
	}
	last := key[strings.LastIndexByte(key, '.')+1:]
	if last == "url" || last == "urls" {
		if m, ok := maskURLs(value); ok {
			return m
		}
	}
	n := utf8.RuneCountInString(value)
	prefix := ""
	if n >= 16 {
		prefix = string([]rune(value)[:4])
	}
	return fmt.Sprintf("%s…(%d chars)", prefix, n)
}

// maskURLs masks each URL of a list separated by ";", "," or white space.
func maskURLs(value string) (string, bool) {
	var b strings.Builder
	start := 0
	flush := func(end int) bool {
		tok := value[start:end]
		if tok == "" {
			return true
		}
		m, ok := maskURL(tok)
		if !ok {
			return false
		}
		b.WriteString(m)
		return true
	}
	for i, r := range value {
		if r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' {
			if !flush(i) {
				return "", false
			}
			b.WriteRune(r)
			start = i + utf8.RuneLen(r)
		}
	}
	if !flush(len(value)) {
		return "", false
	}
	return b.String(), true
}

func maskURL(tok string) (string, bool) {
	u, err := url.Parse(tok)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		// host:port lists (memcached) have no credentials.
		return tok, !strings.Contains(tok, "@")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = "xxxxx"
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted(), true
}

// quoteShort quotes v for an error message, shortened to 40 runes.
func quoteShort(v string) string {
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:40]) + "…"
	}
	return strconv.Quote(v)
}
