package csrf

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// trustedOrigin is one parsed entry of Options.TrustedOrigins.
type trustedOrigin struct {
	null   bool   // the entry "null": trusts the opaque origin "null"
	scheme string // lower case
	host   string // lower case, without the leading dot of a subdomain entry
	sub    bool   // ".example.com": example.com and any subdomain of it
	port   string // "" for the scheme's default port
}

// parseTrustedOrigin reads one entry of Options.TrustedOrigins, in
// Pyramid's form (a host, host:port or .domain, meaning HTTPS) or as an
// origin with its scheme (scheme://host[:port], where host may also start
// with a dot).
func parseTrustedOrigin(entry string) (trustedOrigin, error) {
	bad := func(reason string) (trustedOrigin, error) {
		return trustedOrigin{}, fmt.Errorf("%w %q: %s", ErrTrustedOrigin, entry, reason)
	}
	if entry == "" {
		return bad("empty")
	}
	if entry == "null" {
		return trustedOrigin{null: true}, nil
	}
	if strings.ContainsFunc(entry, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return bad("white space, control or non-ASCII characters (write the host in its ASCII (punycode) form)")
	}
	scheme, hostport, qualified := strings.Cut(entry, "://")
	if !qualified {
		scheme, hostport = "https", entry
	} else if !validScheme(scheme) {
		return bad("the scheme is not valid")
	}
	if i := strings.IndexAny(hostport, "/?#"); i >= 0 {
		return bad("an origin is scheme://host[:port] or, as Pyramid writes it, host[:port] or .domain: no path, query or fragment")
	}
	if strings.Contains(hostport, "@") {
		return bad("user information is not allowed")
	}
	u, err := url.Parse("https://" + hostport)
	if err != nil || u.Host != hostport {
		return bad("the host is not valid")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.HasSuffix(hostport, ":") {
		return bad("the port is empty")
	}
	o := trustedOrigin{scheme: strings.ToLower(scheme)}
	if strings.HasPrefix(host, ".") {
		o.sub, host = true, host[1:]
	}
	if !validHost(host, strings.HasPrefix(hostport, "[")) {
		return bad("the host is not valid")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port is not a number from 1 to 65535")
		}
		port = strconv.Itoa(n)
	}
	o.host, o.port = host, defaultPort(o.scheme, port)
	return o, nil
}

// matches reports whether the Origin header value origin is trusted by o.
// The subdomain rule is Pyramid's is_same_domain: ".example.com" matches
// example.com and every name ending in ".example.com".
func (o trustedOrigin) matches(origin string) bool {
	if origin == "null" {
		return o.null
	}
	if o.null {
		return false
	}
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok || !strings.EqualFold(scheme, o.scheme) {
		return false
	}
	u, err := url.Parse("https://" + hostport)
	if err != nil || u.Host != hostport || u.User != nil {
		return false
	}
	if defaultPort(o.scheme, u.Port()) != o.port {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == o.host {
		return true
	}
	return o.sub && strings.HasSuffix(host, "."+o.host)
}

// defaultPort returns "" for the default port of scheme, port otherwise.
func defaultPort(scheme, port string) string {
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return ""
	}
	return port
}

// validScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, "+", "-" or ".").
func validScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validHost reports whether h is a DNS name (labels of letters, digits,
// "-" and "_") or, bracketed in the entry, an IPv6 address.
func validHost(h string, bracketed bool) bool {
	if bracketed {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6()
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLetter(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
