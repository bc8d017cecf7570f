// Package pgtest removes the PostgreSQL tables that a test made. CI's
// server is thrown away after each run, but a developer's own server would
// otherwise keep every run's tables.
package pgtest

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// DropOnCleanup registers the removal of table, and of the lock table that
// sqlstore makes beside it, on the PostgreSQL server at url. Call it before
// opening the stores that use the table: cleanups run last-registered
// first, so those are closed by the time it runs. A failure to remove the
// tables fails the test.
func DropOnCleanup(tb testing.TB, url, table string) {
	tb.Helper()
	tb.Cleanup(func() {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			tb.Errorf("pgtest: dropping %s: %v", table, err)
			return
		}
		db := stdlib.OpenDB(*cfg)
		defer db.Close()
		if _, err := db.Exec(`DROP TABLE IF EXISTS ` + table + `, ` + table + `_lock`); err != nil {
			tb.Errorf("pgtest: dropping %s: %v", table, err)
		}
	})
}
