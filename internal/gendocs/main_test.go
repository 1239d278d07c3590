package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckedInDocsAreCurrent fails when a flag or command changed but the
// man pages or completions in the repository were not regenerated.
func TestCheckedInDocsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	man, completions := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	if err := run(man, completions); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{man, "../../man"}, {completions, "../../completions"}} {
		generated, _ := filepath.Glob(filepath.Join(pair[0], "*"))
		committed, _ := filepath.Glob(filepath.Join(pair[1], "*"))
		if len(generated) != len(committed) {
			t.Errorf("%s has %d files, the generator writes %d: run make completions", pair[1], len(committed), len(generated))
		}
		for _, g := range generated {
			want, _ := os.ReadFile(g)
			got, err := os.ReadFile(filepath.Join(pair[1], filepath.Base(g)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s is out of date: run make completions", pair[1], filepath.Base(g))
			}
		}
	}
}
