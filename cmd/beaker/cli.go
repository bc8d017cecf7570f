package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/session"
	"github.com/gobeaker/beaker/settings"
	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memcachestore"
	"github.com/gobeaker/beaker/store/memstore"
	"github.com/gobeaker/beaker/store/redisstore"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// cli runs one command. Its fields are what tests replace.
type cli struct {
	stdout, stderr io.Writer
	// open builds the Beaker for settings; tests inject one whose memory
	// store they filled.
	open func(ctx context.Context, s *settings.Settings) (*beaker.Beaker, error)
	// terminal says whether progress may be drawn on stderr.
	terminal bool
	// inProcess lets the sessions commands run on a memory store, which
	// only a test running in the application's process can share.
	inProcess bool
}

func newCLI(stdout, stderr io.Writer) *cli {
	c := &cli{stdout: stdout, stderr: stderr, terminal: isTerminal(stderr)}
	c.open = func(ctx context.Context, s *settings.Settings) (*beaker.Beaker, error) {
		return beaker.Open(ctx, s, beaker.Options{Logger: c.logger(), Drivers: drivers()})
	}
	return c
}

func (c *cli) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const usage = `beaker: operators' tool for beaker for Go (Beaker sessions and caching for Go)

Usage:
  beaker check-config [-section S] FILE     check Beaker settings and print them, secrets masked
                                            (without I/O: stores are not opened, servers not contacted)
  beaker gen-secret [-bytes N]              print a new random secret for session.secret
  beaker sessions list   -config FILE       list stored sessions (store keys, created, expires)
  beaker sessions show   -config FILE REF   print one session as JSON
  beaker sessions delete -config FILE REF   delete one session (log the user out)
  beaker sessions purge  -config FILE       remove expired sessions and print how many
  beaker cache invalidate -config FILE [-soft] REGION
                                            invalidate a cache region in every process sharing its store

REF is a store key as "sessions list" prints it, or the value of a session cookie.
Flags may come before or after the arguments; "beaker COMMAND -help" describes each command.

Exit status: 0 done; 1 failed (a bad setting, a store error, no such session);
2 a command line not understood (unknown command or flag, wrong arguments, a flag value out of range).
`

// errMemory explains why the sessions commands cannot reach memory sessions.
var errMemory = errors.New("session.type = memory keeps sessions inside the application's process, out of this tool's reach; " +
	"the sessions commands work on shared stores (file, ext:database, ext:redis, ext:memcached)")

// errUsage is returned for a command line that is not understood (one
// that does not parse, lacks a required flag, or gives a flag a value out
// of range): exit status 2. Its message has been printed.
var errUsage = errors.New("usage")

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprint(c.stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "check-config":
		err = c.checkConfig(args[1:])
	case "gen-secret":
		err = c.genSecret(args[1:])
	case "sessions":
		err = c.sessions(ctx, args[1:])
	case "cache":
		err = c.cache(ctx, args[1:])
	default:
		fmt.Fprintf(c.stderr, "beaker: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(c.stderr, "beaker:", err)
		return 1
	}
}

// parse parses flags that may come before, between or after positional
// arguments, and checks the number of positional arguments.
func (c *cli) parse(fs *flag.FlagSet, args []string, want int, names string) ([]string, error) {
	return c.parseArgs(fs, args, want, names, false)
}

