package filestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/gobeaker/beaker/store/filestore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// session.type = file, session.data_dir = dir (lock_dir defaults to dir/lock)
	s, err := filestore.New(filestore.Options{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Set(ctx, "session:abc", []byte(`{"user":"gopher"}`), time.Hour); err != nil {
		log.Fatal(err)
	}
	// A second process (here: a second Store) on the same folder sees it.
	other, _ := filestore.New(filestore.Options{DataDir: dir})
	e, found, err := other.Get(ctx, "session:abc")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found, string(e.Value))
	// Output: true {"user":"gopher"}
}
