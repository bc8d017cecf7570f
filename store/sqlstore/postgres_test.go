package sqlstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gobeaker/beaker/internal/pgtest"
	"github.com/gobeaker/beaker/store/sqlstore"
)

// postgresURL returns the test server's URL (scripts/services/postgres.sh
// starts one and exports it). Without it the test is skipped, unless
// BEAKER_TEST_REQUIRE_SERVICES=1, which makes a missing server a failure.
func postgresURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("BEAKER_TEST_POSTGRES_URL")
	if u == "" {
		u = os.Getenv("BEAKER_TEST_POSTGRES_DSN")
	}
	if u == "" {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("BEAKER_TEST_POSTGRES_URL is not set and BEAKER_TEST_REQUIRE_SERVICES=1: run scripts/test.sh, which starts PostgreSQL")
		}
		t.Skip("BEAKER_TEST_POSTGRES_URL is not set (scripts/test.sh starts a PostgreSQL server and sets it)")
	}
	return u
}

// dropTables removes a test's tables at its end.
func TestPostgresConformance(t *testing.T) {
	u := postgresURL(t)
	t.Parallel()
	table := randomTable(t)
	pgtest.DropOnCleanup(t, u, table)
	s := open(t, sqlstore.Options{URL: u, TableName: table})
	conformanceOn(t, s, u, table)
}

func TestPostgresTwoStores(t *testing.T) {
	u := postgresURL(t)
	t.Parallel()
	twoStores(t, u)
}

func TestPostgresTableMismatch(t *testing.T) {
	u := postgresURL(t)
	table := randomTable(t)
	pgtest.DropOnCleanup(t, u, table)
	s := open(t, sqlstore.Options{URL: u, TableName: table + "_x"})
	pgtest.DropOnCleanup(t, u, table+"_x")
	if _, err := s.DB().Exec(`CREATE TABLE ` + table + ` (id SERIAL PRIMARY KEY, namespace VARCHAR(255) NOT NULL UNIQUE, data BYTEA NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: u, TableName: table}); !errors.Is(err, sqlstore.ErrTableMismatch) {
		t.Fatalf("Open on a foreign table: %v, want ErrTableMismatch", err)
	}
}

// proxy forwards TCP connections to a server until it is cut: then it drops
// every connection and accepts new ones without forwarding anything (a
// server that went away behind a load balancer, or a network black hole).
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.cutAll()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			cut := p.cut
			p.mu.Unlock()
			if cut {
				continue // accept and hang: a black hole
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A PostgreSQL outage gives errors promptly, not hangs: the connections in
// the pool break, and new ones time out (Options.Timeout).
func TestPostgresOutage(t *testing.T) {
	u := postgresURL(t)
	t.Parallel()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, pu.Host)
	pu.Host = p.ln.Addr().String()
	table := randomTable(t)
	pgtest.DropOnCleanup(t, u, table)
	s := open(t, sqlstore.Options{URL: pu.String(), TableName: table, Timeout: time.Second})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.TryLock(ctx, "lock", 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	p.cutAll()
	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "k"); return err }},
		{"Set", func() error { return s.Set(ctx, "k", []byte("w"), 0) }},
		{"Get again", func() error { _, _, err := s.Get(ctx, "k"); return err }},
	} {
		start := time.Now()
		err := op.run()
		if err == nil {
			t.Fatalf("%s during the outage: no error", op.name)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s during the outage took %v, want about the 1s timeout", op.name, d)
		}
	}
	// The lease cannot be renewed: it runs out, and its holder learns it.
	select {
	case <-l.Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("Lost() did not close while the database was unreachable")
	}
}

// TestPostgresConcurrentOpen opens stores on one new table from many
// connections at once, as processes started together do: PostgreSQL's
// CREATE ... IF NOT EXISTS fails with a unique violation when it races
// with itself, so Open must make them take turns.
func TestPostgresConcurrentOpen(t *testing.T) {
	u := postgresURL(t)
	t.Parallel()
	for range 3 {
		table := randomTable(t)
		pgtest.DropOnCleanup(t, u, table)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				s, err := sqlstore.Open(context.Background(), sqlstore.Options{URL: u, TableName: table, PoolSize: 1})
				if err == nil {
					err = s.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Open on a new table, %d at once: %v", n, err)
			}
		}
	}
}

func TestPostgresUpdateKeepsExpiry(t *testing.T) { updateKeepsExpiry(t, postgresURL(t)) }
