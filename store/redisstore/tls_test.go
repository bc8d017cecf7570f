package redisstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gobeaker/beaker/internal/childproc"
	"github.com/gobeaker/beaker/internal/logtest"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/redisstore"
)

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files to a test's temporary folder,
// and a second CA that signed neither.
type pki struct {
	dir                   string
	ca, otherCA           string // CA certificates
	serverCert, serverKey string
	clientCert, clientKey string
	clientBoth            string // the client's certificate and key in one file
	caCert                *x509.Certificate
	caKey                 *ecdsa.PrivateKey
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.caCert, p.caKey = issue(t, "beaker test CA", nil, nil, 0)
	other, _ := issue(t, "beaker other CA", nil, nil, 0)
	// The server's certificate serves Sentinel as a client too, towards
	// the master (tls-replication).
	srv, srvKey := issue(t, "redis test server", p.caCert, p.caKey, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	cli, cliKey := issue(t, "beaker test client", p.caCert, p.caKey, x509.ExtKeyUsageClientAuth)
	p.ca = p.write(t, "ca.pem", certPEM(p.caCert))
	p.otherCA = p.write(t, "other-ca.pem", certPEM(other))
	p.serverCert = p.write(t, "server.crt", certPEM(srv))
	p.serverKey = p.write(t, "server.key", pkcs8PEM(t, srvKey))
	p.clientCert = p.write(t, "client.crt", certPEM(cli))
	ecKey, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecKey})
	p.clientKey = p.write(t, "client.key", keyPEM)
	p.clientBoth = p.write(t, "client-both.pem", append(certPEM(cli), keyPEM...))
	return p
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// query is the TLS query of a URL that trusts ca and presents the client
// certificate.
func (p *pki) query(ca string) string {
	return "ssl_ca_certs=" + url.QueryEscape(ca) + "&ssl_certfile=" + url.QueryEscape(p.clientCert) +
		"&ssl_keyfile=" + url.QueryEscape(p.clientKey)
}

