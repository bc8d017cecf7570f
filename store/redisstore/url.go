package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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
// Every form takes go-redis's query options (see redis.ParseURL, e.g.
// ?pool_size=50&dial_timeout=1s) and redis-py's, as Python Beaker's URLs
// write them (?socket_timeout=5&max_connections=50, see translateQuery): a
// node list after its last item, or after each item in Beaker 1.13's
// spelling (each giving the same values); a Sentinel URL after the path.
// The user and password apply to the data nodes; a port left out is 6379
// (26379 for a Sentinel). A rediss:// URL takes redis-py's TLS options
// too (ssl_ca_certs, ssl_certfile, …; see translateQuery), and ParseURL
// reads the files they name. Errors wrap ErrInvalidURL, and never show the
// password.
func ParseURL(raw string, cluster bool) (*redis.UniversalOptions, error) {
	uo, _, err := openURL(raw, cluster)
	return uo, err
}

// openURL is ParseURL, and also returns the notes on the redis-py query
// options it accepted but ignores, for Open to log.
func openURL(raw string, cluster bool) (*redis.UniversalOptions, []urlNote, error) {
	uo, py, err := parseURL(raw, cluster)
	if err != nil {
		return nil, nil, err
	}
	redacted := redactURL(strings.TrimSpace(raw))
	// A message shows a path only where it shows it anyway, in the
	// redacted URL: a password holding '?', '&' or '@' may make a piece
	// of it pass for a path.
	name := func(kind, path string) string {
		if strings.Contains(redacted, path) || strings.Contains(redacted, url.QueryEscape(path)) {
			return kind + " " + strconv.Quote(path)
		}
		return kind
	}
	if err := py.files.load(uo.TLSConfig, name); err != nil {
		return nil, nil, fmt.Errorf("%w %q: %w", ErrInvalidURL, redacted, err)
	}
	return uo, py.notes, nil
}

