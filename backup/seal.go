package backup

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// sealKeyName is the file beneath the backup root that holds the key this
// server seals its manifests with. Replicas that share the root share it.
var sealKeyName = store.Join(layout.StateDir, "manifest_seal_key")

// sealKey returns the key for sealing manifests, creating it (32 random
// bytes) at first use with a conditional create: of two servers creating it
// at once, one wins and both use its key.
func sealKey(ctx context.Context, st store.Store) ([]byte, error) {
	for range 2 {
		data, err := store.ReadAll(ctx, st, sealKeyName, 32)
		if err == nil {
			if len(data) != 32 {
				break
			}
			return data, nil
		}
		if errors.Is(err, store.ErrTooBig) {
			break
		}
		if !errors.Is(err, store.ErrNotExist) {
			return nil, fmt.Errorf("read the manifest seal key: %w", err)
		}
		key := make([]byte, 32)
		rand.Read(key)
		err = store.WriteFile(ctx, st, sealKeyName, key)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, store.ErrExist) {
			return nil, fmt.Errorf("create the manifest seal key: %w", err)
		}
	}
	return nil, fmt.Errorf("the manifest seal key %s is not a 32-byte file; remove it and the server makes a new one (older snapshots are then kept, not pruned)", sealKeyName)
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
