package main

import (
	"path/filepath"
	"testing"

	"github.com/gobeaker/beaker/internal/demotest"
)

// TestExamples builds the demo binary and, for every examples/*.ini whose
// store this environment can serve, starts it with -config and walks
// through the app over HTTP.
func TestExamples(t *testing.T) {
	bin := demotest.Build(t, "../..")
	files, err := filepath.Glob("../../examples/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			walkthrough(t, demotest.Start(t, bin, "-config", f))
		})
	}
	t.Run("built-in", func(t *testing.T) { walkthrough(t, demotest.Start(t, bin)) })
}
