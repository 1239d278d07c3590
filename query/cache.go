package query

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cache keeps the decoded frames of capture and record files, one entry per
// file, keyed by the file's absolute path, size and modification time. An
// entry is three files named <path hash>-<key hash> plus a suffix:
//
//	.frames.parquet    the compact packets table of the file
//	.elements.parquet  its information element dictionary
//	.json              the manifest: source, size, time and counts
//
// The manifest is renamed into place last, so an entry without one is
// incomplete and is ignored. Several wifiq processes can share a cache: each
// writes under a temporary name and renames, and the last rename wins.
type Cache struct {
	Dir string
}

// DefaultCacheDir returns the cache directory under the user's cache
// directory ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("unable to find the user cache directory (%w); set --cache-dir", err)
	}
	return filepath.Join(base, "wifiq", "query"), nil
}

// manifest describes a cache entry.
type manifest struct {
	Version    string `json:"version"`
	Source     string `json:"source"`
	Records    bool   `json:"records"`
	Size       int64  `json:"size"`
	ModifiedNS int64  `json:"modified_ns"`
	Format     string `json:"format"`
	Frames     int    `json:"frames"`
	Malformed  int    `json:"malformed"`
	Skipped    int    `json:"skipped"`
}

// cacheEntry names the files of one entry.
type cacheEntry struct {
	base     string // directory and name without suffix
	pathHash string
	manifest manifest
}

func (e cacheEntry) framesPath() string   { return e.base + ".frames.parquet" }
func (e cacheEntry) elementsPath() string { return e.base + ".elements.parquet" }
func (e cacheEntry) manifestPath() string { return e.base + ".json" }

// entry returns the entry that a file with this path, size and
// modification time has, whether or not it exists yet.
func (c *Cache) entry(path string, records bool, info fs.FileInfo) cacheEntry {
	m := manifest{
		Version: schemaVersion, Source: path, Records: records,
		Size: info.Size(), ModifiedNS: info.ModTime().UnixNano(),
	}
	pathSum := sha256.Sum256([]byte(path))
	key := strings.Join([]string{m.Version, strconv.FormatBool(records), path,
		strconv.FormatInt(m.Size, 10), strconv.FormatInt(m.ModifiedNS, 10)}, "\x00")
	keySum := sha256.Sum256([]byte(key))
	pathHash := hex.EncodeToString(pathSum[:8])
	return cacheEntry{
		base:     filepath.Join(c.Dir, pathHash+"-"+hex.EncodeToString(keySum[:8])),
		pathHash: pathHash,
		manifest: m,
	}
}

// lookup returns the complete entry of a file, and false when there is
// none. A hit renews the entry's modification time, which pruning reads as
// its last use.
func (c *Cache) lookup(e cacheEntry) (cacheEntry, bool) {
	data, err := os.ReadFile(e.manifestPath())
	if err != nil {
		return e, false
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return e, false
	}
	want := e.manifest
	if m.Version != want.Version || m.Source != want.Source || m.Records != want.Records ||
		m.Size != want.Size || m.ModifiedNS != want.ModifiedNS {
		return e, false
	}
	for _, p := range []string{e.framesPath(), e.elementsPath()} {
		if _, err := os.Stat(p); err != nil {
			return e, false
		}
	}
	now := time.Now()
	os.Chtimes(e.manifestPath(), now, now)
	e.manifest = m
	return e, true
}

// tempPath returns a name to write a file of the entry under before it is
// renamed into place.
func tempPath(final string) string {
	return fmt.Sprintf("%s.tmp-%d-%d", final, os.Getpid(), time.Now().UnixNano())
}

// commit writes the manifest of an entry whose Parquet files are in place,
// then removes the older entries of the same source file.
func (c *Cache) commit(e cacheEntry) error {
	data, err := json.Marshal(e.manifest)
	if err != nil {
		return err
	}
	tmp := tempPath(e.manifestPath())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, e.manifestPath()); err != nil {
		os.Remove(tmp)
		return err
	}
	c.removeOlder(e)
	return nil
}

// removeOlder deletes the entries of the same path with another key: the
// versions of the file before it changed.
func (c *Cache) removeOlder(e cacheEntry) {
	matches, _ := filepath.Glob(filepath.Join(c.Dir, e.pathHash+"-*"))
	keep := filepath.Base(e.base) + "."
	for _, m := range matches {
		name := filepath.Base(m)
		if !strings.HasPrefix(name, keep) && !strings.Contains(name, ".tmp-") {
			os.Remove(m)
		}
	}
}

// Pruning limits: entries unused for maxUnused are removed, as are entries
// whose source file no longer exists (rotated ring files), at most once per
// pruneEvery. Temporary files older than maxTempAge are removed too: writing
// an entry of even a large capture takes well under an hour (about half a
// second for 1.7 million frames), so such a file was left by a process that
// stopped while writing.
const (
	maxUnused  = 30 * 24 * time.Hour
	pruneEvery = 24 * time.Hour
	maxTempAge = time.Hour
)

// Prune removes stale entries unless it ran less than a day ago. It returns
// the number of entries removed.
func (c *Cache) Prune(now time.Time) (int, error) {
	if _, err := os.Stat(c.Dir); errors.Is(err, fs.ErrNotExist) {
		return 0, nil // nothing was cached yet
	}
	marker := filepath.Join(c.Dir, "last-prune")
	if info, err := os.Stat(marker); err == nil && now.Sub(info.ModTime()) < pruneEvery {
		return 0, nil
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return 0, err
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, d := range entries {
		name := d.Name()
		path := filepath.Join(c.Dir, name)
		info, err := d.Info()
		if err != nil {
			continue
		}
		if strings.Contains(name, ".tmp-") {
			if now.Sub(info.ModTime()) > maxTempAge {
				os.Remove(path)
			}
			continue
		}
		if strings.HasSuffix(name, ".parquet") && now.Sub(info.ModTime()) > maxTempAge {
			// A Parquet file without a manifest belongs to an entry that was
			// never committed.
			base := strings.TrimSuffix(strings.TrimSuffix(path, ".frames.parquet"), ".elements.parquet")
			if _, err := os.Stat(base + ".json"); errors.Is(err, fs.ErrNotExist) {
				os.Remove(path)
			}
			continue
		}
		base, ok := strings.CutSuffix(path, ".json")
		if !ok {
			continue
		}
		if c.stale(path, info, now) {
			for _, suffix := range []string{".frames.parquet", ".elements.parquet", ".json"} {
				os.Remove(base + suffix)
			}
			removed++
		}
	}
	return removed, nil
}

// stale reports whether the entry with this manifest should go: unused for
// too long, unreadable, or of a source file that is gone.
func (c *Cache) stale(manifestPath string, info fs.FileInfo, now time.Time) bool {
	if now.Sub(info.ModTime()) > maxUnused {
		return true
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return false
	}
	var m manifest
	if json.Unmarshal(data, &m) != nil || m.Version != schemaVersion {
		return true
	}
	_, err = os.Stat(m.Source)
	return errors.Is(err, fs.ErrNotExist)
}
