package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/authhost/authhost/internal/config"
	badgerstore "github.com/authhost/authhost/store/badger"
)

// dataDirFlags resolves the data dir from --config and --data-dir the way
// serve does.
func dataDirFlags(fs *flag.FlagSet) func() (string, error) {
	cfgFile := fs.String("config", "", "YAML config file (its data_dir)")
	dataDir := fs.String("data-dir", "", "data directory (overrides the config)")
	return func() (string, error) {
		cfg := config.Defaults()
		if *cfgFile != "" {
			var err error
			if cfg, err = config.Load(*cfgFile, nil); err != nil {
				return "", err
			}
		}
		if *dataDir != "" {
			cfg.DataDir = *dataDir
		}
		return cfg.DataDir, nil
	}
}

// openStore opens the badger store of a data dir for a maintenance
// command, saying what to do when the server holds it.
func openStore(dataDir string) (*badgerstore.Store, error) {
	dir := filepath.Join(dataDir, "store")
	st, err := badgerstore.Open(dir, badgerstore.Options{Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%s is in use by a running server: stop it first", dir)
		}
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return st, nil
}

// cmdBackup writes a consistent snapshot of the data dir's store.
func cmdBackup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := dataDirFlags(fs)
	out := fs.String("out", "", "backup file to create (never overwritten)")
	pos, err := parseArgs(fs, args, "backup [--config FILE | --data-dir DIR] --out FILE", stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *out == "" {
		return usageError{"backup: want --out FILE and no arguments"}
	}
	dir, err := dataDir()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	st, err := openStore(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer st.Close()
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	version, err := st.Backup(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(*out)
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (version %d)\n", dir, *out, version)
	return nil
}

// cmdRestore loads a backup into a data dir whose store is empty or absent.
func cmdRestore(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	dataDir := dataDirFlags(fs)
	pos, err := parseArgs(fs, args, "restore [--config FILE | --data-dir DIR] BACKUP", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"restore: want exactly one BACKUP file"}
	}
	dir, err := dataDir()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	st, err := openStore(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer st.Close()
	if err := st.Restore(ctx, f); err != nil {
		if errors.Is(err, badgerstore.ErrNotEmpty) {
			return fmt.Errorf("restore: %s already holds data: restore into a new data dir", dir)
		}
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", pos[0], dir)
	return nil
}