// parseArgs is parse; hideArgs leaves the offending argument out of a
// flag error, for commands whose argument may be a live session cookie
// (one that starts with "-" reads as an unknown flag).
func (c *cli) parseArgs(fs *flag.FlagSet, args []string, want int, names string, hideArgs bool) ([]string, error) {
	// The flag package would print its error with the argument in it:
	// print our own.
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(c.stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(c.stderr)
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, err
			}
			if hideArgs {
				fmt.Fprintf(c.stderr, "beaker %s: a flag that is not defined (not printed: it may be a session cookie value); "+
					"a REF that starts with \"-\" goes after \"--\"\n", fs.Name())
			} else {
				fmt.Fprintf(c.stderr, "beaker %s: %v\n", fs.Name(), err)
			}
			fs.Usage()
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		fs.SetOutput(c.stderr)
		fmt.Fprintf(c.stderr, "beaker %s: want %s\n", fs.Name(), names)
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: beaker %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (c *cli) genSecret(args []string) error {
	fs := newFlags("gen-secret", "gen-secret [-bytes N]\n\nPrints a random secret, hex-encoded, for session.secret.")
	n := fs.Int("bytes", 32, "random bytes in the secret (at least 16)")
	if _, err := c.parse(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *n < session.MinSecretLen || *n > 1024 {
		fmt.Fprintf(c.stderr, "beaker gen-secret: -bytes %d: want between %d and 1024\n", *n, session.MinSecretLen)
		fs.SetOutput(c.stderr)
		fs.Usage()
		return errUsage
	}
	b := make([]byte, *n)
	_, _ = rand.Read(b)
	fmt.Fprintln(c.stdout, hex.EncodeToString(b))
	return nil
}

func (c *cli) checkConfig(args []string) error {
	fs := newFlags("check-config", "check-config [-section S] FILE\n\nChecks the Beaker settings in FILE as the application would load them,\nand prints the resolved session and cache settings with secrets masked.\n\n"+notChecked)
	section := fs.String("section", settings.DefaultSection, "INI section to read")
	pos, err := c.parse(fs, args, 1, "one FILE")
	if err != nil {
		return err
	}
	s, err := settings.Load(pos[0], *section)
	if err != nil {
		return err
	}
	cfg, err := beaker.Check(s, beaker.Options{Drivers: drivers()})
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		at := w.File
		if w.Line > 0 {
			at += fmt.Sprintf(":%d", w.Line)
		}
		fmt.Fprintf(c.stderr, "warning: %s: %s: %s\n", at, w.Key, w.Msg)
	}
	return printConfig(c.stdout, s, cfg, *section)
}

// notChecked says what check-config leaves to the application's start.
const notChecked = "Everything is checked that can be without I/O: keys, values, store URLs and the settings each\n" +
	"store requires. Stores are not opened: an unreachable server, wrong credentials, a folder that\n" +
	"cannot be made, a TLS certificate file (ssl_ca_certs, ssl_certfile, ...) that cannot be read or\n" +
	"a database that cannot be opened shows when the application (or beaker sessions list -config\n" +
	"FILE) opens them; a Redis or memcached server that does not answer, on its first request."

// configFlags adds the -config and -section flags of the commands that
// open an application's settings.
func configFlags(fs *flag.FlagSet) (config, section *string) {
	config = fs.String("config", "", "INI file with the application's Beaker settings (required)")
	section = fs.String("section", settings.DefaultSection, "INI section to read")
	return config, section
}

// openConfig loads the settings named by -config and opens them (for the
// sessions and cache commands).
func (c *cli) openConfig(ctx context.Context, fs *flag.FlagSet, config, section string) (*beaker.Beaker, error) {
	if config == "" {
		fmt.Fprintf(c.stderr, "beaker %s: -config FILE is required\n", fs.Name())
		fs.Usage()
		return nil, errUsage
	}
	s, err := settings.Load(config, section)
	if err != nil {
		return nil, err
	}
	b, err := c.open(ctx, s)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (c *cli) sessions(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, "beaker sessions: want list, show, delete or purge\n\n"+usage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	synopsis := map[string]string{
		"list":   "sessions list -config FILE [-section S]\n\nLists the stored sessions: store key (a hash of the session id), created, expires.",
		"show":   "sessions show -config FILE [-section S] REF\n\nPrints one stored session as JSON. REF is a store key from \"sessions list\" or a session cookie value;\na REF that starts with \"-\" goes after \"--\" (sessions show -config FILE -- REF).",
		"delete": "sessions delete -config FILE [-section S] REF\n\nDeletes one stored session: its user is logged out. REF as for show\n(one that starts with \"-\" goes after \"--\").",
		"purge":  "sessions purge -config FILE [-section S]\n\nRemoves expired sessions from stores that keep them (files, SQL) and prints how many.",
	}[sub]
	if synopsis == "" {
		fmt.Fprintf(c.stderr, "beaker sessions: unknown subcommand %q; want list, show, delete or purge\n", sub)
		return errUsage
	}
	fs := newFlags("sessions "+sub, synopsis)
	config, section := configFlags(fs)
	want, names := 0, "no arguments"
	if sub == "show" || sub == "delete" {
		want, names = 1, "one REF"
	}
	pos, err := c.parseArgs(fs, args, want, names, want == 1)
	if err != nil {
		return err
	}
	b, err := c.openConfig(ctx, fs, *config, *section)
	if err != nil {
		return err
	}
	defer b.Close()
	if b.SessionType == "memory" && !c.inProcess {
		return errMemory
	}
	m := b.Sessions
	switch sub {
	case "list":
		err := c.list(ctx, m)
		if errors.Is(err, session.ErrCannotScan) {
			return fmt.Errorf("session.type = %s cannot list its sessions: the server has no way to enumerate keys "+
				"(show and delete work with a REF)", b.SessionType)
		}
		return err
	case "show":
		r, found, err := m.Lookup(ctx, pos[0])
		if err != nil {
			return redact(err, pos[0])
		}
		if !found {
			return errNoSession
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "delete":
		r, found, err := m.Lookup(ctx, pos[0])
		if err != nil {
			return redact(err, pos[0])
		}
		if !found {
			return errNoSession
		}
		if err := m.Remove(ctx, pos[0]); err != nil {
			return redact(err, pos[0])
		}
		fmt.Fprintf(c.stdout, "deleted %s\n", r.Key)
		return nil
	default: // purge
		stop := c.progress(func() string { return "purging expired sessions" })
		n, err := m.Purge(ctx)
		stop()
		if errors.Is(err, session.ErrCannotScan) {
			fmt.Fprintf(c.stdout, "nothing to purge: session.type = %s expires sessions by itself\n", b.SessionType)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "removed %d expired sessions\n", n)
		return nil
	}
}

// errNoSession is the error of show and delete for a REF that names no
// stored session. The REF is not in it: it may be a live cookie value.
var errNoSession = errors.New("no session stored for that REF (the REF is not printed: it may be a live session cookie)")

// redact returns err with every occurrence of ref in its message replaced
// by "REF" (a REF may be a live cookie value), still wrapping err.
func redact(err error, ref string) error {
	if err == nil || ref == "" || !strings.Contains(err.Error(), ref) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), ref, "REF"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (c *cli) list(ctx context.Context, m *session.Manager) error {
	var count atomic.Int64
	stop := c.progress(func() string { return fmt.Sprintf("listing sessions: %d", count.Load()) })
	defer stop()
	err := m.Scan(ctx, func(key string) error {
		r, found, err := m.Lookup(ctx, key)
		if err != nil || !found {
			return err
		}
		if count.Add(1) == 1 {
			fmt.Fprintf(c.stdout, "%-52s  %-20s  %s\n", "KEY", "CREATED", "EXPIRES")
		}
		exp := "-"
		if !r.Expires.IsZero() {
			exp = r.Expires.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(c.stdout, "%-52s  %-20s  %s\n", r.Key, r.Created.UTC().Format(time.DateTime), exp)
		return nil
	})
	if err != nil {
		return err
	}
	stop()
	fmt.Fprintf(c.stderr, "%d sessions\n", count.Load())
	return nil
}

// progress draws "what… N s" on a terminal, at once and then every
// 200 ms, until the returned stop is called and clears the line. On
// anything else it draws nothing.
func (c *cli) progress(what func() string) (stop func()) {
	if !c.terminal {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	draw := func() {
		fmt.Fprintf(c.stderr, "\r\033[K%s… %ds", what(), int(time.Since(start).Seconds()))
	}
	draw()
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(c.stderr, "\r\033[K")
				return
			case <-t.C:
				draw()
			}
		}
	}()
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			close(done)
			<-finished
		}
	}
}

