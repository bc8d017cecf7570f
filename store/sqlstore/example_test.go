package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/gobeaker/beaker/store"
	"github.com/gobeaker/beaker/store/sqlstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// session.type = ext:database
	// session.url = sqlite:///%(here)s/sessions.db  (or postgresql://user@host/db)
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{
		URL: "sqlite:///" + filepath.Join(dir, "sessions.db"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Set(ctx, "session:abc", []byte(`{"n":1}`), time.Hour); err != nil {
		log.Fatal(err)
	}
	// A read-modify-write: one conditional UPDATE, since last has a version.
	last, _, err := s.Get(ctx, "session:abc")
	if err != nil {
		log.Fatal(err)
	}
	err = s.Update(ctx, "session:abc", last, time.Hour, func(cur []byte, found bool) ([]byte, error) {
		return []byte(`{"n":2}`), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	e, _, _ := s.Get(ctx, "session:abc")
	fmt.Println(string(e.Value))
	// Output: {"n":2}
}

// A program links the SQL store into beaker.Open by passing its driver.
func ExampleDriver() {
	d := sqlstore.Driver()
	s, err := d.Open(context.Background(), store.Config{Use: "session", Type: "ext:database", URL: "sqlite://"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.(*sqlstore.Store).Close()
	fmt.Println(d.Types)
	// Output: [ext:database database sqlite postgresql]
}
