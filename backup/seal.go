package backup

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// sealKeyName is the file beneath the backup root that holds the key this
// server seals its manifests with. Replicas that share the root share it.
var sealKeyName = path.Join(layout.StateDir, "manifest_seal_key")

// sealKey returns the key for sealing manifests, creating it (32 random
// bytes, readable by the server's user only) at first use. It must be a
// regular file the server made, not a link.
func sealKey(root *os.Root) ([]byte, error) {
	key := make([]byte, 32)
	if err := stateDir(root); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(sealKeyName, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err == nil {
		rand.Read(key)
		_, err = f.Write(key)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			root.Remove(sealKeyName)
			return nil, fmt.Errorf("create the manifest seal key: %w", err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create the manifest seal key: %w", err)
	}
	f, err = root.OpenFile(sealKeyName, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read the manifest seal key: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(key)) {
		return nil, fmt.Errorf("the manifest seal key %s is not a 32-byte file; remove it and the server makes a new one (older snapshots are then kept, not pruned)", sealKeyName)
	}
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("read the manifest seal key: %w", err)
	}
	return key, nil
}

// seal is the manifest's seal under key: an HMAC of its JSON form without
// the seal itself. Only this server (or a replica sharing its root) can make
// it, so a manifest a person or another program wrote cannot pass for one
// of the server's snapshots.
func seal(key []byte, m *layout.Manifest) string {
	unsealed := *m
	unsealed.Seal = ""
	b, _ := json.Marshal(unsealed) // plain strings, numbers and maps
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return hex.EncodeToString(mac.Sum(nil))
}

// sealed reports whether m carries a valid seal under key.
func sealed(key []byte, m *layout.Manifest) bool {
	want, err := hex.DecodeString(m.Seal)
	if err != nil || m.Seal == "" {
		return false
	}
	got, _ := hex.DecodeString(seal(key, m))
	return hmac.Equal(got, want)
}

// stateDir makes sure the server's state folder is a folder beneath root,
// not a link to one elsewhere.
func stateDir(root *os.Root) error {
	err := root.Mkdir(layout.StateDir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		var fi fs.FileInfo
		if fi, err = root.Lstat(layout.StateDir); err == nil && !fi.IsDir() {
			err = errors.New("it is not a folder (a link or a file is in its place)")
		}
	}
	if err != nil {
		return fmt.Errorf("the server's state folder %s: %w", layout.StateDir, err)
	}
	return nil
}
