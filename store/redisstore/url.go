package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL turns a session.url / cache.url value into go-redis options.
// cluster forces a Cluster client for a single address (Beaker's
// ext:rediscluster). It accepts:
//
//	redis://[user:pass@]host:port[/db][?go-redis options]   one server
//	rediss://…                                              the same over TLS
//	unix:///path/to/redis.sock[?db=N]                       one server, Unix socket
//	host:port                                               one server, database 0
//	redis://[user:pass@]h1:p1,h2:p2,h3:p3                   a Cluster (seed nodes)
//	h1:p1,h2:p2,h3:p3                                       a Cluster
//	redis://h1:p1,redis://h2:p2                             a Cluster, Beaker 1.13's ext:rediscluster spelling
//	redis+sentinel://[user:pass@]s1:26379,s2:26379/mymaster[/db]
//	                                                        a master found through Sentinel
//	rediss+sentinel://…                                     the same over TLS
//
// A single server's URL takes go-redis's query options (see redis.ParseURL,
// e.g. ?pool_size=50&dial_timeout=1s); the other forms take none. The
// user and password apply to the data nodes; a port left out is 6379
// (26379 for a Sentinel). Errors wrap ErrInvalidURL, and never show the
// password.
func ParseURL(raw string, cluster bool) (*redis.UniversalOptions, error) {
	s := strings.TrimSpace(raw)
	// bad's messages quote the URL only as redactURL gives it. A password
	// may hold ',', '/', '?', '#' or '@', and then a parser takes pieces of
	// it for a host, a port, a path or a query: so no message quotes a
	// piece of the URL, only a scheme or an item's number.
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: "+format, append([]any{ErrInvalidURL, redactURL(s)}, args...)...)
	}
	if s == "" {
		return nil, bad("empty")
	}
	scheme, rest, hasScheme := strings.Cut(s, "://")
	if !hasScheme {
		scheme, rest = "", s
	}
	switch scheme {
	case "", "redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel":
	default:
		return nil, bad("unknown scheme%s (want redis, rediss, unix, redis+sentinel or rediss+sentinel)", quoteScheme(scheme))
	}
	tlsOn := strings.HasPrefix(scheme, "rediss")

	if strings.HasSuffix(scheme, "+sentinel") {
		return parseSentinel(rest, tlsOn, bad)
	}
	if scheme == "unix" || (!strings.Contains(rest, ",") && scheme != "") {
		// One server in go-redis's own spelling.
		o, err := redis.ParseURL(s)
		if err != nil {
			// No user info and no password option: nothing to hide.
			if !strings.Contains(s, "@") && redactURL(s) == s {
				return nil, bad("%w", err)
			}
			return nil, bad("%s", errorWords(err))
		}
		uo := &redis.UniversalOptions{
			Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, IsClusterMode: cluster,
		}
		copyQueryOptions(uo, o)
		if cluster && o.DB != 0 {
			return nil, bad("a Redis Cluster has only database 0")
		}
		return uo, nil
	}

	// A list of seed nodes: a Cluster (or one bare host:port).
	uo := &redis.UniversalOptions{IsClusterMode: cluster}
	for i, item := range strings.Split(rest, ",") {
		item = strings.TrimSpace(item)
		if i > 0 {
			// Beaker 1.13 repeats the scheme on every item.
			if sch, r, ok := strings.Cut(item, "://"); ok {
				if sch != "redis" && sch != "rediss" {
					return nil, bad("unknown scheme%s in item %d", quoteScheme(sch), i+1)
				}
				tlsOn = tlsOn || sch == "rediss"
				item = r
			}
		}
		if at := strings.LastIndex(item, "@"); at >= 0 {
			user, host := item[:at], item[at+1:]
			u, err := url.Parse("redis://" + user + "@x")
			if err != nil || u.User == nil {
				return nil, bad("bad user:password in item %d", i+1)
			}
			if uo.Username != "" || uo.Password != "" {
				if p, _ := u.User.Password(); u.User.Username() != uo.Username || p != uo.Password {
					return nil, bad("items give different credentials")
				}
			}
			uo.Username = u.User.Username()
			uo.Password, _ = u.User.Password()
			item = host
		}
		if strings.ContainsAny(item, "?#") {
			return nil, bad("query options are only accepted in a single server's URL")
		}
		item = strings.TrimSuffix(item, "/")
		if h, db, ok := strings.Cut(item, "/"); ok {
			if db != "0" {
				return nil, bad("a Redis Cluster has only database 0 (item %d names another)", i+1)
			}
			item = h
		}
		addr, err := hostPort(item, "6379")
		if err != nil {
			return nil, bad("item %d: %v", i+1, err)
		}
		uo.Addrs = append(uo.Addrs, addr)
	}
	if tlsOn {
		h, _, _ := net.SplitHostPort(uo.Addrs[0])
		uo.TLSConfig = &tls.Config{ServerName: h, MinVersion: tls.VersionTLS12}
	}
	return uo, nil
}

