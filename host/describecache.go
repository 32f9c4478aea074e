package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/authhost/authhost/abi"
)

// describeFormat versions the describe cache's records; a host that reads
// a record of another format (or abi version) ignores it.
const describeFormat = 1

// describeDir is the describe cache's directory under Config.CacheDir.
const describeDir = "describe"

// describeRecord is what a successful load learned about a plugin file:
// enough to load it again, while nothing selects it, without compiling
// it. It is valid for one file (SHA256), one host (Format, ABI) and one
// effective configuration of the plugin (Config): describe, the
// configured describe and authhost_configure's verdict all depend on it.
type describeRecord struct {
	Format   int          `json:"format"`
	ABI      string       `json:"abi"`
	SHA256   string       `json:"sha256"`
	Config   string       `json:"config"`
	Describe abi.Describe `json:"describe"`
	Exports  []string     `json:"exports"`
}

// configKey returns the hash of what, beside the file, decides a load's
// outcome for a plugin: its effective configuration and the engine.
func (m *Manager) configKey(pc PluginConfig) (string, error) {
	raw, err := json.Marshal(struct {
		Engine string
		Plugin PluginConfig
		Def    Limits
	}{m.cfg.Engine, pc, m.cfg.Defaults})
	if err != nil {
		return "", fmt.Errorf("host: describe cache: %w", err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// describePath returns the record's file for a plugin file's digest, or
// "" when there is no cache directory.
func (m *Manager) describePath(digest string) string {
	if m.cfg.CacheDir == "" {
		return ""
	}
	return filepath.Join(m.cfg.CacheDir, describeDir, digest+".json")
}

// cachedDescribe returns the record of the file with this digest when one
// was written by this host format for this abi version; ok is false
// otherwise (no cache, no record, unreadable or stale: the caller then
// compiles).
func (m *Manager) cachedDescribe(digest string) (rec describeRecord, ok bool) {
	path := m.describePath(digest)
	if path == "" {
		return rec, false
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.cfg.Logger.Warn("describe cache: read", "file", path, "err", err)
		}
		return rec, false
	}
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Format != describeFormat || rec.ABI != abi.Version || rec.SHA256 != digest {
		return describeRecord{}, false
	}
	return rec, true
}

// storeDescribe writes the record of a plugin that loaded (atomically: a
// concurrent reader sees the old record or the new one). Failing to write
// costs only a compile at the next start, so it is logged, not returned.
func (m *Manager) storeDescribe(p *Plugin, cfgKey string) {
	path := m.describePath(p.sha256)
	if path == "" {
		return
	}
	raw, err := json.Marshal(describeRecord{
		Format: describeFormat, ABI: abi.Version, SHA256: p.sha256, Config: cfgKey,
		Describe: p.desc, Exports: slices.Sorted(maps.Keys(p.exports)),
	})
	if err == nil {
		err = writeFileAtomic(path, raw)
	}
	if err != nil {
		m.cfg.Logger.Warn("describe cache: write", "file", path, "err", err)
	}
}

// writeFileAtomic writes raw to path through a temporary file and a
// rename, creating the directory.
func writeFileAtomic(path string, raw []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