// parseURL is ParseURL without reading the files of the TLS options: it
// returns them in pyQuery.files, with the notes on the redis-py query
// options that Open logs. It does no I/O, for Driver's Validate.
func parseURL(raw string, cluster bool) (*redis.UniversalOptions, pyQuery, error) {
	s := strings.TrimSpace(raw)
	// bad's messages quote the URL only as redactURL gives it. A password
	// may hold ',', '/', '?', '#' or '@', and then a parser takes pieces of
	// it for a host, a port, a path or a query: so no message quotes a
	// piece of the URL, only a scheme or an item's number.
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: "+format, append([]any{ErrInvalidURL, redactURL(s)}, args...)...)
	}
	if s == "" {
		return nil, pyQuery{}, bad("empty")
	}
	scheme, rest, hasScheme := strings.Cut(s, "://")
	if !hasScheme {
		scheme, rest = "", s
	}
	switch scheme {
	case "", "redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel":
	default:
		return nil, pyQuery{}, bad("unknown scheme%s (want redis, rediss, unix, redis+sentinel or rediss+sentinel)", quoteScheme(scheme))
	}
	tlsOn := strings.HasPrefix(scheme, "rediss")

	if strings.HasSuffix(scheme, "+sentinel") {
		return parseSentinel(s, rest, tlsOn, bad)
	}
	if scheme == "unix" || (!hasNodeSeparator(rest) && scheme != "") {
		// One server in go-redis's own spelling, once redis-py's options
		// of the query are turned into go-redis's. The query is where
		// url.Parse takes it: after the first '?' before the first '#'.
		u, frag, _ := strings.Cut(s, "#")
		base, query, _ := strings.Cut(u, "?")
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, pyQuery{}, bad("the query has a bad %%-escape or ';'")
		}
		py, err := translateQuery(q, tlsOn)
		if err != nil {
			return nil, pyQuery{}, bad("%w", err)
		}
		gs := s
		if py.changed {
			gs = base + "?" + q.Encode()
			if strings.Contains(s, "#") {
				gs += "#" + frag
			}
		}
		o, err := redis.ParseURL(gs)
		if err != nil {
			// No user info and no password option: nothing to hide.
			if !strings.Contains(s, "@") && redactURL(s) == s {
				return nil, pyQuery{}, bad("%w", err)
			}
			return nil, pyQuery{}, bad("%s", errorWords(err))
		}
		uo := &redis.UniversalOptions{
			Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, IsClusterMode: cluster,
		}
		copyQueryOptions(uo, o)
		py.apply(uo)
		if cluster && o.DB != 0 {
			return nil, pyQuery{}, bad("a Redis Cluster has only database 0")
		}
		return uo, py, nil
	}

	// A list of seed nodes: a Cluster (or one bare host:port).
	uo := &redis.UniversalOptions{IsClusterMode: cluster}
	q := url.Values{}
	var query string
	for i, item := range strings.Split(rest, ",") {
		item = strings.TrimSpace(item)
		if i > 0 {
			// Beaker 1.13 repeats the scheme on every item.
			if sch, r, ok := strings.Cut(item, "://"); ok {
				if sch != "redis" && sch != "rediss" {
					return nil, pyQuery{}, bad("unknown scheme%s in item %d", quoteScheme(sch), i+1)
				}
				tlsOn = tlsOn || sch == "rediss"
				item = r
			}
		}
		if at := strings.LastIndex(item, "@"); at >= 0 {
			user, host := item[:at], item[at+1:]
			u, err := url.Parse("redis://" + user + "@x")
			if err != nil || u.User == nil {
				return nil, pyQuery{}, bad("bad user:password in item %d", i+1)
			}
			if uo.Username != "" || uo.Password != "" {
				if p, _ := u.User.Password(); u.User.Username() != uo.Username || p != uo.Password {
					return nil, pyQuery{}, bad("items give different credentials")
				}
			}
			uo.Username = u.User.Username()
			uo.Password, _ = u.User.Password()
			item = host
		}
		if strings.Contains(item, "#") {
			return nil, pyQuery{}, bad("item %d has a fragment ('#')", i+1)
		}
		// Query options, on the last item ("h1,h2?socket_timeout=5") or,
		// in Beaker 1.13's spelling, on each ("redis://h1?…,redis://h2?…").
		item, query, _ = strings.Cut(item, "?")
		if query != "" {
			iq, err := url.ParseQuery(query)
			if err != nil {
				return nil, pyQuery{}, bad("the query of item %d has a bad %%-escape or ';'", i+1)
			}
			for k, vs := range iq {
				if prev, ok := q[k]; ok && !slices.Equal(prev, vs) {
					return nil, pyQuery{}, bad("items give different values to one query option")
				}
				q[k] = vs
			}
		}
		item = strings.TrimSuffix(item, "/")
		if h, db, ok := strings.Cut(item, "/"); ok {
			if db != "0" {
				return nil, pyQuery{}, bad("a Redis Cluster has only database 0 (item %d names another)", i+1)
			}
			item = h
		}
		addr, err := hostPort(item, "6379")
		if err != nil {
			return nil, pyQuery{}, bad("item %d: %v", i+1, err)
		}
		uo.Addrs = append(uo.Addrs, addr)
	}
	if tlsOn {
		h, _, _ := net.SplitHostPort(uo.Addrs[0])
		uo.TLSConfig = &tls.Config{ServerName: h, MinVersion: tls.VersionTLS12}
	}
	if q.Has("db") && q.Get("db") != "0" {
		return nil, pyQuery{}, bad("a Redis Cluster has only database 0 (the query names another)")
	}
	py, err := applyQuery(uo, q, tlsOn, s)
	if err != nil {
		return nil, pyQuery{}, bad("%w", err)
	}
	return uo, py, nil
}