// issue makes an ECDSA certificate named name, for 127.0.0.1, signed by
// parent; a self-signed CA when parent is nil.
func issue(t *testing.T, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, usage ...x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = usage
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pkcs8PEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestParseURLTLSOptions: redis-py's TLS options of a rediss:// URL
// (ssl_ca_certs, ssl_ca_path, ssl_ca_data, ssl_certfile, ssl_keyfile,
// ssl_min_version, ssl_ciphers) set the TLS config of every URL form, and
// combine with ssl_cert_reqs and ssl_check_hostname.
func TestParseURLTLSOptions(t *testing.T) {
	p := newPKI(t)
	want := x509.NewCertPool()
	want.AddCert(p.caCert)
	check := func(in string, cluster bool) *tls.Config {
		t.Helper()
		o, err := redisstore.ParseURL(in, cluster)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", in, err)
			return nil
		}
		cfg := o.TLSConfig
		if cfg == nil || cfg.RootCAs == nil || !cfg.RootCAs.Equal(want) {
			t.Errorf("ParseURL(%q): RootCAs are not the test CA alone", in)
		}
		if len(cfg.Certificates) != 1 || cfg.Certificates[0].Leaf == nil || cfg.Certificates[0].Leaf.Subject.CommonName != "beaker test client" {
			t.Errorf("ParseURL(%q): Certificates = %v, want the client certificate", in, cfg.Certificates)
		}
		return cfg
	}
	q := p.query(p.ca)
	for _, in := range []string{
		"rediss://h:6380/0?" + q,
		"rediss://u:pw@h:6380/0?" + q + "&socket_timeout=5",
		"rediss://h1:1,h2:2?" + q,
		"rediss://h1:1?" + q + ",rediss://h2:2?" + q,
		"rediss+sentinel://s1,s2/mymaster/0?" + q,
		"rediss://h:6380/0?ssl_ca_certs=" + url.QueryEscape(p.ca) + "&ssl_certfile=" + url.QueryEscape(p.clientBoth),
		"rediss://h:6380/0?ssl_ca_data=" + url.QueryEscape(string(certPEM(p.caCert))) + "&ssl_certfile=" + url.QueryEscape(p.clientBoth),
	} {
		if cfg := check(in, false); cfg != nil && (cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12) {
			t.Errorf("ParseURL(%q): InsecureSkipVerify %v, MinVersion %x", in, cfg.InsecureSkipVerify, cfg.MinVersion)
		}
	}
	check("rediss://h:7000?"+q, true)

	// ssl_ca_path: every regular file holding PEM certificates, links
	// followed (OpenSSL's hashed names), others passed over.
	caDir := filepath.Join(p.dir, "cas")
	if err := os.Mkdir(caDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p.ca, filepath.Join(caDir, "1a2b3c4d.0")); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"README": "not a certificate", "key.pem": string(pkcs8PEM(t, p.caKey))} {
		if err := os.WriteFile(filepath.Join(caDir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(caDir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	check("rediss://h?ssl_ca_path="+url.QueryEscape(caDir)+"&ssl_certfile="+url.QueryEscape(p.clientBoth), false)

	// With ssl_cert_reqs=none the CAs are kept but not used, and the
	// client certificate is still sent.
	if cfg := check("rediss://h?ssl_cert_reqs=none&"+q, false); cfg != nil && !cfg.InsecureSkipVerify {
		t.Error("ssl_cert_reqs=none with CA files: InsecureSkipVerify is off")
	}
	// With ssl_check_hostname=false the chain is verified against the
	// CAs of ssl_ca_certs, not the system's.
	cfg := check("rediss://redis.internal?ssl_check_hostname=false&"+q, false)
	if cfg != nil {
		leaf, _ := issue(t, "some.other.name", p.caCert, p.caKey, x509.ExtKeyUsageServerAuth)
		stranger, _ := issue(t, "redis.internal", nil, nil)
		if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}); err != nil {
			t.Errorf("ssl_check_hostname=false: a certificate of the ssl_ca_certs CA for another host: %v", err)
		}
		if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{stranger}}); err == nil {
			t.Error("ssl_check_hostname=false: a certificate of another CA was accepted")
		}
	}

	for in, v := range map[string]uint16{
		"rediss://h?ssl_min_version=TLSv1_3":            tls.VersionTLS13,
		"rediss://h?ssl_min_version=tlsv1_2":            tls.VersionTLS12,
		"rediss://h?ssl_min_version=TLSv1":              tls.VersionTLS12,
		"rediss://h?ssl_min_version=MAXIMUM_SUPPORTED":  tls.VersionTLS13,
		"rediss://h1,h2?ssl_min_version=TLSv1_3":        tls.VersionTLS13,
		"rediss+sentinel://s/m?ssl_min_version=TLSv1_3": tls.VersionTLS13,
		"rediss://h?ssl_ciphers=ECDHE%2BAESGCM":         tls.VersionTLS12,
	} {
		o, err := redisstore.ParseURL(in, false)
		if err != nil || o.TLSConfig.MinVersion != v {
			t.Errorf("ParseURL(%q): %v, want MinVersion %x", in, err, v)
		}
	}
}

