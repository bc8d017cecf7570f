package redisstore_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/logtest"
	"github.com/gobeaker/beaker/store/redisstore"
)

// TestParseURLRedisPyOptions: the query options of redis-py (Python
// Beaker's ext:redis hands session.url to Redis.from_url) are taken as
// redis-py takes them, instead of failing with "unexpected option".
func TestParseURLRedisPyOptions(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // dial|read|write|pool|client|user|pass|insecure
	}{
		{"redis://h:1/0?socket_timeout=5", "5s|5s|5s|0|||||false"},
		{"redis://h/0?socket_timeout=0.5&read_timeout=2s", "500ms|2s|500ms|0|||||false"},
		{"redis://h/0?socket_connect_timeout=2&retry_on_timeout=true", "2s|0s|0s|0|||||false"},
		{"redis://h/0?socket_connect_timeout=2&socket_timeout=7", "2s|7s|7s|0|||||false"},
		{"redis://h/0?socket_timeout=3&dial_timeout=1s", "1s|3s|3s|0|||||false"},
		{"redis://h?health_check_interval=30", "0s|0s|0s|0|||||false"},
		{"redis://h?max_connections=50", "0s|0s|0s|50|||||false"},
		{"redis://h?max_connections=0", "0s|0s|0s|0|||||false"},
		{"redis://h?client_name=web1", "0s|0s|0s|0|web1||||false"},
		{"rediss://h?ssl_cert_reqs=none", "0s|0s|0s|0|||||true"},
		{"rediss://h?ssl_cert_reqs=CERT_NONE", "0s|0s|0s|0|||||true"},
		{"rediss://h?ssl_cert_reqs=required", "0s|0s|0s|0|||||false"},
		{"rediss://h?ssl_cert_reqs=optional", "0s|0s|0s|0|||||false"},
		{"rediss://h?skip_verify=true", "0s|0s|0s|0|||||true"}, // go-redis's spelling still works
		{"redis://h?encoding=utf-8&encoding_errors=strict&decode_responses=True&socket_keepalive=1&retry_on_error=x", "0s|0s|0s|0|||||false"},
		{"unix:///run/redis.sock?db=2&username=u&password=p%40ss", "0s|0s|0s|0||u|p@ss||false"},
		{"redis://u:a@h?password=b", "0s|0s|0s|0||u|a||false"}, // the user info wins, as in redis-py
		{"redis://h/0?pool_size=5&dial_timeout=1s#frag", "1s|0s|0s|5|||||false"},
	} {
		o, err := redisstore.ParseURL(c.in, false)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		insecure := o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify
		got := fmt.Sprintf("%v|%v|%v|%d|%s|%s|%s||%v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolSize,
			o.ClientName, o.Username, o.Password, insecure)
		if got != c.want {
			t.Errorf("ParseURL(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, in := range []string{
		"redis://h?socket_timeout=x", "redis://h?socket_timeout=0", "redis://h?socket_timeout=-1",
		"redis://h?socket_timeout=nan", "redis://h?socket_timeout=1e300", "redis://h?socket_timeout=5s",
		"redis://h?socket_connect_timeout=1&dial_timeout=1s", "redis://h?max_connections=5&pool_size=5",
		"redis://h?max_connections=-1", "redis://h?max_connections=many",
		"rediss://h?ssl_cert_reqs=bogus", "redis://h?ssl_cert_reqs=none", "rediss://h?ssl_cert_reqs=none&skip_verify=true",
		"redis://h?health_check_interval=often", "redis://h?bogus=1", "redis://h?socket_timeout=5&bogus=1",
		"redis://h?socket_timeout=5&a=%zz",
	} {
		if o, err := redisstore.ParseURL(in, false); !errors.Is(err, redisstore.ErrInvalidURL) {
			t.Errorf("ParseURL(%q) = %+v, %v; want an error wrapping ErrInvalidURL", in, o, err)
		} else if strings.Contains(in, "socket_timeout=x") && !strings.Contains(err.Error(), "socket_timeout") {
			t.Errorf("ParseURL(%q): %v does not name the option", in, err)
		}
	}
}

// TestParseURLQueryOfListAndSentinel: the node list and Sentinel forms take
// the query options that a single server's URL takes, in either spelling.
func TestParseURLQueryOfListAndSentinel(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // addrs|db|master|dial|read|write|pool|client|user|pass|insecure
	}{
		{"h1:1,h2:2?socket_timeout=5&max_connections=50", "h1:1,h2:2|0||5s|5s|5s|50|||||false"},
		{"redis://h1:1,h2:2/0?pool_size=7&read_timeout=1s", "h1:1,h2:2|0||0s|1s|0s|7|||||false"},
		{"redis://h1:1?socket_connect_timeout=2,redis://h2:2?socket_connect_timeout=2", "h1:1,h2:2|0||2s|0s|0s|0|||||false"},
		{"redis://h1:1,redis://h2:2?client_name=web&db=0", "h1:1,h2:2|0||0s|0s|0s|0|web||||false"},
		{"rediss://h1:1,h2:2?ssl_cert_reqs=none", "h1:1,h2:2|0||0s|0s|0s|0|||||true"},
		{"redis://h1,h2?password=p%40ss", "h1:6379,h2:6379|0||0s|0s|0s|0|||p@ss||false"},
		{"redis://u:p?w@h1,h2?pool_size=3", ""}, // a password holding '?' is not a query
		{"redis+sentinel://s1,s2/mymaster/3?socket_timeout=0.25&max_connections=20", "s1:26379,s2:26379|3|mymaster|250ms|250ms|250ms|20|||||false"},
		{"redis+sentinel://s1/m/3?db=4", "s1:26379|4|m|0s|0s|0s|0|||||false"},
		{"rediss+sentinel://u:p%3Fw@s1/m?ssl_cert_reqs=none&dial_timeout=1s", "s1:26379|0|m|1s|0s|0s|0||u|p?w||true"},
	} {
		o, err := redisstore.ParseURL(c.in, false)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseURL(%q) = %+v, want an error", c.in, o)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		insecure := o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify
		got := fmt.Sprintf("%s|%d|%s|%v|%v|%v|%d|%s|%s|%s||%v", strings.Join(o.Addrs, ","), o.DB, o.MasterName,
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolSize, o.ClientName, o.Username, o.Password, insecure)
		if got != c.want {
			t.Errorf("ParseURL(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestParseURLCheckHostnameOff: redis-py's ssl_check_hostname=false keeps
// the verification of the server's certificate chain and drops only that
// of the host name.
func TestParseURLCheckHostnameOff(t *testing.T) {
	o, err := redisstore.ParseURL("rediss://redis.internal:6380/0?ssl_check_hostname=false", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.TLSConfig
	if cfg == nil || !cfg.InsecureSkipVerify || cfg.VerifyConnection == nil {
		t.Fatalf("TLSConfig = %+v, want InsecureSkipVerify with a VerifyConnection", cfg)
	}
	ca, caKey := issue(t, "test CA", nil, nil)
	leaf, leafKey := issue(t, "some.other.name", ca, caKey, x509.ExtKeyUsageServerAuth) // for 127.0.0.1, not redis.internal
	stranger, _ := issue(t, "redis.internal", nil, nil)                                 // self-signed, by no known CA
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AddCert(ca)
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf, ca}}); err != nil {
		t.Errorf("a certificate of the trusted CA for another host name: %v, want it accepted", err)
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{stranger}}); err == nil {
		t.Error("a certificate of an unknown CA was accepted")
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{}); err == nil {
		t.Error("no certificate was accepted")
	}
	// A handshake with a server whose certificate names another host:
	// accepted with ssl_check_hostname=false, refused with the default.
	srv := tlsServer(t, tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Raw}, PrivateKey: leafKey})
	if err := handshake(srv, cfg); err != nil {
		t.Errorf("handshake with ssl_check_hostname=false: %v", err)
	}
	strict, _ := redisstore.ParseURL("rediss://redis.internal:6380/0", false)
	strict.TLSConfig.RootCAs = cfg.RootCAs
	if err := handshake(srv, strict.TLSConfig); err == nil {
		t.Error("handshake with the default TLS config accepted a certificate for another host name")
	}
	for in, verifyAll := range map[string]bool{
		"rediss://h?ssl_check_hostname=true":                           true,
		"rediss://h?ssl_check_hostname=false&ssl_cert_reqs=none":       false,
		"rediss://h?ssl_check_hostname=false&skip_verify=true":         false,
		"rediss+sentinel://s1/m?ssl_check_hostname=True":               true,
		"rediss://h1,h2?ssl_check_hostname=no&ssl_cert_reqs=CERT_NONE": false,
	} {
		o, err := redisstore.ParseURL(in, false)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", in, err)
			continue
		}
		if got := !o.TLSConfig.InsecureSkipVerify; got != verifyAll || o.TLSConfig.VerifyConnection != nil {
			t.Errorf("ParseURL(%q): InsecureSkipVerify %v with VerifyConnection %v", in, o.TLSConfig.InsecureSkipVerify, o.TLSConfig.VerifyConnection != nil)
		}
	}
	if o, err := redisstore.ParseURL("rediss+sentinel://s1/m?ssl_check_hostname=0", false); err != nil || o.TLSConfig.VerifyConnection == nil {
		t.Errorf("Sentinel with ssl_check_hostname=0: %v", err)
	}
	if _, err := redisstore.ParseURL("redis://h?ssl_check_hostname=false", false); !errors.Is(err, redisstore.ErrInvalidURL) {
		t.Errorf("ssl_check_hostname on a redis:// URL: %v, want ErrInvalidURL", err)
	}
	rec := &logtest.Recorder{}
	s, err := redisstore.Open("rediss://127.0.0.1:1/0?ssl_check_hostname=false", redisstore.Options{Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if logs := rec.All(); strings.Count(logs, "option=ssl_check_hostname") != 1 {
		t.Errorf("Open did not warn once about ssl_check_hostname=false:\n%s", logs)
	}
}

// tlsServer listens on a free port and completes the TLS handshake of every
// connection with cert.
func tlsServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			})
		}
	})
	return l.Addr().String()
}

