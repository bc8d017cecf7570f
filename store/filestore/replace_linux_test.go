package filestore

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestReplace: the new file takes the record's place whether or not there
// was one, and the previous record does not stay behind.
func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.rec")
	var noSwap atomic.Bool
	for i, v := range []string{"first", "second", "third"} {
		tmp, err := writeTemp(dir, "r", []byte(v), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := replace(tmp, path, &noSwap); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != v {
			t.Fatalf("write %d: record %q, %v; want %q", i, b, err, v)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("write %d: %d files in the folder, want 1", i, len(ents))
		}
		if noSwap.Load() {
			t.Logf("the file system of %s cannot swap names: replace renames", dir)
		}
	}
}

// BenchmarkReplace is a write of a small record (the temporary file and
// the step that puts it in place) with a plain rename over the record and
// with the swap that replace makes, on the disk of the test's temporary
// folder. On ext4 the rename is several times dearer: see the package doc.
// Run each case alone: the disk is still busy with the writes of one when
// the next starts.
func BenchmarkReplace(b *testing.B) {
	data := make([]byte, 124)
	for _, c := range []struct {
		name string
		put  func(tmp, path string) error
	}{{"rename", rename}, {"exchange", func(tmp, path string) error {
		var noSwap atomic.Bool
		return replace(tmp, path, &noSwap)
	}}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "r.rec")
			for b.Loop() {
				tmp, err := writeTemp(dir, "r", data, false)
				if err == nil {
					err = c.put(tmp, path)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
