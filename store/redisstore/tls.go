package redisstore

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// msgCAData is the error of an ssl_ca_data that holds no certificate.
const msgCAData = "ssl_ca_data: no PEM certificate in the text (a '+' must be written %2B in a URL)"

// tlsFiles are the TLS options of a URL that name files or hold PEM text.
// Parsing a URL only records them, so that Driver's Validate, which must
// not touch files, refuses what Open refuses but for the files; load reads
// them.
type tlsFiles struct {
	caCerts  string // ssl_ca_certs: a PEM file of CA certificates
	caPath   string // ssl_ca_path: a directory of PEM CA files
	caData   string // ssl_ca_data: PEM text
	certFile string // ssl_certfile: the client's certificate chain, and its key when keyFile is ""
	keyFile  string // ssl_keyfile: the client's private key
}

// load sets on cfg the CA certificates (RootCAs, in place of the system's)
// and the client certificate (Certificates) that f names. name gives how a
// message shows a path of f: quoted, or only as its kind ("the file") when
// the path may be a piece of a password. An error names the option.
func (f tlsFiles) load(cfg *tls.Config, name func(kind, path string) string) error {
	if cfg == nil || f == (tlsFiles{}) {
		return nil
	}
	if f.caCerts != "" || f.caPath != "" || f.caData != "" {
		pool := x509.NewCertPool()
		if f.caCerts != "" {
			b, err := readFile(f.caCerts)
			if err != nil {
				return fmt.Errorf("ssl_ca_certs: cannot read %s: %w", name("the file", f.caCerts), err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return fmt.Errorf("ssl_ca_certs: %s holds no PEM certificate", name("the file", f.caCerts))
			}
		}
		if f.caPath != "" {
			if err := appendDir(pool, f.caPath, name); err != nil {
				return err
			}
		}
		if f.caData != "" && !pool.AppendCertsFromPEM([]byte(f.caData)) {
			return errors.New(msgCAData)
		}
		cfg.RootCAs = pool
	}
	if f.certFile != "" {
		cert, err := loadKeyPair(f.certFile, f.keyFile, name)
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// appendDir adds to pool the certificates of every regular file of dir
// (ssl_ca_path), symbolic links followed, as OpenSSL's hashed layout
// (c_rehash's <hash>.0 links) and a plain folder of .pem or .crt files
// both hold them; a file that cannot be read or holds no certificate is
// passed over, as Go's own SSL_CERT_DIR reader does, but a folder with no
// certificate at all is an error.
func appendDir(pool *x509.CertPool, dir string, name func(kind, path string) string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("ssl_ca_path: cannot read %s: %w", name("the directory", dir), pathCause(err))
	}
	found := false
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if b, err := os.ReadFile(p); err == nil && pool.AppendCertsFromPEM(b) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("ssl_ca_path: no file in %s holds a PEM certificate", name("the directory", dir))
	}
	return nil
}

// loadKeyPair reads the client certificate of ssl_certfile and its key,
// from ssl_keyfile or, when that is "", from the certificate's file, as
// Python's SSLContext.load_cert_chain does.
func loadKeyPair(certFile, keyFile string, name func(kind, path string) string) (tls.Certificate, error) {
	certPEM, err := readFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ssl_certfile: cannot read %s: %w", name("the file", certFile), err)
	}
	if !hasBlock(certPEM, func(b *pem.Block) bool { return b.Type == "CERTIFICATE" }) {
		return tls.Certificate{}, fmt.Errorf("ssl_certfile: %s holds no PEM certificate", name("the file", certFile))
	}
	keyOpt, keyPEM := "ssl_keyfile", certPEM
	if keyFile == "" {
		keyOpt, keyFile = "ssl_certfile", certFile
	} else if keyPEM, err = readFile(keyFile); err != nil {
		return tls.Certificate{}, fmt.Errorf("ssl_keyfile: cannot read %s: %w", name("the file", keyFile), err)
	}
	if hasBlock(keyPEM, isEncryptedKey) {
		return tls.Certificate{}, fmt.Errorf("%s: the private key in %s is encrypted, which the store cannot read (ssl_password is not supported): "+
			"store it unencrypted (openssl pkey -in KEY -out PLAIN), readable only by the application", keyOpt, name("the file", keyFile))
	}
	if !hasBlock(keyPEM, func(b *pem.Block) bool { return b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY") }) {
		if keyOpt == "ssl_certfile" {
			return tls.Certificate{}, fmt.Errorf("ssl_certfile: %s holds no PEM private key: give its file as ssl_keyfile", name("the file", certFile))
		}
		return tls.Certificate{}, fmt.Errorf("ssl_keyfile: %s holds no PEM private key", name("the file", keyFile))
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyOpt, err)
	}
	return cert, nil
}

// isEncryptedKey reports whether b is a private key encrypted with a
// password: PKCS #8's ENCRYPTED PRIVATE KEY, or OpenSSL's legacy
// Proc-Type: 4,ENCRYPTED header.
func isEncryptedKey(b *pem.Block) bool {
	return b.Type == "ENCRYPTED PRIVATE KEY" ||
		strings.HasSuffix(b.Type, " PRIVATE KEY") && strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED")
}

// hasBlock reports whether a PEM block of data satisfies ok.
func hasBlock(data []byte, ok func(*pem.Block) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if ok(b) {
			return true
		}
		data = bytes.TrimLeft(data, " \t\r\n")
	}
}

// readFile reads a file named by a TLS option. Its error is the cause
// alone (fs.ErrNotExist, fs.ErrPermission, …), without the path, which the
// caller shows or not.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, pathCause(err)
	}
	return b, nil
}

// pathCause returns the cause of a *fs.PathError, and err otherwise.
func pathCause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// pyMinVersion reads redis-py's ssl_min_version, a name of Python's
// ssl.TLSVersion (TLSv1_2, in any case), as the store's minimum TLS
// version. kept is true for the names below TLS 1.2, where the store
// keeps its own minimum, TLS 1.2, which is stricter.
func pyMinVersion(v string) (version uint16, kept bool, err error) {
	switch strings.ToUpper(strings.TrimPrefix(strings.TrimSpace(v), "TLSVersion.")) {
	case "TLSV1_2":
		return tls.VersionTLS12, false, nil
	case "TLSV1_3", "MAXIMUM_SUPPORTED":
		return tls.VersionTLS13, false, nil
	case "SSLV3", "TLSV1", "TLSV1_1", "MINIMUM_SUPPORTED":
		return tls.VersionTLS12, true, nil
	}
	return 0, false, errors.New("ssl_min_version: want TLSv1_2 or TLSv1_3 (a name of Python's ssl.TLSVersion)")
}
