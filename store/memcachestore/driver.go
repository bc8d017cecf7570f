package memcachestore

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/gobeaker/beaker/store"
)

// ParseServers splits a session.url / cache.url value into server
// addresses. Beaker separates servers with ';' (ext/memcached.py hands
// url.split(';') to python-memcache); ',' and white space, a line break of
// a value continued onto the next INI line included, are accepted too.
// Each server is written as python-memcache's _Host reads it (memcache.py):
//
//	host:port, host          a host name or IPv4 address (port 11211)
//	[ipv6]:port, [ipv6]      an IPv6 address in brackets
//	inet:host[:port]         the same as host[:port]
//	inet6:[ipv6][:port]      the same as [ipv6][:port]
//	unix:/path/to/socket     a Unix socket (a relative path is relative to
//	/path/to/socket          the working directory)
//
// An optional memcached:// or memcache:// in front of each is ignored.
// memcached takes no user or password: a server with user info
// ("user:pass@host") is an error. Errors wrap ErrInvalidURL; they quote the
// bad server, never the whole list, and nothing when the list holds an '@'
// (a password may hold a separator).
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
		if !isSocket(f) && strings.Contains(f, "@") {
			return nil, fmt.Errorf("%w: server %d has a user or password (memcached takes none)", ErrInvalidURL, i+1)
		}
	}
	addrs := make([]string, 0, len(fields))
	for i, f := range fields {
		addr, ok := parseServer(f)
		if !ok {
			if strings.Contains(s, "@") { // in a socket's path, or a password's piece in one
				return nil, fmt.Errorf("%w: bad server %d (want host:port, [ipv6]:port or unix:/path)", ErrInvalidURL, i+1)
			}
			return nil, fmt.Errorf("%w: bad server %q (want host:port, [ipv6]:port or unix:/path)", ErrInvalidURL, f)
		}
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// isSocket reports whether f names a Unix socket.
func isSocket(f string) bool { return strings.HasPrefix(f, "/") || strings.HasPrefix(f, "unix:") }

// parseServer reads one server of the list as python-memcache's _Host does,
// and returns its address as gomemcache's ServerList takes it: host:port,
// [ipv6]:port, or a socket's path, which must hold a '/' (ServerList takes
// any address holding one for a socket).
func parseServer(f string) (string, bool) {
	switch {
	case strings.HasPrefix(f, "unix:"):
		path := f[len("unix:"):]
		if path == "" || strings.ContainsFunc(path, unicode.IsControl) {
			return "", false
		}
		if !strings.Contains(path, "/") {
			path = "./" + path
		}
		return path, true
	case strings.HasPrefix(f, "/"):
		if strings.ContainsFunc(f, unicode.IsControl) {
			return "", false
		}
		return f, true
	case strings.HasPrefix(f, "inet6:"):
		if f = f[len("inet6:"):]; !strings.HasPrefix(f, "[") {
			return "", false // python-memcache wants the brackets
		}
	case strings.HasPrefix(f, "inet:"):
		if f = f[len("inet:"):]; strings.HasPrefix(f, "[") {
			return "", false // inet: is IPv4 or a name
		}
	}
	var host, port string
	if rest, ok := strings.CutPrefix(f, "["); ok {
		// [ipv6] or [ipv6]:port: an IPv6 address (with a zone or not).
		h, after, ok := strings.Cut(rest, "]")
		if a, err := netip.ParseAddr(h); !ok || err != nil || !a.Is6() {
			return "", false
		}
		host = h
		switch {
		case after == "":
		case after[0] == ':':
			port = after[1:]
		default:
			return "", false
		}
	} else {
		// host or host:port: a name or an IPv4 address, without a colon.
		host, port, _ = strings.Cut(f, ":")
		if host == "" || strings.ContainsAny(host, "[]/@?#") || strings.ContainsFunc(host, unicode.IsControl) {
			return "", false
		}
	}
	if port == "" && !strings.HasSuffix(f, ":") {
		port = "11211"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return "", false
	}
	return net.JoinHostPort(host, port), true
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
