package memcachestore

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/gobeaker/beaker/store"
)

// ParseServers splits a session.url / cache.url value into server
// addresses. Beaker separates servers with ';'; ',' and white space (a line
// break of a value continued onto the next INI line included) are accepted
// too. Each server is host:port, a host alone (port 11211), [ipv6]:port, or
// the path of a Unix socket (starting with '/'). An optional memcached://
// or memcache:// in front of each is ignored. memcached takes no user or
// password: a server with user info ("user:pass@host") is an error. Errors
// wrap ErrInvalidURL; they quote the bad server, never the whole list, and
// nothing when the list holds an '@' (a password may hold a separator).
func ParseServers(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no server", ErrInvalidURL)
	}
	for i, f := range fields {
		for _, scheme := range []string{"memcached://", "memcache://"} {
			f = strings.TrimPrefix(f, scheme)
		}
		fields[i] = strings.TrimSuffix(f, "/")
	}
	// User info first: a password holding a separator is split over
	// several fields, which must not be quoted either.
	for i, f := range fields {
		if !strings.HasPrefix(f, "/") && strings.Contains(f, "@") {
			return nil, fmt.Errorf("%w: server %d has a user or password (memcached takes none)", ErrInvalidURL, i+1)
		}
	}
	var addrs []string
	for i, f := range fields {
		if strings.HasPrefix(f, "/") {
			addrs = append(addrs, f)
			continue
		}
		host, port, err := net.SplitHostPort(f)
		if err != nil {
			host, port = strings.TrimSuffix(strings.TrimPrefix(f, "["), "]"), "11211"
		}
		n, perr := strconv.Atoi(port)
		if host == "" || strings.ContainsAny(host, "[]/@?#:") && !strings.Contains(f, "[") || perr != nil || n <= 0 || n > 65535 {
			if strings.Contains(s, "@") { // in a socket's path, or a password's piece in one
				return nil, fmt.Errorf("%w: bad server %d (want host:port)", ErrInvalidURL, i+1)
			}
			return nil, fmt.Errorf("%w: bad server %q (want host:port)", ErrInvalidURL, f)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	return addrs, nil
}

// Settings keys that Driver reads from store.Config.Params.
const (
	ParamKeyPrefix    = "memcached.key_prefix"
	ParamMaxIdleConns = "memcached.max_idle_conns"
	ParamMaxItemSize  = "memcached.max_item_size"
)

// Driver links memcached into beaker.Open. It serves the types
// "ext:memcached" and "memcached"; session.url / cache.url is the server
// list (see ParseServers). store.Config.Timeout sets Options.Timeout, and
// the Params keys memcached.key_prefix, memcached.max_idle_conns and
// memcached.max_item_size set the Options fields of the same meaning; any
// other memcached.* key is an error wrapping ErrInvalidOptions. Its errors
// about one setting are *store.ConfigError naming it.
func Driver() store.Driver {
	return store.Driver{
		Name:  "memcached",
		Types: []string{"ext:memcached", "memcached"},
		Validate: func(c store.Config) error {
			if _, err := OptionsFromConfig(c); err != nil {
				return err
			}
			if _, err := ParseServers(c.URL); err != nil {
				return &store.ConfigError{Key: "url", Err: err}
			}
			return nil
		},
		Open: func(_ context.Context, c store.Config) (store.Store, error) {
			opts, err := OptionsFromConfig(c)
			if err != nil {
				return nil, err
			}
			st, err := Open(c.URL, opts)
			if err != nil {
				return nil, &store.ConfigError{Key: "url", Err: err}
			}
			return st, nil
		},
	}
}

// OptionsFromConfig is the mapping that Driver uses from the settings of one
// session manager or cache region to Options. An error is a
// *store.ConfigError naming the Params key.
func OptionsFromConfig(c store.Config) (Options, error) {
	opts := Options{Timeout: c.Timeout, Logger: c.Logger}
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.Params[k]
		var err error
		switch k {
		case ParamKeyPrefix:
			opts.KeyPrefix = v
			if !legalKey(v) || len(v) > 100 {
				err = fmt.Errorf("at most 100 bytes, without spaces or control characters")
			}
		case ParamMaxIdleConns:
			opts.MaxIdleConns, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && opts.MaxIdleConns < 0 {
				err = fmt.Errorf("must not be negative")
			}
		case ParamMaxItemSize:
			opts.MaxItemSize, err = parseSize(v)
		default:
			if strings.HasPrefix(k, "memcached.") {
				err = fmt.Errorf("unknown key (known: %s, %s, %s)", ParamKeyPrefix, ParamMaxIdleConns, ParamMaxItemSize)
			}
		}
		if err != nil {
			use := c.Use
			if use == "" {
				use = "session"
			}
			return Options{}, &store.ConfigError{Key: k, Err: fmt.Errorf("%w: %s.%s = %q: %w", ErrInvalidOptions, use, k, v, err)}
		}
	}
	return opts, nil
}

// parseSize reads a byte count with an optional k or m suffix (powers of
// 1024, as memcached -I reads it), or -1.
func parseSize(v string) (int, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	if s == "-1" {
		return -1, nil
	}
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (1<<30)/mult {
		return 0, fmt.Errorf("want a size such as 1048576, 1024k or 1m, or -1")
	}
	return n * mult, nil
}