// TestParseURLTLSOptionErrors: a TLS option on a URL that is not
// rediss://, a file that cannot be read or holds no certificate or key,
// and ssl_password are errors that name the option.
func TestParseURLTLSOptionErrors(t *testing.T) {
	p := newPKI(t)
	missing := filepath.Join(p.dir, "missing.pem")
	notPEM := p.write(t, "not.pem", []byte("hello\n"))
	keyOnly := p.write(t, "key-only.pem", pkcs8PEM(t, p.caKey))
	encrypted := p.write(t, "encrypted.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("opaque")}))
	legacy := p.write(t, "legacy.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("opaque")}))
	emptyDir := filepath.Join(p.dir, "empty")
	if err := os.Mkdir(emptyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := url.QueryEscape
	for _, c := range []struct {
		in     string
		option string // the option the error names
		also   string // and another piece of it
	}{
		{"redis://h?ssl_ca_certs=" + e(p.ca), "ssl_ca_certs", "rediss://"},
		{"unix:///run/redis.sock?ssl_certfile=" + e(p.clientBoth), "ssl_certfile", "rediss://"},
		{"redis://h1,h2?ssl_ca_path=" + e(p.dir), "ssl_ca_path", "rediss://"},
		{"redis+sentinel://s/m?ssl_min_version=TLSv1_3", "ssl_min_version", "rediss://"},
		{"redis://h?ssl_ciphers=HIGH", "ssl_ciphers", "rediss://"},
		{"redis://h?ssl_ca_data=x", "ssl_ca_data", "rediss://"},
		{"redis://h?ssl_keyfile=x", "ssl_keyfile", "rediss://"},
		{"redis://h?ssl_password=x", "ssl_password", "rediss://"},
		{"rediss://h?ssl_ca_certs=" + e(missing), "ssl_ca_certs", missing},
		{"rediss://h?ssl_ca_certs=" + e(notPEM), "ssl_ca_certs", "no PEM certificate"},
		{"rediss://h?ssl_ca_certs=" + e(p.dir), "ssl_ca_certs", "cannot read"},
		{"rediss://h?ssl_ca_certs=", "ssl_ca_certs", "empty"},
		{"rediss://h?ssl_ca_path=" + e(missing), "ssl_ca_path", missing},
		{"rediss://h?ssl_ca_path=" + e(emptyDir), "ssl_ca_path", "no file"},
		{"rediss://h?ssl_ca_data=" + e("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "ssl_ca_data", "no PEM certificate"},
		{"rediss://h?ssl_certfile=" + e(missing), "ssl_certfile", missing},
		{"rediss://h?ssl_certfile=" + e(keyOnly), "ssl_certfile", "no PEM certificate"},
		{"rediss://h?ssl_certfile=" + e(p.clientCert), "ssl_certfile", "no PEM private key"},
		{"rediss://h?ssl_certfile=" + e(p.clientCert) + "&ssl_keyfile=" + e(missing), "ssl_keyfile", missing},
		{"rediss://h?ssl_certfile=" + e(p.clientCert) + "&ssl_keyfile=" + e(p.clientCert), "ssl_keyfile", "no PEM private key"},
		{"rediss://h?ssl_certfile=" + e(p.clientCert) + "&ssl_keyfile=" + e(p.serverKey), "ssl_keyfile", "does not match"},
		{"rediss://h?ssl_certfile=" + e(p.clientCert) + "&ssl_keyfile=" + e(encrypted), "ssl_keyfile", "encrypted"},
		{"rediss://h?ssl_certfile=" + e(p.clientCert) + "&ssl_keyfile=" + e(legacy), "ssl_keyfile", "encrypted"},
		{"rediss://h?ssl_keyfile=" + e(p.clientKey), "ssl_keyfile", "ssl_certfile"},
		{"rediss://h?ssl_certfile=" + e(p.clientBoth) + "&ssl_password=hunter2", "ssl_password", "not supported"},
		{"rediss://h?ssl_min_version=TLSv9", "ssl_min_version", "TLSv1_3"},
		{"rediss://h1,h2?ssl_ca_certs=" + e(missing), "ssl_ca_certs", missing},
		{"rediss+sentinel://s/m?ssl_certfile=" + e(notPEM), "ssl_certfile", "no PEM certificate"},
	} {
		_, err := redisstore.ParseURL(c.in, false)
		if !errors.Is(err, redisstore.ErrInvalidURL) {
			t.Errorf("ParseURL(%q): %v, want an error wrapping ErrInvalidURL", c.in, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.option+":") && !strings.Contains(msg, c.option+" ") {
			t.Errorf("ParseURL(%q): %v does not name %s", c.in, err, c.option)
		}
		if !strings.Contains(msg, c.also) {
			t.Errorf("ParseURL(%q): %v does not say %q", c.in, err, c.also)
		}
		if c.also == missing && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ParseURL(%q): %v does not wrap fs.ErrNotExist", c.in, err)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("ParseURL(%q): %v shows ssl_password", c.in, err)
		}
	}
}

// TestValidateLeavesTLSFilesToOpen: Driver's Validate (beaker
// check-config) refuses the TLS options that Open refuses without reading
// a file, and leaves the files, which may exist only where the
// application runs, to Open.
func TestValidateLeavesTLSFilesToOpen(t *testing.T) {
	d := redisstore.Driver()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	good := store.Config{Use: "session", Type: "ext:redis", URL: "rediss://h:6380/0?ssl_ca_certs=" + url.QueryEscape(missing)}
	if err := d.Validate(good); err != nil {
		t.Errorf("Validate read the file of ssl_ca_certs: %v", err)
	}
	_, err := d.Open(context.Background(), good)
	var ce *store.ConfigError
	if !errors.As(err, &ce) || ce.Key != "url" || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "ssl_ca_certs") {
		t.Errorf("Open with a missing ssl_ca_certs file: %v, want a ConfigError of url naming ssl_ca_certs", err)
	}
	for _, u := range []string{
		"redis://h:6379/0?ssl_ca_certs=" + url.QueryEscape(missing),
		"rediss://h:6380/0?ssl_password=x",
		"rediss://h:6380/0?ssl_keyfile=" + url.QueryEscape(missing),
		"rediss://h:6380/0?ssl_min_version=TLSv9",
		"rediss://h:6380/0?ssl_ca_data=not-a-certificate", // text, not a file: Validate reads it
	} {
		c := store.Config{Use: "session", Type: "ext:redis", URL: u}
		verr := d.Validate(c)
		_, oerr := d.Open(context.Background(), c)
		if !errors.Is(verr, redisstore.ErrInvalidURL) || oerr == nil || verr.Error() != oerr.Error() {
			t.Errorf("%s: Validate %v, Open %v; want both to refuse alike", u, verr, oerr)
		}
	}
}

// TestOpenLogsTLSOptions: the TLS options that the store takes otherwise
// than redis-py are logged once each.
func TestOpenLogsTLSOptions(t *testing.T) {
	rec := &logtest.Recorder{}
	s, err := redisstore.Open("rediss://127.0.0.1:1/0?ssl_ciphers=HIGH%3A%21aNULL&ssl_min_version=TLSv1_1", redisstore.Options{Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	logs := rec.All()
	for _, opt := range []string{"ssl_ciphers", "ssl_min_version"} {
		if n := strings.Count(logs, "option="+opt); n != 1 {
			t.Errorf("%d warnings name %s, want 1; the logs:\n%s", n, opt, logs)
		}
	}
	rec = &logtest.Recorder{}
	s, err = redisstore.Open("rediss://127.0.0.1:1/0?ssl_min_version=TLSv1_2", redisstore.Options{Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if logs := rec.All(); logs != "" {
		t.Errorf("Open logged for ssl_min_version=TLSv1_2, which it applies:\n%s", logs)
	}
}

// TestTLSLive runs the store on a redis-server of its own that speaks TLS
// only and requires a client certificate (tls-auth-clients yes), with
// certificates the test makes: a single server, a one-node Cluster and a
// Sentinel in front of the server, each over TLS. It runs where the Redis
// tests run (BEAKER_TEST_REDIS_URL set).
func TestTLSLive(t *testing.T) {
	serverURL(t, "BEAKER_TEST_REDIS_URL")
	bin := redisServer(t)
	p := newPKI(t)
	port := startTLSRedis(t, bin, p)
	base := fmt.Sprintf("rediss://127.0.0.1:%d/0?", port)
	e := url.QueryEscape

	roundTrip := func(t *testing.T, u string, opts redisstore.Options) error {
		t.Helper()
		opts.Timeout, opts.KeyPrefix = 2*time.Second, "tls-test:"
		if opts.Logger == nil {
			opts.Logger = slog.New(&logtest.Recorder{})
		}
		s, err := redisstore.Open(u, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		ctx := context.Background()
		k := fmt.Sprintf("k-%d", time.Now().UnixNano())
		if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			return err
		}
		if e, ok, err := s.Get(ctx, k); err != nil || !ok || string(e.Value) != "v" {
			t.Fatalf("Get = %q, %v, %v", e.Value, ok, err)
		}
		return nil
	}

	t.Run("ClientCertificate", func(t *testing.T) {
		if err := roundTrip(t, base+p.query(p.ca), redisstore.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CertfileHoldingTheKey", func(t *testing.T) {
		u := base + "ssl_ca_certs=" + e(p.ca) + "&ssl_certfile=" + e(p.clientBoth) + "&ssl_min_version=TLSv1_3"
		if err := roundTrip(t, u, redisstore.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("NoClientCertificate", func(t *testing.T) {
		err := roundTrip(t, base+"ssl_ca_certs="+e(p.ca), redisstore.Options{})
		if err == nil {
			t.Fatal("the server took a client without a certificate")
		}
		t.Logf("refused as it should be: %v", err)
	})
	t.Run("UnknownCA", func(t *testing.T) {
		err := roundTrip(t, base+p.query(p.otherCA), redisstore.Options{})
		if err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("a server certificate of a CA that ssl_ca_certs does not hold: %v, want unknown authority", err)
		}
	})
	t.Run("CertReqsNone", func(t *testing.T) {
		rec := &logtest.Recorder{}
		u := base + "ssl_cert_reqs=none&ssl_certfile=" + e(p.clientCert) + "&ssl_keyfile=" + e(p.clientKey)
		if err := roundTrip(t, u, redisstore.Options{Logger: slog.New(rec)}); err != nil {
			t.Fatal(err)
		}
		if logs := rec.All(); strings.Count(logs, "option=ssl_cert_reqs") != 1 {
			t.Errorf("ssl_cert_reqs=none was not warned about once:\n%s", logs)
		}
	})
	t.Run("CheckHostnameOff", func(t *testing.T) {
		// The certificate names 127.0.0.1, not localhost.
		byName := fmt.Sprintf("rediss://localhost:%d/0?", port)
		if err := roundTrip(t, byName+p.query(p.ca), redisstore.Options{}); err == nil {
			t.Fatal("a certificate for 127.0.0.1 was taken for localhost")
		}
		if err := roundTrip(t, byName+"ssl_check_hostname=false&"+p.query(p.ca), redisstore.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(t, byName+"ssl_check_hostname=false&"+p.query(p.otherCA), redisstore.Options{}); err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("ssl_check_hostname=false with a certificate of a CA that ssl_ca_certs does not hold: %v, want unknown authority", err)
		}
	})
	t.Run("Sentinel", func(t *testing.T) {
		sp := startTLSSentinel(t, bin, p, port)
		u := fmt.Sprintf("rediss+sentinel://127.0.0.1:%d/mymaster/0?", sp) + p.query(p.ca)
		if err := roundTrip(t, u, redisstore.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Cluster", func(t *testing.T) {
		cp := startTLSRedis(t, bin, p, "--cluster-enabled", "yes", "--tls-cluster", "yes",
			"--cluster-port", strconv.Itoa(freePort(t)), "--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"))
		addSlots(t, p, cp)
		u := fmt.Sprintf("rediss://127.0.0.1:%d?", cp) + p.query(p.ca)
		if err := roundTrip(t, u, redisstore.Options{Cluster: true}); err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(t, fmt.Sprintf("rediss://127.0.0.1:%d?ssl_ca_certs=%s", cp, e(p.ca)), redisstore.Options{Cluster: true}); err == nil {
			t.Fatal("the Cluster node took a client without a certificate")
		}
	})
}

// startTLSRedis starts a redis-server that listens on 127.0.0.1 for TLS
// only, on a free port that it returns, and requires a client certificate
// of p's CA; it is stopped when the test ends.
func startTLSRedis(t *testing.T, bin string, p *pki, extra ...string) int {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	args := append([]string{"--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", p.serverCert, "--tls-key-file", p.serverKey, "--tls-ca-cert-file", p.ca,
		"--tls-auth-clients", "yes", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "log")}, extra...)
	startServer(t, exec.Command(bin, args...), port, filepath.Join(dir, "log"))
	return port
}

// startTLSSentinel starts a Sentinel that speaks TLS, on a free port that
// it returns, watching the master on masterPort as "mymaster".
func startTLSSentinel(t *testing.T, bin string, p *pki, masterPort int) int {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("bind 127.0.0.1\nport 0\ntls-port %d\ndir %s\nlogfile %s\n"+
		"tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients yes\ntls-replication yes\n"+
		"sentinel monitor mymaster 127.0.0.1 %d 1\n",
		port, dir, filepath.Join(dir, "log"), p.serverCert, p.serverKey, p.ca, masterPort)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, exec.Command(bin, conf, "--sentinel"), port, filepath.Join(dir, "log"))
	return port
}

// startServer starts cmd and waits, for 10 s at most, until it accepts
// connections on port; it fails the test, with the server's log, if the
// server exits first. The server is killed when the test ends.
func startServer(t *testing.T, cmd *exec.Cmd, port int, logFile string) {
	t.Helper()
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited: %v; its log:\n%s", cmd.Path, cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server on port %d after 10s: %v", port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addSlots gives the one-node Cluster on port every hash slot and waits,
// for 10 s at most, until it reports cluster_state:ok.
func addSlots(t *testing.T, p *pki, port int) {
	t.Helper()
	o, err := redisstore.ParseURL(fmt.Sprintf("rediss://127.0.0.1:%d/0?", port)+p.query(p.ca), false)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: o.Addrs[0], TLSConfig: o.TLSConfig})
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Cluster node is not ready after 10s: %v %q", err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
