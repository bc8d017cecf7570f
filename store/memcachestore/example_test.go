package memcachestore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/memcachestore"
)

// Open takes session.url as Beaker spells it: servers separated by ';'.
func ExampleOpen() {
	s, err := memcachestore.Open("10.0.0.1:11211;10.0.0.2:11211", memcachestore.Options{
		Timeout:      time.Second,
		MaxIdleConns: 128, // at least the number of concurrent requests
	})
	if err != nil {
		log.Fatal(err) // a malformed server list; the servers are first contacted below
	}
	defer s.Close()

	ctx := context.Background()
	e, found, err := s.Get(ctx, "session:abc")
	if err != nil {
		log.Fatal(err) // the server holding this key is down
	}
	// A read-modify-write through "cas" on the version that Get returned:
	// a concurrent writer's change is never lost.
	err = s.Update(ctx, "session:abc", e, 30*time.Minute, func(cur []byte, found bool) ([]byte, error) {
		return append(append([]byte(nil), cur...), '!'), nil
	})
	fmt.Println(found, err)
}

// New takes a client that the program already has.
func ExampleNew() {
	client := memcache.New("127.0.0.1:11211")
	client.MaxIdleConns = 100
	s, err := memcachestore.New(client, memcachestore.Options{KeyPrefix: "myapp:"})
	if err != nil {
		log.Fatal(err) // a key prefix that memcached cannot take
	}
	defer s.Close()

	// A lock that holds across processes, renewed while held.
	ctx := context.Background()
	lease, err := s.Lock(ctx, "rebuild-report", 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Release(ctx)
}

// Driver links memcached into beaker.Open, which then serves session.type =
// ext:memcached from the settings.
func ExampleDriver() {
	d := memcachestore.Driver()
	s, err := d.Open(context.Background(), store.Config{
		Use:    "session",
		Type:   "ext:memcached",
		URL:    "127.0.0.1:11211;127.0.0.1:11212",
		Params: map[string]string{"memcached.max_idle_conns": "200"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.(*memcachestore.Store).Close()
	fmt.Println(d.Types)
	// Output: [ext:memcached memcached]
}