func handshake(addr string, cfg *tls.Config) error {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	return c.Close()
}

// TestOpenLogsRedisPyOptions: Open warns, through Options.Logger, about the
// redis-py options that the store accepts but ignores or that weaken it,
// once each, naming the option and never the password; and says nothing
// about those it applies as redis-py does.
func TestOpenLogsRedisPyOptions(t *testing.T) {
	rec := &logtest.Recorder{}
	s, err := redisstore.Open("rediss://u:Qx7secret@127.0.0.1:1/0?socket_timeout=5&socket_connect_timeout=2"+
		"&retry_on_timeout=false&health_check_interval=30&ssl_cert_reqs=none&max_connections=50"+
		"&decode_responses=true&socket_keepalive=true", redisstore.Options{Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logs := rec.All()
	for _, opt := range []string{"retry_on_timeout", "health_check_interval", "ssl_cert_reqs", "decode_responses"} {
		if n := strings.Count(logs, "option="+opt); n != 1 {
			t.Errorf("%d warnings name %s, want 1; the logs:\n%s", n, opt, logs)
		}
	}
	for _, quiet := range []string{"socket_timeout", "socket_connect_timeout", "max_connections", "socket_keepalive"} {
		if strings.Contains(logs, quiet) {
			t.Errorf("a warning names %s, which the store applies; the logs:\n%s", quiet, logs)
		}
	}
	if strings.Contains(logs, "Qx7") {
		t.Errorf("the logs show the password:\n%s", logs)
	}
	if !strings.Contains(logs, "WARN") {
		t.Errorf("the notes are not warnings:\n%s", logs)
	}

	rec = &logtest.Recorder{}
	s2, err := redisstore.Open("redis://127.0.0.1:1/0?retry_on_timeout=true&health_check_interval=0", redisstore.Options{Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if logs := rec.All(); logs != "" {
		t.Errorf("Open logged for options it applies as redis-py does:\n%s", logs)
	}
}

// TestRedisPyOptionsLive: a URL with the options of a Python Beaker
// configuration serves sessions on the test servers, in each form.
func TestRedisPyOptionsLive(t *testing.T) {
	for _, c := range []struct{ name, env string }{
		{"Single", "BEAKER_TEST_REDIS_URL"},
		{"Sentinel", "BEAKER_TEST_REDIS_SENTINEL"},
		{"Cluster", "BEAKER_TEST_REDIS_CLUSTER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := serverURL(t, c.env)
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			s, err := redisstore.Open(u+sep+"socket_timeout=5&socket_connect_timeout=2&retry_on_timeout=true&health_check_interval=30&max_connections=50",
				redisstore.Options{KeyPrefix: "redispy-test:", Logger: slog.New(&logtest.Recorder{})})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			k := fmt.Sprintf("k-%d", time.Now().UnixNano())
			if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if e, ok, err := s.Get(ctx, k); err != nil || !ok || string(e.Value) != "v" {
				t.Fatalf("Get = %q, %v, %v", e.Value, ok, err)
			}
		})
	}
}
