package settings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// kind is how Check validates a key's value.
type kind int

const (
	kindString        kind = iota // anything
	kindBool                      // Settings.Bool
	kindInt                       // Settings.Int, 0 or more
	kindPositiveInt               // Settings.Int, 1 or more
	kindRetries                   // Settings.Int, -1 (none) or more
	kindSeconds                   // Settings.Seconds
	kindCookieExpires             // session.cookie_expires: Bool, Seconds or Date
	kindBoolOrAuto                // session.secure
	kindUnimplemented             // accepted, warned about, not used
)

// keyDef is one catalogue entry: a key name after "session." or "cache."
// (or after "cache.<region>."); a name ending in "." is a prefix.
type keyDef struct {
	name string
	kind kind
}

// sessionKeys returns the session.* catalogue.
func sessionKeys() []keyDef {
	return []keyDef{
		{"type", kindString},
		{"url", kindString},
		{"urls", kindString},
		{"data_dir", kindString},
		{"lock_dir", kindString},
		{"key", kindString},
		{"secret", kindString},
		{"timeout", kindSeconds},
		{"cookie_expires", kindCookieExpires},
		{"cookie_domain", kindString},
		{"cookie_path", kindString},
		{"secure", kindBoolOrAuto},
		{"httponly", kindBool},
		{"samesite", kindString},
		{"save_accessed_time", kindBool},
		{"data_serializer", kindString},
		{"encrypt_key", kindString},
		{"validate_key", kindString},
		{"crypto_type", kindString},
		{"invalidate_corrupt", kindBool},
		{"table_name", kindString},
		{"lifetime", kindSeconds},
		{"store_timeout", kindSeconds},
		{"format", kindString},
		{"max_entries", kindInt},
		{"max_size", kindInt},
		{"max_bytes", kindInt},
		{"key_prefix", kindString},
		{"secret_fallbacks", kindString},
		{"encrypt_key_fallbacks", kindString},
		// Backend options, read by the store drivers (store.Config.Params).
		{"file.fsync", kindBool},
		{"sql.pool_size", kindPositiveInt},
		{"redis.key_prefix", kindString},
		{"redis.pool_size", kindPositiveInt},
		{"redis.max_retries", kindRetries},
		{"memcached.key_prefix", kindString},
		{"memcached.max_idle_conns", kindPositiveInt},
		{"memcached.max_item_size", kindPositiveInt},
		{"auto", kindBool},
		{"cookie_on_exception", kindUnimplemented},
		{"memcache_module", kindUnimplemented},
		{"encrypt_nonce_bits", kindUnimplemented},
		{"id", kindUnimplemented},
		{"webtest_varname", kindUnimplemented},
		{"schema_name", kindUnimplemented},
		{"constant_csrf_token", kindUnimplemented},
		{"sa.", kindUnimplemented},
		// pylibmc's options in Beaker's ext:memcached.
		{"protocol", kindUnimplemented},
		{"behavior.", kindUnimplemented},
		{"username", kindString}, // refused with ext:memcached by beaker.Resolve
		{"password", kindString},
	}
}

// cacheKeys returns the cache.* catalogue; every entry but "regions" is
// also valid as cache.<region>.<name>.
func cacheKeys() []keyDef {
	return []keyDef{
		{"regions", kindString},
		{"type", kindString},
		{"expire", kindSeconds},
		{"data_dir", kindString},
		{"lock_dir", kindString},
		{"url", kindString},
		{"urls", kindString},
		{"enabled", kindBool},
		{"key_length", kindPositiveInt},
		{"max_entries", kindInt},
		{"key_prefix", kindString},
		{"table_name", kindString},
		{"round_trip", kindBool},
		// Backend options, read by the store drivers (store.Config.Params).
		{"file.fsync", kindBool},
		{"sql.pool_size", kindPositiveInt},
		{"redis.key_prefix", kindString},
		{"redis.pool_size", kindPositiveInt},
		{"redis.max_retries", kindRetries},
		{"memcached.key_prefix", kindString},
		{"memcached.max_idle_conns", kindPositiveInt},
		{"memcached.max_item_size", kindPositiveInt},
		{"memcache_module", kindUnimplemented},
		{"schema_name", kindUnimplemented},
		{"log_file", kindUnimplemented},
		{"sa.", kindUnimplemented},
		// pylibmc's options in Beaker's ext:memcached.
		{"protocol", kindUnimplemented},
		{"behavior.", kindUnimplemented},
		{"username", kindString}, // refused with ext:memcached by beaker.Resolve
		{"password", kindString},
	}
}