// copyQueryOptions copies to uo the fields of o that redis.ParseURL sets
// from the query (setupConnParams in go-redis's options.go), all but db.
func copyQueryOptions(uo *redis.UniversalOptions, o *redis.Options) {
	uo.Protocol, uo.ClientName = o.Protocol, o.ClientName
	uo.MaxRetries, uo.MinRetryBackoff, uo.MaxRetryBackoff = o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff
	uo.DialTimeout, uo.ReadTimeout, uo.WriteTimeout = o.DialTimeout, o.ReadTimeout, o.WriteTimeout
	uo.PoolFIFO, uo.PoolSize, uo.PoolTimeout = o.PoolFIFO, o.PoolSize, o.PoolTimeout
	uo.MinIdleConns, uo.MaxIdleConns, uo.MaxActiveConns = o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns
	uo.MaxConcurrentDials = o.MaxConcurrentDials
	uo.PipelinePoolSize = o.PipelinePoolSize
	uo.PipelineReadBufferSize, uo.PipelineWriteBufferSize = o.PipelineReadBufferSize, o.PipelineWriteBufferSize
	uo.ConnMaxIdleTime, uo.ConnMaxLifetime, uo.ConnMaxLifetimeJitter = o.ConnMaxIdleTime, o.ConnMaxLifetime, o.ConnMaxLifetimeJitter
	uo.DialerRetries, uo.DialerRetryTimeout = o.DialerRetries, o.DialerRetryTimeout
}

func parseSentinel(rest string, tlsOn bool, bad func(string, ...any) error) (*redis.UniversalOptions, error) {
	if strings.ContainsAny(rest, "?#") {
		return nil, bad("query options are only accepted in a single server's URL")
	}
	authority, path, _ := strings.Cut(rest, "/")
	uo := &redis.UniversalOptions{}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		u, err := url.Parse("redis://" + authority[:at+1] + "x")
		if err != nil || u.User == nil {
			return nil, bad("bad user:password")
		}
		uo.Username = u.User.Username()
		uo.Password, _ = u.User.Password()
		authority = authority[at+1:]
	}
	for i, h := range strings.Split(authority, ",") {
		addr, err := hostPort(strings.TrimSpace(h), "26379")
		if err != nil {
			return nil, bad("sentinel %d: %v", i+1, err)
		}
		uo.Addrs = append(uo.Addrs, addr)
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case parts[0] == "":
		return nil, bad("no master name (want redis+sentinel://host:port/mastername[/db])")
	case len(parts) > 2:
		return nil, bad("too many path segments: want /mastername[/db]")
	}
	var err error
	if uo.MasterName, err = url.PathUnescape(parts[0]); err != nil {
		return nil, bad("the master name has a bad %%-escape")
	}
	if len(parts) == 2 {
		if uo.DB, err = strconv.Atoi(parts[1]); err != nil || uo.DB < 0 {
			return nil, bad("the database is not a number")
		}
	}
	if tlsOn {
		h, _, _ := net.SplitHostPort(uo.Addrs[0])
		uo.TLSConfig = &tls.Config{ServerName: h, MinVersion: tls.VersionTLS12}
	}
	return uo, nil
}

// hostPort checks host[:port] and adds the default port when it is left out.
// Its errors do not quote s, which may be a piece of a password.
func hostPort(s, defPort string) (string, error) {
	if s == "" {
		return "", errors.New("empty address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port (or a bare IPv6 address in brackets).
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), defPort
		if strings.ContainsAny(host, "[]/ ") {
			return "", errors.New("bad address")
		}
	}
	if host == "" {
		return "", errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", errors.New("bad port")
	}
	return net.JoinHostPort(host, port), nil
}

// quoteScheme returns " " and s quoted when s looks like a URL scheme, and
// "" when it does not: then it may hold a password (s is what comes before
// the first "://").
func quoteScheme(s string) string {
	for i, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return ""
		}
	}
	return " " + strconv.Quote(s)
}

// errorWords returns the fixed words of an error of redis.ParseURL (of
// url.Parse, mostly), without the pieces of the URL that it quotes: those
// may be pieces of the password. "parse \"redis://u:p/w@h\": invalid port
// \":p\" after host" gives "invalid port".
func errorWords(err error) string {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "redis: "), "net/url: ")
	if i := strings.IndexAny(msg, ":\""); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

// redactURL hides the password of a URL for error messages: everything from
// the first ':' after the scheme to the last '@', and the value of a query
// option whose name holds "password" (redis-py reads
// unix:///path?password=…).
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || quoteScheme(scheme) == "" {
		scheme, rest, ok = "", s, false
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		cred := rest[:at]
		if user, _, hasPass := strings.Cut(cred, ":"); hasPass {
			cred = user + ":xxxxx"
		}
		rest = cred + rest[at:]
	}
	if ok {
		rest = scheme + "://" + rest
	}
	return redactQuery(rest)
}

// redactQuery hides the value of the first query option of s whose name
// holds "password" (in any case, %-escaped or not), and the rest of the
// query after it: a password may hold '&' and '=', and then its pieces look
// like further options.
func redactQuery(s string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	pairs := strings.Split(s[q+1:], "&")
	for i, kv := range pairs {
		k, _, hasValue := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if hasValue && strings.Contains(strings.ToLower(k), "password") {
			pairs[i] = kv[:strings.IndexByte(kv, '=')] + "=xxxxx"
			if i < len(pairs)-1 {
				pairs[i] += "&…"
			}
			pairs = pairs[:i+1]
			break
		}
	}
	return s[:q+1] + strings.Join(pairs, "&")
}
