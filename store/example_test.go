package store_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memstore"
)

// An Updater applies a change atomically: concurrent updates of one key,
// from this process or (on a network store) from others, each see the
// value the last one wrote. Here, a counter.
func ExampleUpdater() {
	var s interface {
		store.Store
		store.Updater
	} = memstore.New(memstore.Options{})
	ctx := context.Background()
	incr := func(cur []byte, found bool) ([]byte, error) {
		n := 0
		if found {
			n, _ = strconv.Atoi(string(cur))
		}
		return strconv.AppendInt(nil, int64(n+1), 10), nil
	}
	for range 3 {
		// A zero Entry: the store reads the current value itself.
		if err := s.Update(ctx, "hits", store.Entry{}, time.Hour, incr); err != nil {
			fmt.Println(err)
		}
	}
	e, found, err := s.Get(ctx, "hits")
	fmt.Println(string(e.Value), found, err)
	// Output: 3 true <nil>
}
