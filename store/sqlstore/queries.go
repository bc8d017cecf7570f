package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// queries holds the statements of one table in one dialect. They are
// written with $n parameters; SQLite gets ?n, its spelling of numbered
// parameters.
type queries struct {
	table                                   string
	create                                  []string
	index, columns                          string
	get, set, del, insert, touch            string
	updateLive, updateAny, updateKeep       string
	purge, purgeLocks                       string
	lockTake, lockRenew, lockRelease        string
	scanFirstHi, scanFirst, scanHi, scanAll string
}

func newQueries(d dialect, table string) queries {
	blob := "BLOB"
	columns := `SELECT name FROM pragma_table_info($1)`
	if d == postgres {
		blob = "BYTEA"
		columns = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
	}
	lock := table + "_lock"
	live := `("expires" IS NULL OR "expires" > $%d)`
	q := queries{
		table: table,
		create: []string{
			`CREATE TABLE IF NOT EXISTS ` + table + ` ("key" ` + blob + ` PRIMARY KEY, "value" ` + blob + ` NOT NULL, "version" BIGINT NOT NULL, "expires" BIGINT)`,
			`CREATE TABLE IF NOT EXISTS ` + lock + ` ("name" ` + blob + ` PRIMARY KEY, "token" BIGINT NOT NULL, "expires" BIGINT NOT NULL)`,
		},
		index:   `CREATE INDEX IF NOT EXISTS ` + table + `_expires ON ` + table + ` ("expires")`,
		columns: columns,
		get:     `SELECT "value", "version", "expires" FROM ` + table + ` WHERE "key" = $1`,
		set: `INSERT INTO ` + table + ` ("key", "value", "version", "expires") VALUES ($1, $2, $3, $4)
			ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value", "version" = excluded."version", "expires" = excluded."expires"`,
		del:        `DELETE FROM ` + table + ` WHERE "key" = $1`,
		insert:     `INSERT INTO ` + table + ` ("key", "value", "version", "expires") VALUES ($1, $2, $3, $4) ON CONFLICT ("key") DO NOTHING`,
		updateLive: `UPDATE ` + table + ` SET "value" = $1, "version" = $2, "expires" = $3 WHERE "key" = $4 AND "version" = $5 AND ` + fmt.Sprintf(live, 6),
		updateAny:  `UPDATE ` + table + ` SET "value" = $1, "version" = $2, "expires" = $3 WHERE "key" = $4 AND "version" = $5`,
		// The expiry stays: the row must have exactly the one the caller
		// read, and be live.
		updateKeep: `UPDATE ` + table + ` SET "value" = $1, "version" = $2 WHERE "key" = $3 AND "version" = $4 AND "expires" = $5 AND "expires" > $6`,
		touch:      `UPDATE ` + table + ` SET "expires" = $1 WHERE "key" = $2 AND ` + fmt.Sprintf(live, 3),
		purge: `DELETE FROM ` + table + ` WHERE "key" IN (SELECT "key" FROM ` + table +
			` WHERE "expires" IS NOT NULL AND "expires" <= $1 LIMIT $2)`,
		purgeLocks: `DELETE FROM ` + lock + ` WHERE "expires" <= $1`,
		lockTake: `INSERT INTO ` + lock + ` ("name", "token", "expires") VALUES ($1, $2, $3)
			ON CONFLICT ("name") DO UPDATE SET "token" = excluded."token", "expires" = excluded."expires" WHERE ` + lock + `."expires" <= $4`,
		lockRenew:   `UPDATE ` + lock + ` SET "expires" = $1 WHERE "name" = $2 AND "token" = $3`,
		lockRelease: `DELETE FROM ` + lock + ` WHERE "name" = $1 AND "token" = $2`,
	}
	scan := `SELECT "key" FROM ` + table + ` WHERE "key" %s $1 AND ` + fmt.Sprintf(live, 2) + `%s ORDER BY "key" LIMIT ` + strconv.Itoa(scanPage)
	q.scanFirstHi = fmt.Sprintf(scan, ">=", ` AND "key" < $3`)
	q.scanFirst = fmt.Sprintf(scan, ">=", "")
	q.scanHi = fmt.Sprintf(scan, ">", ` AND "key" < $3`)
	q.scanAll = fmt.Sprintf(scan, ">", "")
	if d == sqlite {
		for _, p := range []*string{&q.columns, &q.get, &q.set, &q.del, &q.insert, &q.updateLive, &q.updateAny, &q.updateKeep, &q.touch,
			&q.purge, &q.purgeLocks, &q.lockTake, &q.lockRenew, &q.lockRelease, &q.scanFirstHi, &q.scanFirst, &q.scanHi, &q.scanAll} {
			*p = strings.ReplaceAll(*p, "$", "?")
		}
	}
	return q
}

