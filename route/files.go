package route

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files writes each destination to DIR/NAME.jsonl, one record per line.
type Files struct {
	dir     string
	writers map[string]*bufio.Writer
	files   []*os.File
}

// CreateFiles creates (or truncates) one file per destination in dir, so
// that a destination without records still has its empty file.
func CreateFiles(dir string, destinations []string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create the output directory: %w", err)
	}
	fs := &Files{dir: dir, writers: map[string]*bufio.Writer{}}
	for _, name := range destinations {
		if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			fs.Close()
			return nil, &InvalidNameError{Name: name}
		}
		f, err := os.Create(fs.Path(name))
		if err != nil {
			fs.Close()
			return nil, fmt.Errorf("unable to create the file of route %s: %w", name, err)
		}
		fs.files = append(fs.files, f)
		fs.writers[name] = bufio.NewWriterSize(f, 64*1024)
	}
	return fs, nil
}

// Path returns the file of a destination.
func (fs *Files) Path(name string) string { return filepath.Join(fs.dir, name+".jsonl") }

// Write appends a line to the file of dest.
func (fs *Files) Write(dest string, line []byte) error {
	w, ok := fs.writers[dest]
	if !ok {
		return fmt.Errorf("no file for route %s", dest)
	}
	_, err := w.Write(line)
	return err
}

// Close flushes and closes every file and returns the first error.
func (fs *Files) Close() error {
	var errs []error
	for _, w := range fs.writers {
		errs = append(errs, w.Flush())
	}
	for _, f := range fs.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// InvalidNameError reports a route name that cannot name a file in the
// output directory.
type InvalidNameError struct{ Name string }

func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("invalid route name %q: it names a file in the output directory, so it may not contain a slash", e.Name)
}