// printConfig prints the resolved configuration, as beaker.Open builds
// it (beaker.Resolve), secrets masked; "(default)" marks the values that
// no setting gave.
func printConfig(w io.Writer, s *settings.Settings, cfg *beaker.Config, section string) error {
	fmt.Fprintf(w, "settings: %s [%s]: OK\n\nsession:\n", s.Source(), section)
	row := func(key, value string) {
		if !s.Has("session." + key) {
			value += "  (default)"
		}
		fmt.Fprintf(w, "  %-20s %s\n", key, value)
	}
	sc := cfg.Session
	o := sc.Options
	row("type", sc.Type)
	row("key", o.CookieName)
	masked := make([]string, len(o.Secrets))
	for i, sec := range o.Secrets {
		masked[i] = settings.Mask("session.secret", sec)
	}
	if sc.Type != "cookie" {
		fmt.Fprintf(w, "  %-20s %s  (%d secret(s); the first signs)\n", "secret", strings.Join(masked, " "), len(o.Secrets))
	} else {
		// A cookie session seals the whole session; its keys come from
		// the first of encrypt_key, validate_key and secret that is set
		// (see session.CookieOptions).
		seals := "the first seals the cookie; all open it"
		switch {
		case sc.EncryptKey != "":
			seals = "they do not seal the cookie: encrypt_key does"
		case sc.ValidateKey != "":
			seals = "they do not seal the cookie: validate_key does"
		}
		fmt.Fprintf(w, "  %-20s %s  (%d secret(s); %s)\n", "secret", strings.Join(masked, " "), len(o.Secrets), seals)
		if sc.EncryptKey != "" {
			fb := make([]string, len(sc.EncryptKeyFallbacks))
			for i, k := range sc.EncryptKeyFallbacks {
				fb[i] = settings.Mask("session.encrypt_key", k)
			}
			extra := "seals the cookie, with validate_key mixed in when set"
			if len(fb) > 0 {
				extra += "; fallbacks still open: " + strings.Join(fb, " ")
			}
			fmt.Fprintf(w, "  %-20s %s  (%s)\n", "encrypt_key", settings.Mask("session.encrypt_key", sc.EncryptKey), extra)
		}
		if sc.ValidateKey != "" {
			use := "mixed into encrypt_key's keys"
			if sc.EncryptKey == "" {
				use = "seals the cookie"
			}
			fmt.Fprintf(w, "  %-20s %s  (%s)\n", "validate_key", settings.Mask("session.validate_key", sc.ValidateKey), use)
		}
	}
	seconds := func(d time.Duration, zero string) string {
		if d == 0 {
			return zero
		}
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	row("timeout", seconds(o.Timeout, "none (no idle timeout)"))
	row("lifetime", seconds(o.Lifetime, ""))
	switch {
	case !o.CookieExpiresAt.IsZero():
		row("cookie_expires", o.CookieExpiresAt.UTC().Format(time.RFC3339)+" (every cookie expires then)")
	case o.CookieExpires > 0:
		row("cookie_expires", seconds(o.CookieExpires, "")+" (persistent cookie)")
	case o.PersistentCookie:
		row("cookie_expires", "false (the cookie lasts the session's lifetime)")
	default:
		row("cookie_expires", "true (browser-session cookie)")
	}
	if o.CookieDomain != "" {
		row("cookie_domain", o.CookieDomain)
	}
	row("cookie_path", o.CookiePath)
	row("secure", map[session.SecureMode]string{session.SecureAuto: "auto (Secure over TLS)", session.SecureAlways: "true", session.SecureNever: "false"}[o.Secure])
	row("httponly", fmt.Sprint(!o.NoHTTPOnly))
	row("samesite", map[http.SameSite]string{http.SameSiteLaxMode: "Lax", http.SameSiteStrictMode: "Strict",
		http.SameSiteNoneMode: "None", http.SameSiteDefaultMode: "(attribute left out)"}[o.SameSite])
	row("save_accessed_time", fmt.Sprint(!o.NoTouch))
	row("auto", fmt.Sprint(o.Auto))
	row("store_timeout", seconds(o.StoreTimeout, ""))
	if o.MaxSize < 0 {
		row("max_size", "no limit")
	} else {
		row("max_size", fmt.Sprintf("%d bytes", o.MaxSize))
	}
	row("key_prefix", o.KeyPrefix)
	if sc.Type != "cookie" {
		row("format", "native") // the only one before the Beaker format
	}
	if sc.Type == "memory" {
		row("max_entries", fmt.Sprint(cmp.Or(sc.MaxEntries, memstore.DefaultMaxEntries)))
		row("max_bytes", fmt.Sprintf("%d bytes", cmp.Or(int64(sc.MaxBytes), memstore.DefaultMaxBytes)))
	}
	st := sc.Store
	urlKey := "url"
	if s.Has("session.urls") {
		urlKey = "urls" // Beaker 1.13's spelling, as written
	}
	for _, kv := range [][2]string{{urlKey, st.URL}, {"data_dir", st.DataDir}, {"lock_dir", st.LockDir}, {"table_name", st.TableName}} {
		if kv[1] != "" {
			row(kv[0], settings.Mask("session."+kv[0], kv[1]))
		}
	}
	if len(cfg.CSRFTrustedOrigins) > 0 {
		fmt.Fprintf(w, "\ncsrf trusted origins:\n  %s\n", strings.Join(cfg.CSRFTrustedOrigins, "\n  "))
	}
	opens := sc.Type != "memory" && sc.Type != "cookie"
	defer func() {
		if opens {
			fmt.Fprintln(w, "\nstores: not opened (servers not contacted, folders not made, TLS certificate files not read); the application's start opens them")
		}
	}()
	if len(cfg.Regions) == 0 {
		fmt.Fprintln(w, "\ncache regions: none")
		return nil
	}
	fmt.Fprintln(w, "\ncache regions:")
	for _, r := range cfg.Regions {
		line := fmt.Sprintf("  %-14s type %-10s expire %ds", r.Options.Name, r.Type, int(r.Options.Expire.Seconds()))
		if r.Options.Disabled {
			line += "  disabled"
		}
		if r.Options.RoundTrip {
			line += "  round_trip"
		}
		if r.Store.URL != "" {
			line += "  url " + settings.Mask("cache.url", r.Store.URL)
		}
		if r.Store.DataDir != "" {
			line += "  data_dir " + r.Store.DataDir
		}
		if r.Store.LockDir != "" {
			line += "  lock_dir " + r.Store.LockDir
		}
		if r.Store.TableName != "" {
			line += "  table_name " + r.Store.TableName
		}
		if r.Options.KeyLength > 0 {
			line += fmt.Sprintf("  key_length %d", r.Options.KeyLength)
		}
		opens = opens || r.Type != "memory"
		fmt.Fprintln(w, line)
	}
	return nil
}

// errMemoryCache explains why cache invalidate cannot reach memory regions.
var errMemoryCache = errors.New("a memory cache region lives inside each application process, out of this tool's reach; " +
	"invalidation across processes works for regions on shared stores (file, ext:database, ext:redis, ext:memcached)")

func (c *cli) cache(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "invalidate" {
		fmt.Fprint(c.stderr, "beaker cache: want invalidate\n\n"+usage)
		return errUsage
	}
	fs := newFlags("cache invalidate", "cache invalidate -config FILE [-section S] [-soft] REGION\n\n"+
		"Invalidates every value of the cache region REGION, in every process that shares its store.\n"+
		"Hard (the default): values are gone, the next caller makes them again.\n"+
		"Soft: values are stale, served while one caller makes them again.")
	config, section := configFlags(fs)
	soft := fs.Bool("soft", false, "soft invalidation: keep serving stale values while one caller regenerates")
	pos, err := c.parse(fs, args[1:], 1, "one REGION")
	if err != nil {
		return err
	}
	b, err := c.openConfig(ctx, fs, *config, *section)
	if err != nil {
		return err
	}
	defer b.Close()
	r, ok := b.Cache.Region(pos[0])
	if !ok {
		return fmt.Errorf("no cache region %q in %s (cache.regions = %s)", pos[0], *config, strings.Join(b.Cache.Regions(), ", "))
	}
	if r.Local() && !c.inProcess {
		return errMemoryCache
	}
	if err := r.Invalidate(ctx, cache.Mode(!*soft)); err != nil {
		return err
	}
	mode := "hard"
	if *soft {
		mode = "soft"
	}
	fmt.Fprintf(c.stdout, "invalidated region %s (%s); running processes apply it within their generation interval (1 s by default)\n", r.Name(), mode)
	return nil
}

// drivers links every backend: the SQL, Redis and memcached stores (memory,
// file and cookie are linked by beaker.Open itself).
func drivers() []store.Driver {
	return []store.Driver{sqlstore.Driver(), redisstore.Driver(), memcachestore.Driver()}
}