// findKey looks name up in defs.
func findKey(defs []keyDef, name string) (keyDef, bool) {
	for _, d := range defs {
		if d.name == name || strings.HasSuffix(d.name, ".") && strings.HasPrefix(name, d.name) && len(name) > len(d.name) {
			return d, true
		}
	}
	return keyDef{}, false
}

// Check validates the keys against Beaker's catalogue (see the package
// documentation) and the values of the keys whose type is fixed
// (booleans, integers, seconds). It returns nil, a single *[Error], or
// several *Error joined with [errors.Join], in source order.
//
// Keys Beaker knows but this project does not implement, and keys the
// source sets that PasteDeploy would not pass to the application, are
// logged as warnings to log (nothing is logged if log is nil).
func (s *Settings) Check(log *slog.Logger) error {
	type item struct {
		canon string
		e     entry
	}
	items := make([]item, 0, len(s.entries))
	for c, e := range s.entries {
		items = append(items, item{c, e})
	}
	sort.Slice(items, func(i, j int) bool {
		// The source's own keys first, then inherited ones by file.
		if fi, fj := items[i].e.file, items[j].e.file; fi != fj {
			if fi == s.file || fj == s.file {
				return fi == s.file
			}
			return fi < fj
		}
		if items[i].e.line != items[j].e.line {
			return items[i].e.line < items[j].e.line
		}
		return items[i].canon < items[j].canon
	})

	warn := func(file, key string, line int, msg string) {
		if log == nil {
			return
		}
		attrs := []slog.Attr{slog.String("file", file)}
		if line > 0 {
			attrs = append(attrs, slog.Int("line", line))
		}
		attrs = append(attrs, slog.String("key", key))
		log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
	}
	for _, n := range s.notes {
		warn(n.file, n.key, n.line, n.msg)
	}

	c := &checker{s: s, regions: s.Regions(), index: s.regionIndex(), session: sessionKeys(), cache: cacheKeys()}
	var errs []error
	for _, it := range items {
		def, err := c.classify(it.canon, it.e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if def.kind == kindUnimplemented {
			warn(it.e.file, it.e.name, it.e.line, "Beaker setting not implemented; ignored")
			continue
		}
		if err := s.checkValue(def.kind, it.e); err != nil {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// checker holds the state of one Check.
type checker struct {
	s         *Settings
	regions   []string
	index     *regionIndex
	session   []keyDef // the catalogues, built once
	cache     []keyDef
	suggested int // suggestions computed so far (bounded: they cost)
}

// maxSuggestions and maxSuggestRegions bound the edit-distance work of
// one Check on hostile input.
const (
	maxSuggestions    = 20
	maxSuggestRegions = 100
)

// classify finds the catalogue entry of one kept key.
func (c *checker) classify(canon string, e entry) (keyDef, *Error) {
	regions := c.regions
	if canon == CSRFTrustedOriginsKey {
		return keyDef{canon, kindString}, nil
	}
	if rest, ok := strings.CutPrefix(canon, "session."); ok {
		if d, ok := findKey(c.session, rest); ok {
			return d, nil
		}
		return keyDef{}, c.unknown(canon, e)
	}
	rest, _ := strings.CutPrefix(canon, "cache.")
	if d, ok := findKey(c.cache, rest); ok {
		return d, nil
	}
	if _, k, ok := c.index.regionOf(rest); ok {
		if d, ok := findKey(c.cache, k); ok && d.name != "regions" {
			return d, nil
		}
		return keyDef{}, c.unknown(canon, e)
	}
	// cache.<region>.<key> for an undeclared region?
	for i := 0; i < len(rest); i++ {
		if rest[i] != '.' || i == 0 {
			continue
		}
		region, k := rest[:i], rest[i+1:]
		if d, ok := findKey(c.cache, k); ok && d.name != "regions" {
			msg := fmt.Sprintf("region %q is not listed in cache.regions", region)
			if len(regions) == 0 {
				msg = fmt.Sprintf("region %q: cache.regions is not set", region)
			} else if near := c.nearest(region, regions); near != "" {
				msg += fmt.Sprintf(" (%s); did you mean cache.%s.%s?", listRegions(regions), near, k)
			} else {
				msg += " (" + listRegions(regions) + ")"
			}
			return keyDef{}, &Error{File: e.file, Line: e.line, Key: e.name, Msg: msg, Err: ErrUnknownRegion}
		}
	}
	return keyDef{}, c.unknown(canon, e)
}

// unknown returns the ErrUnknownKey error for a key, suggesting the
// nearest known key.
func (c *checker) unknown(canon string, e entry) *Error {
	msg := "unknown Beaker setting"
	if c.suggested >= maxSuggestions {
		return &Error{File: e.file, Line: e.line, Key: e.name, Msg: msg, Err: ErrUnknownKey}
	}
	regions := c.regions
	if len(regions) > maxSuggestRegions {
		regions = regions[:maxSuggestRegions]
	}
	var candidates []string
	for _, d := range c.session {
		if !strings.HasSuffix(d.name, ".") {
			candidates = append(candidates, "session."+d.name)
		}
	}
	for _, d := range c.cache {
		if strings.HasSuffix(d.name, ".") {
			continue
		}
		candidates = append(candidates, "cache."+d.name)
		if d.name == "regions" {
			continue
		}
		for _, r := range regions {
			candidates = append(candidates, "cache."+r+"."+d.name)
		}
	}
	if near := c.nearest(canon, candidates); near != "" {
		msg += "; did you mean " + near + "?"
	}
	return &Error{File: e.file, Line: e.line, Key: e.name, Msg: msg, Err: ErrUnknownKey}
}

// checkValue validates a value of a known key.
func (s *Settings) checkValue(k kind, e entry) *Error {
	switch k {
	case kindBool:
		if _, ok := parseBool(e.value); !ok {
			return s.badValue(e, boolHelp)
		}
	case kindInt, kindPositiveInt, kindRetries:
		n, err := parseInt(e.value)
		switch {
		case err != nil:
			return s.badValue(e, "not a whole number")
		case n < -1 && k == kindRetries:
			return s.badValue(e, "want -1 (no retries) or a whole number, 0 or more")
		case n < 0 && k == kindInt:
			return s.badValue(e, "negative; want a whole number, 0 or more")
		case n < 1 && k == kindPositiveInt:
			return s.badValue(e, "not a whole number of 1 or more")
		}
	case kindSeconds:
		if _, err := s.seconds(e); err != nil {
			return err
		}
	case kindCookieExpires:
		if _, ok := parseBool(e.value); !ok {
			if _, err := s.seconds(e); err != nil {
				if _, ok := parseDate(e.value); !ok {
					return s.badValue(e, cookieExpiresHelp)
				}
			}
		}
	case kindBoolOrAuto:
		if _, ok := parseBool(e.value); !ok && !strings.EqualFold(strings.TrimSpace(e.value), "auto") {
			return s.badValue(e, "not a boolean or \"auto\"")
		}
	}
	return nil
}

// nearest returns the candidate closest to s by edit distance, if it is
// close enough (at most 3 edits, and fewer than half of s), else "".
func (c *checker) nearest(s string, candidates []string) string {
	c.suggested++
	if len(s) > 200 || c.suggested > maxSuggestions {
		return ""
	}
	if len(candidates) > 2000 {
		candidates = candidates[:2000]
	}
	best, bestD := "", 4
	for _, cand := range candidates {
		if abs(len(cand)-len(s)) >= bestD {
			continue
		}
		if d := editDistance(s, cand); d < bestD && 2*d < len(s) {
			best, bestD = cand, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// listRegions lists up to 10 region names for an error message.
func listRegions(regions []string) string {
	if len(regions) > 10 {
		return strings.Join(regions[:10], ", ") + ", …"
	}
	return strings.Join(regions, ", ")
}