// applyQuery sets on uo the query options q of a node list or a Sentinel
// URL s, in redis-py's spelling or go-redis's, as a single server's URL
// takes them, all but db, which the caller places.
func applyQuery(uo *redis.UniversalOptions, q url.Values, tlsOn bool, s string) (pyQuery, error) {
	if len(q) == 0 {
		return pyQuery{}, nil
	}
	py, err := translateQuery(q, tlsOn)
	if err != nil {
		return py, err
	}
	// go-redis reads its options from the query of a URL of one server.
	scheme := "redis"
	if tlsOn {
		scheme = "rediss"
	}
	o, err := redis.ParseURL(scheme + "://localhost/?" + q.Encode())
	if err != nil {
		if !strings.Contains(s, "@") && redactURL(s) == s {
			return py, err
		}
		return py, errors.New(errorWords(err)) // a password's piece may look like an option
	}
	copyQueryOptions(uo, o)
	if uo.TLSConfig != nil && o.TLSConfig != nil {
		uo.TLSConfig.InsecureSkipVerify = o.TLSConfig.InsecureSkipVerify
	}
	py.apply(uo)
	return py, nil
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

func parseSentinel(s, rest string, tlsOn bool, bad func(string, ...any) error) (*redis.UniversalOptions, pyQuery, error) {
	// The query starts at the first '?' after the user info, which may
	// hold one.
	var query string
	if at := strings.LastIndex(rest, "@") + 1; strings.Contains(rest[at:], "?") {
		qs := at + strings.IndexByte(rest[at:], '?')
		rest, query = rest[:qs], rest[qs+1:]
	}
	if strings.Contains(rest, "#") || strings.Contains(query, "#") {
		return nil, pyQuery{}, bad("a fragment ('#')")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, pyQuery{}, bad("the query has a bad %%-escape or ';'")
	}
	authority, path, _ := strings.Cut(rest, "/")
	uo := &redis.UniversalOptions{}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		u, err := url.Parse("redis://" + authority[:at+1] + "x")
		if err != nil || u.User == nil {
			return nil, pyQuery{}, bad("bad user:password")
		}
		uo.Username = u.User.Username()
		uo.Password, _ = u.User.Password()
		authority = authority[at+1:]
	}
	for i, h := range strings.Split(authority, ",") {
		addr, err := hostPort(strings.TrimSpace(h), "26379")
		if err != nil {
			return nil, pyQuery{}, bad("sentinel %d: %v", i+1, err)
		}
		uo.Addrs = append(uo.Addrs, addr)
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case parts[0] == "":
		return nil, pyQuery{}, bad("no master name (want redis+sentinel://host:port/mastername[/db])")
	case len(parts) > 2:
		return nil, pyQuery{}, bad("too many path segments: want /mastername[/db]")
	}
	if uo.MasterName, err = url.PathUnescape(parts[0]); err != nil {
		return nil, pyQuery{}, bad("the master name has a bad %%-escape")
	}
	if len(parts) == 2 {
		if uo.DB, err = strconv.Atoi(parts[1]); err != nil || uo.DB < 0 {
			return nil, pyQuery{}, bad("the database is not a number")
		}
	}
	if q.Has("db") { // it wins over the path's, as in go-redis and redis-py
		if uo.DB, err = strconv.Atoi(q.Get("db")); err != nil || uo.DB < 0 {
			return nil, pyQuery{}, bad("the database is not a number")
		}
	}
	if tlsOn {
		h, _, _ := net.SplitHostPort(uo.Addrs[0])
		uo.TLSConfig = &tls.Config{ServerName: h, MinVersion: tls.VersionTLS12}
	}
	py, err := applyQuery(uo, q, tlsOn, s)
	if err != nil {
		return nil, pyQuery{}, bad("%w", err)
	}
	return uo, py, nil
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
	// The query's password first: an '@' in it would otherwise pass for
	// the end of the user info, and what follows it would be shown.
	s = redactQuery(s)
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
	return rest
}

