package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/redisstore"
)

// Open makes its own client from a session.url value: one server, a
// Cluster ("h1:7000,h2:7001,h3:7002") or Sentinel
// ("redis+sentinel://s1:26379,s2:26379/mymaster/0").
func ExampleOpen() {
	s, err := redisstore.Open("redis://127.0.0.1:6379/0", redisstore.Options{
		KeyPrefix: "myapp:",
		Timeout:   time.Second,
	})
	if err != nil {
		log.Fatal(err) // a malformed URL; the server is first contacted below
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Set(ctx, "greeting", []byte("hello"), time.Hour); err != nil {
		log.Fatal(err) // the server is down, or ctx is done
	}
	e, found, err := s.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	// A read-modify-write that never loses a concurrent writer's change:
	// one round trip when nobody wrote since the Get.
	err = s.Update(ctx, "greeting", e, time.Hour, func(cur []byte, found bool) ([]byte, error) {
		return append(append([]byte(nil), cur...), ", world"...), nil
	})
	fmt.Println(found, err)
}

// New takes a client that the program already has; Close leaves it open.
func ExampleNew() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}, // a Cluster
	})
	defer client.Close()
	s := redisstore.New(client, redisstore.Options{})
	defer s.Close()

	// A lock that holds across processes, renewed while held.
	ctx := context.Background()
	lease, err := s.Lock(ctx, "rebuild-report", 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Release(ctx)
	select {
	case <-lease.Lost():
		log.Print("another process took the lock: stop")
	default:
		// ... work while holding the lock ...
	}
}

// Driver links Redis into beaker.Open, which then serves session.type =
// ext:redis (and ext:rediscluster) from the settings.
func ExampleDriver() {
	d := redisstore.Driver()
	s, err := d.Open(context.Background(), store.Config{
		Use:    "session",
		Type:   "ext:redis",
		URL:    "redis://127.0.0.1:6379/0",
		Params: map[string]string{"redis.pool_size": "50"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.(*redisstore.Store).Close()
	fmt.Println(d.Types)
	// Output: [ext:redis redis ext:rediscluster rediscluster]
}
