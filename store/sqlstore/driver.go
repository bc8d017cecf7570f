package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gobeaker/beaker/store"
)

// Params keys of store.Config that the driver reads.
const (
	// ParamHere is the folder that a relative SQLite path in the URL is
	// relative to (Options.BaseDir). beaker.Open does not set it: as
	// SQLAlchemy does for Python Beaker, a relative path is relative to
	// the working directory (write %(here)s in the INI file for its
	// folder).
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
// ParamPoolSize. Its errors about one of them are *store.ConfigError
// naming it; a database that cannot be opened is one about the url.
func Driver() store.Driver {
	return store.Driver{
		Name:  "SQL database",
		Types: []string{"ext:database", "database", "sqlite", "postgresql"},
		Validate: func(c store.Config) error {
			_, u, err := optionsFromConfig(c)
			if err != nil {
				return err
			}
			for _, n := range u.notes {
				c.WarnURL(n.Option, n.Msg)
			}
			return nil
		},
		Open: func(ctx context.Context, c store.Config) (store.Store, error) {
			opts, _, err := optionsFromConfig(c)
			if err != nil {
				return nil, err
			}
			st, err := open(ctx, opts, false) // Validate warned
			if err != nil {
				key := "url"
				if errors.Is(err, ErrBadTableName) {
					key = "table_name"
				}
				return nil, &store.ConfigError{Key: key, Err: err}
			}
			return st, nil
		},
	}
}

// optionsFromConfig maps c to Options and checks them, without I/O; it
// returns the parsed url too.
func optionsFromConfig(c store.Config) (Options, target, error) {
	if c.URL == "" {
		return Options{}, target{}, &store.ConfigError{Key: "url", Err: fmt.Errorf("sqlstore: %s.url is required for %s (sqlite:///%%(here)s/data/sessions.db or postgresql://user@host/db)", c.Use, c.Type)}
	}
	opts := Options{
		URL: c.URL, TableName: c.TableName, BaseDir: c.Params[ParamHere],
		Timeout: c.Timeout, Logger: c.Logger,
	}
	if v, ok := c.Params[ParamPoolSize]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return Options{}, target{}, &store.ConfigError{Key: ParamPoolSize, Err: fmt.Errorf("sqlstore: %s.%s = %q: want a positive number", c.Use, ParamPoolSize, v)}
		}
		opts.PoolSize = n
	}
	if opts.TableName != "" && !identRE.MatchString(opts.TableName) {
		return Options{}, target{}, &store.ConfigError{Key: "table_name", Err: fmt.Errorf("%w %q: want letters, digits and underscores, at most 58", ErrBadTableName, opts.TableName)}
	}
	u, err := parseURL(c.URL, opts.BaseDir)
	if err != nil {
		return Options{}, target{}, &store.ConfigError{Key: "url", Err: err}
	}
	switch t := strings.ToLower(c.Type); t {
	case "sqlite", "postgresql":
		if want := map[string]dialect{"sqlite": sqlite, "postgresql": postgres}[t]; u.dialect != want {
			return Options{}, target{}, &store.ConfigError{Key: "url", Err: fmt.Errorf("sqlstore: %s.type = %s but %s.url names a %v database", c.Use, c.Type, c.Use, u.dialect)}
		}
	}
	return opts, u, nil
}