// hasNodeSeparator reports whether rest (a URL after its scheme) is a list
// of nodes: it holds a comma before any '?', or one that starts another
// redis:// or rediss:// item (Beaker 1.13 writes a query after each, and a
// space after the comma may follow). A comma in a single server's query (a
// password, a client name) is not one; nor is one after an unescaped '?'
// in a password, which is no valid URL anyway.
func hasNodeSeparator(rest string) bool {
	for i := 0; i < len(rest); i++ {
		if rest[i] != ',' {
			continue
		}
		next := strings.TrimLeft(rest[i+1:], " \t\r\n")
		if !strings.Contains(rest[:i], "?") || strings.HasPrefix(next, "redis://") || strings.HasPrefix(next, "rediss://") {
			return true
		}
	}
	return false
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

// A urlNote is a redis-py query option that parseURL accepted but that the
// store ignores, or applies otherwise than redis-py: Open logs it.
type urlNote struct {
	Option string // the option's name, e.g. "retry_on_timeout"
	Msg    string // what becomes of it
}

// pyQuery is what translateQuery found in a query besides go-redis's
// options.
type pyQuery struct {
	changed bool // the query held redis-py options: q was rewritten
	notes   []urlNote

	// checkHostnameOff is ssl_check_hostname=false: verify the server's
	// certificate chain, not its host name.
	checkHostnameOff bool

	// minVersion is ssl_min_version's TLS version, 0 when not given.
	minVersion uint16

	// files are the TLS options that name files or hold PEM text, which
	// openURL reads once the URL has parsed.
	files tlsFiles

	// username and password are redis-py's ?username= and ?password=
	// (its documented unix:///path?db=0&password=…); the URL's user info
	// wins over them, as in redis-py.
	username, password       string
	hasUsername, hasPassword bool
}

// apply sets on uo the credentials of the query, when the URL's user info
// gave none, ssl_min_version and ssl_check_hostname=false. The CA
// certificates that the VerifyConnection of ssl_check_hostname=false
// trusts are the config's RootCAs when the handshake runs, so those that
// files.load sets later count.
func (p *pyQuery) apply(uo *redis.UniversalOptions) {
	if uo.Username == "" && p.hasUsername {
		uo.Username = p.username
	}
	if uo.Password == "" && p.hasPassword {
		uo.Password = p.password
	}
	if uo.TLSConfig != nil && p.minVersion != 0 {
		uo.TLSConfig.MinVersion = p.minVersion
	}
	if cfg := uo.TLSConfig; p.checkHostnameOff && cfg != nil && !cfg.InsecureSkipVerify {
		// crypto/tls verifies the host name with the chain unless
		// InsecureSkipVerify, which then leaves all to VerifyConnection.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("redisstore: the server sent no TLS certificate")
			}
			opts := x509.VerifyOptions{Roots: cfg.RootCAs, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
}

// translateQuery rewrites in q, in place, the query options of redis-py
// into go-redis's, so that a URL written for Python Beaker (whose
// ext:redis hands it to redis-py's Redis.from_url) parses here. redis-py
// parses the options of its URL_QUERY_ARGUMENT_PARSERS table
// (redis/connection.py: socket_timeout and socket_connect_timeout as float
// seconds, max_connections and health_check_interval as int, the others
// through to_bool) and passes every other option through to its
// connection class as a keyword argument (ssl_cert_reqs, client_name,
// password, decode_responses, …).
//
//	socket_timeout          read_timeout and write_timeout where not given,
//	                        and dial_timeout unless socket_connect_timeout
//	                        or dial_timeout is (redis-py's connect timeout
//	                        defaults to socket_timeout)
//	socket_connect_timeout  dial_timeout
//	max_connections         pool_size; 0 (redis-py: no limit) leaves the
//	                        default
//	ssl_cert_reqs           none: skip_verify (logged); optional and required:
//	                        verify (optional means required for a client)
//	ssl_check_hostname      false: verify the chain only (logged)
//	ssl_ca_certs            a PEM file of CA certificates: the server's
//	                        certificate is verified against them (and
//	                        ssl_ca_path's and ssl_ca_data's) in place of
//	                        the system's CAs (redis-py adds them to those)
//	ssl_ca_path             a directory of CA certificates: every regular
//	                        file in it (links followed) that holds PEM
//	                        certificates, so OpenSSL's hashed layout
//	                        (c_rehash) and plain .pem/.crt files both work
//	ssl_ca_data             PEM text of CA certificates (%-escaped)
//	ssl_certfile            the client's certificate (chain), PEM, sent
//	                        when the server asks; its key too, when
//	                        ssl_keyfile is not given
//	ssl_keyfile             the client's private key, PEM, not encrypted
//	ssl_password            refused: an encrypted key is not supported
//	ssl_min_version         TLSv1_2 or TLSv1_3 (Python's ssl.TLSVersion
//	                        names); TLSv1, TLSv1_1 keep TLS 1.2 (logged)
//	ssl_ciphers             accepted and ignored (logged): Go's crypto/tls
//	                        chooses its cipher suites
//	username, password      the credentials, when the URL has no user info
//	retry_on_timeout, socket_keepalive, health_check_interval,
//	retry_on_error, encoding, encoding_errors, decode_responses
//	                        accepted; logged where go-redis does otherwise
//
// go-redis's own options are left as they are, and an option neither
// knows stays for redis.ParseURL to refuse. Giving an option in both
// spellings (socket_connect_timeout and dial_timeout, max_connections and
// pool_size, ssl_cert_reqs and skip_verify) is an error, and so is an
// ssl_ option on a URL that is not rediss://. translateQuery reads no
// file: the ssl_ options that name files (or hold PEM text) are kept in
// pyQuery.files, for openURL to read. Values are read as redis-py reads
// them, the first of repeated ones. Errors name the option, never its
// value (a password holding '?' or '&' may look like a query).
func translateQuery(q url.Values, tlsOn bool) (pyQuery, error) {
	var p pyQuery
	has := func(k string) bool { _, ok := q[k]; return ok }
	take := func(k string) (string, bool) {
		vs, ok := q[k]
		if !ok {
			return "", false
		}
		delete(q, k)
		p.changed = true
		if len(vs) == 0 {
			return "", true
		}
		return vs[0], true
	}
	note := func(option, msg string) { p.notes = append(p.notes, urlNote{option, msg}) }
	both := func(py, gr string) error {
		return fmt.Errorf("%s (redis-py) and %s (go-redis) name the same setting: give one", py, gr)
	}

	p.username, p.hasUsername = take("username")
	p.password, p.hasPassword = take("password")

	if v, ok := take("socket_connect_timeout"); ok {
		if has("dial_timeout") {
			return p, both("socket_connect_timeout", "dial_timeout")
		}
		d, err := pySeconds("socket_connect_timeout", v)
		if err != nil {
			return p, err
		}
		q.Set("dial_timeout", d.String())
	}
	if v, ok := take("socket_timeout"); ok {
		d, err := pySeconds("socket_timeout", v)
		if err != nil {
			return p, err
		}
		for _, k := range []string{"read_timeout", "write_timeout", "dial_timeout"} {
			if !has(k) {
				q.Set(k, d.String())
			}
		}
	}
	if v, ok := take("max_connections"); ok {
		if has("pool_size") {
			return p, both("max_connections", "pool_size")
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil || n < 0:
			return p, errors.New("max_connections: want a whole number, 0 or more")
		case n == 0:
			note("max_connections", "max_connections=0 (no limit in redis-py) leaves go-redis's default pool size (10 per CPU; the redis.pool_size setting sets it)")
		default:
			q.Set("pool_size", strconv.Itoa(n))
		}
	}
	for _, k := range []string{"ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_certs", "ssl_ca_path", "ssl_ca_data",
		"ssl_certfile", "ssl_keyfile", "ssl_password", "ssl_min_version", "ssl_ciphers"} {
		if has(k) && !tlsOn {
			return p, fmt.Errorf("%s is an option of a TLS connection: use rediss://", k)
		}
	}
	if _, ok := take("ssl_password"); ok {
		return p, errors.New("ssl_password is not supported: the store reads no encrypted private key (Go's standard " +
			"library decrypts only legacy PEM encryption, deprecated as insecure); store the key unencrypted, readable only by the application, and leave ssl_password out")
	}
	for _, f := range []struct {
		opt  string
		dest *string
	}{
		{"ssl_ca_certs", &p.files.caCerts}, {"ssl_ca_path", &p.files.caPath}, {"ssl_ca_data", &p.files.caData},
		{"ssl_certfile", &p.files.certFile}, {"ssl_keyfile", &p.files.keyFile},
	} {
		if v, ok := take(f.opt); ok {
			if strings.TrimSpace(v) == "" {
				return p, fmt.Errorf("%s is empty: give a value or leave the option out", f.opt)
			}
			*f.dest = v
		}
	}
	if p.files.keyFile != "" && p.files.certFile == "" {
		return p, errors.New("ssl_keyfile needs ssl_certfile, the client certificate of the key")
	}
	// ssl_ca_data is text, not a file: it is checked here, so that
	// Driver's Validate (beaker check-config) refuses it as Open does.
	if p.files.caData != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(p.files.caData)) {
		return p, errors.New(msgCAData)
	}
	if v, ok := take("ssl_min_version"); ok {
		ver, kept, err := pyMinVersion(v)
		if err != nil {
			return p, err
		}
		p.minVersion = ver
		if kept {
			note("ssl_min_version", "ssl_min_version names a version below TLS 1.2: the store keeps TLS 1.2 as its minimum")
		}
	}
	if _, ok := take("ssl_ciphers"); ok {
		note("ssl_ciphers", "ssl_ciphers is ignored: Go's crypto/tls chooses the cipher suites (TLS 1.3's, which no client sets, and for TLS 1.2 its default forward-secret ECDHE suites)")
	}
	if v, ok := take("ssl_cert_reqs"); ok {
		if has("skip_verify") {
			return p, both("ssl_cert_reqs", "skip_verify")
		}
		switch strings.TrimPrefix(strings.ToLower(strings.TrimSpace(v)), "cert_") {
		case "none":
			q.Set("skip_verify", "true")
			note("ssl_cert_reqs", "ssl_cert_reqs=none: the server's TLS certificate is not verified (anyone on the path can read and change the traffic)")
		case "optional", "required": // CERT_OPTIONAL verifies as CERT_REQUIRED in a client
		default:
			return p, errors.New("ssl_cert_reqs: want none, optional or required")
		}
	}
	if v, ok := take("ssl_check_hostname"); ok {
		if sv := q.Get("skip_verify"); !pyBool(v) && sv != "true" && sv != "1" {
			p.checkHostnameOff = true
			note("ssl_check_hostname", "ssl_check_hostname=false: the server's TLS certificate chain is verified, not the host name it names")
		}
	}
	if v, ok := take("retry_on_timeout"); ok && !pyBool(v) {
		note("retry_on_timeout", "retry_on_timeout=false is ignored: go-redis retries a command that timed out like any network error, redis.max_retries times (1 by default; -1 for none)")
	}
	if v, ok := take("socket_keepalive"); ok && !pyBool(v) {
		note("socket_keepalive", "socket_keepalive=false is ignored: go-redis turns TCP keep-alive on")
	}
	if v, ok := take("health_check_interval"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return p, errors.New("health_check_interval: want a whole number of seconds")
		}
		if n > 0 {
			note("health_check_interval", "health_check_interval is ignored: go-redis sends no PING before a command on an idle connection (it drops a pooled connection that the server closed)")
		}
	}
	if _, ok := take("retry_on_error"); ok {
		note("retry_on_error", "retry_on_error is ignored: go-redis retries network errors and timeouts, redis.max_retries times")
	}
	for _, k := range []string{"encoding", "encoding_errors", "decode_responses"} {
		if _, ok := take(k); ok {
			note(k, k+" is ignored: the store reads and writes bytes")
		}
	}
	return p, nil
}

// pySeconds reads a redis-py timeout: a float number of seconds, here more
// than 0 (redis-py would make a non-blocking socket of 0).
func pySeconds(name, v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f >= float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("%s: want a number of seconds more than 0, such as 5 or 0.5", name)
	}
	return max(time.Duration(f*float64(time.Second)), time.Nanosecond), nil
}

// pyBool reads a boolean as redis-py's to_bool does: "", 0, f, false, n and
// no (in any case) are false, anything else true.
func pyBool(v string) bool {
	switch strings.ToUpper(v) {
	case "", "0", "F", "FALSE", "N", "NO":
		return false
	}
	return true
}
