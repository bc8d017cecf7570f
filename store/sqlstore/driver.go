package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gobeaker/beaker/store"
)

// Params keys of store.Config that the driver reads.
const (
	// ParamHere is the folder that a relative SQLite path in the URL is
	// relative to: the INI file's folder, %(here)s (Options.BaseDir).
	ParamHere = "here"

	// ParamPoolSize is Options.PoolSize (INI key session.sql.pool_size /
	// cache.sql.pool_size).
	ParamPoolSize = "sql.pool_size"
)

// Driver returns the driver of the SQL types, for beaker.Open:
// "ext:database" (Beaker's name) and "database" for either engine,
// "sqlite" and "postgresql" to insist on one. It reads Config.URL
// (required, SQLAlchemy's form: see Options.URL), Config.TableName
// (default beaker_store), Config.Timeout, and the Params ParamHere and
// ParamPoolSize.
func Driver() store.Driver {
	return store.Driver{
		Name:  "SQL database",
		Types: []string{"ext:database", "database", "sqlite", "postgresql"},
		Open: func(ctx context.Context, c store.Config) (store.Store, error) {
			if c.URL == "" {
				return nil, fmt.Errorf("sqlstore: %s.url is required for %s (sqlite:///%%(here)s/data/sessions.db or postgresql://user@host/db)", c.Use, c.Type)
			}
			opts := Options{
				URL: c.URL, TableName: c.TableName, BaseDir: c.Params[ParamHere],
				Timeout: c.Timeout, Logger: c.Logger,
			}
			if v, ok := c.Params[ParamPoolSize]; ok {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("sqlstore: %s.%s = %q: want a positive number", c.Use, ParamPoolSize, v)
				}
				opts.PoolSize = n
			}
			switch t := strings.ToLower(c.Type); t {
			case "sqlite", "postgresql":
				u, err := parseURL(c.URL, opts.BaseDir)
				if err != nil {
					return nil, fmt.Errorf("%s.url: %w", c.Use, err)
				}
				if want := map[string]dialect{"sqlite": sqlite, "postgresql": postgres}[t]; u.dialect != want {
					return nil, fmt.Errorf("sqlstore: %s.type = %s but %s.url names a %v database", c.Use, c.Type, c.Use, u.dialect)
				}
			}
			return Open(ctx, opts)
		},
	}
}
