package filestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/gobeaker/beaker/store"
)

// ParamFsync is the store.Config.Params key of Options.Sync (INI key
// session.file.fsync / cache.file.fsync): a boolean, false by default.
const ParamFsync = "file.fsync"

// Driver returns the driver of the "file" type (Beaker's session.type =
// file), for beaker.Open. It reads Config.DataDir (required), Config.LockDir
// and Config.Params[ParamFsync].
func Driver() store.Driver {
	return store.Driver{
		Name:  "file",
		Types: []string{"file"},
		Open: func(ctx context.Context, c store.Config) (store.Store, error) {
			opts := Options{DataDir: c.DataDir, LockDir: c.LockDir, Logger: c.Logger}
			if v, ok := c.Params[ParamFsync]; ok {
				b, ok := parseBool(v)
				if !ok {
					return nil, fmt.Errorf("filestore: %s.%s = %q: not a boolean", c.Use, ParamFsync, v)
				}
				opts.Sync = b
			}
			if opts.DataDir == "" {
				return nil, fmt.Errorf("%w (%s.data_dir)", ErrNoDataDir, c.Use)
			}
			return New(opts)
		},
	}
}

// parseBool reads a boolean as Beaker's asbool does: true, yes, on, y, t, 1
// and false, no, off, n, f, 0, in any case.
func parseBool(v string) (b, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "y", "t", "1":
		return true, true
	case "false", "no", "off", "n", "f", "0":
		return false, true
	}
	return false, false
}
