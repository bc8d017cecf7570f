package redisstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gobeaker/beaker/store"
)

// Settings keys that Driver reads from store.Config.Params.
const (
	ParamKeyPrefix  = "redis.key_prefix"
	ParamPoolSize   = "redis.pool_size"
	ParamMaxRetries = "redis.max_retries"
)

// Driver links Redis into beaker.Open. It serves the types "ext:redis" and
// "redis" (session.url / cache.url in any spelling of ParseURL), and Beaker
// 1.13's "ext:rediscluster" (and "rediscluster"), which makes a Cluster
// client even for one address. store.Config.Timeout sets Options.Timeout,
// and the Params keys redis.key_prefix, redis.pool_size and
// redis.max_retries set the Options fields of the same meaning; any other
// redis.* key is an error wrapping ErrInvalidOptions. Its errors about one
// setting are *store.ConfigError naming it. Its Validate refuses what Open
// refuses, but for the files that the url's TLS options name (ssl_ca_certs,
// ssl_certfile, …): Open reads them, Validate does not (check-config may
// run where they do not exist). Validate logs, at the "url" key, the
// warnings that Open logs about the url's options (ssl_cert_reqs=none, an
// option ignored); Driver's Open leaves them to Validate.
func Driver() store.Driver {
	return store.Driver{
		Name:  "Redis",
		Types: []string{"ext:redis", "redis", "ext:rediscluster", "rediscluster"},
		Validate: func(c store.Config) error {
			opts, err := OptionsFromConfig(c)
			if err != nil {
				return err
			}
			// Everything Open checks but the files of the TLS options,
			// which Validate must not touch: they may exist only where
			// the application runs.
			_, py, err := parseURL(c.URL, opts.Cluster)
			if err != nil {
				return &store.ConfigError{Key: "url", Err: err}
			}
			for _, n := range py.notes {
				c.WarnURL(n.Option, n.Msg)
			}
			return nil
		},
		Open: func(_ context.Context, c store.Config) (store.Store, error) {
			opts, err := OptionsFromConfig(c)
			if err != nil {
				return nil, err
			}
			st, err := open(c.URL, opts, false) // Validate warned
			if err != nil {
				return nil, &store.ConfigError{Key: "url", Err: err}
			}
			return st, nil
		},
	}
}

// OptionsFromConfig is the mapping that Driver uses from the settings of one
// session manager or cache region to Options. An error is a
// *store.ConfigError naming the Params key.
func OptionsFromConfig(c store.Config) (Options, error) {
	opts := Options{
		Timeout: c.Timeout,
		Logger:  c.Logger,
		Cluster: strings.HasSuffix(c.Type, "rediscluster"),
	}
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.Params[k]
		var err error
		switch k {
		case ParamKeyPrefix:
			opts.KeyPrefix = v
		case ParamPoolSize:
			opts.PoolSize, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && opts.PoolSize < 0 {
				err = fmt.Errorf("must not be negative")
			}
		case ParamMaxRetries:
			opts.MaxRetries, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && opts.MaxRetries < -1 {
				err = fmt.Errorf("must be -1 (no retries) or more")
			}
		default:
			if strings.HasPrefix(k, "redis.") {
				err = fmt.Errorf("unknown key (known: %s, %s, %s)", ParamKeyPrefix, ParamPoolSize, ParamMaxRetries)
			}
		}
		if err != nil {
			return Options{}, &store.ConfigError{Key: k, Err: fmt.Errorf("%w: %s.%s = %q: %w", ErrInvalidOptions, use(c), k, v, err)}
		}
	}
	return opts, nil
}

func use(c store.Config) string {
	if c.Use == "" {
		return "session"
	}
	return c.Use
}