// scan returns the page query: from lo included (op ">=") or excluded
// (">"), with or without an upper bound.
func (q *queries) scan(op string, hi bool) string {
	switch {
	case op == ">=" && hi:
		return q.scanFirstHi
	case op == ">=":
		return q.scanFirst
	case hi:
		return q.scanHi
	}
	return q.scanAll
}

// defaultBusyTimeout is how long a SQLite write waits for another process's
// write to finish before it fails.
const defaultBusyTimeout = 5 * time.Second

// openSQLite opens a pool of reading connections and a single writing one.
// An in-memory database has one connection for both. The writing
// connection has no busy timeout once it is open (busyZero): Store.onWriter
// waits for other processes' locks itself.
// For a file, it also returns what the path named then (see
// Store.checkFile).
func openSQLite(t target, poolSize int) (rdb, wdb *sql.DB, fi os.FileInfo, err error) {
	params := url.Values{}
	params.Add("_pragma", "busy_timeout("+strconv.FormatInt(sqliteBusy(t).Milliseconds(), 10)+")")
	params.Add("_txlock", "immediate")
	if t.path == "" {
		db, err := sql.Open("sqlite", "file::memory:?"+params.Encode())
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sqlstore: sqlite: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, db, nil, nil
	}
	if fi, err = createFile(t.path); err != nil {
		return nil, nil, nil, err
	}
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(NORMAL)")
	// SQLite never creates the file: createFile does, with its mode, and a
	// connection opened while the file is missing fails instead of making
	// an empty database (see Store.checkFile).
	params.Add("mode", "rw")
	dsn := "file:" + (&url.URL{Path: t.path}).EscapedPath() + "?" + params.Encode()
	c, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sqlstore: sqlite: %w", err)
	}
	wdb = sql.OpenDB(busyZero{c})
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	rdb = sql.OpenDB(c)
	rdb.SetMaxOpenConns(poolSize)
	rdb.SetMaxIdleConns(poolSize)
	return rdb, wdb, fi, nil
}

// createFile makes the SQLite database file at path if it is missing, and
// returns what path names. Like the file store's data_dir, a missing folder
// is created (0700), and the file is made 0600 before SQLite creates it with
// the umask's mode (its -wal and -shm files take the database's mode).
func createFile(path string) (os.FileInfo, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite: %w", err)
	}
	return fi, nil
}

// sqliteBusy is how long a SQLite statement waits for another process's
// lock.
func sqliteBusy(t target) time.Duration {
	if !t.busySet {
		return defaultBusyTimeout
	}
	return t.busy
}

// busyZero opens connections through c, then turns their busy timeout off:
// it applied to the connection's setup (the switch to WAL may wait for
// another process), and later waits are Store.onWriter's.
type busyZero struct{ driver.Connector }

func (c busyZero) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: sqlite: the driver's connection cannot run statements")
	}
	if _, err := ex.ExecContext(ctx, "PRAGMA busy_timeout = 0", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// defaultConnectTimeout bounds a connection to PostgreSQL when neither the
// URL (connect_timeout) nor Options.Timeout says.
const defaultConnectTimeout = 5 * time.Second

func openPostgres(t target, opts Options) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(t.pgURL)
	if err != nil {
		// pgx's message quotes the URL, perhaps with its password.
		return nil, fmt.Errorf("%w: the PostgreSQL URL does not parse", ErrURL)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
		if opts.Timeout > 0 {
			cfg.ConnectTimeout = opts.Timeout
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.PoolSize)
	db.SetMaxIdleConns(opts.PoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}
