package cache_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/store/memstore"
)

func ExampleGetOrCreate() {
	// cache.regions = short_term; cache.short_term.expire = 60 (type memory).
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{
		{Name: "short_term", Expire: 60 * time.Second},
	}})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	r, _ := m.Region("short_term")

	calls := 0
	loadUser := func(ctx context.Context) (string, error) {
		calls++
		return "Ada Lovelace", nil // a slow query in real life
	}
	ctx := context.Background()
	for range 3 {
		name, err := cache.GetOrCreate(ctx, r, "user:42", loadUser)
		fmt.Println(name, err)
	}
	fmt.Println("creator calls:", calls)
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// Ada Lovelace <nil>
	// Ada Lovelace <nil>
	// Ada Lovelace <nil>
	// creator calls: 1
	// {Hits:2 Misses:1 StaleServed:0 CreatorRuns:1 CreatorErrors:0 LockWaits:0}
}

func ExampleMemoize1() {
	// A region on a shared store: values are stored as JSON, and the store's
	// Locker makes one creator run across every process that shares it.
	st := memstore.New(memstore.Options{})
	defer st.Close()
	m, err := cache.New(cache.Options{Regions: []cache.RegionOptions{
		{Name: "long_term", Store: st, Expire: time.Hour},
	}})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	r, _ := m.Region("long_term")

	upper := cache.Memoize1(r, "upper", func(ctx context.Context, s string) (string, error) {
		fmt.Println("computing", s)
		return strings.ToUpper(s), nil
	})
	ctx := context.Background()
	v, _ := upper.Get(ctx, "beaker")
	fmt.Println(v)
	v, _ = upper.Get(ctx, "beaker") // cached
	fmt.Println(v)
	_ = upper.Invalidate(ctx, "beaker")
	v, _ = upper.Get(ctx, "beaker")
	fmt.Println(v)
	// Output:
	// computing beaker
	// BEAKER
	// BEAKER
	// computing beaker
	// BEAKER
}
