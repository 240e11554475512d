package backupfile

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// Collections reads a collection file's uuid → name map. Collection
// files are small (one row per collection).
func Collections(ctx context.Context, f store.Object) (map[string]string, error) {
	r, err := Open(ctx, f, AllText)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	idCol, nameCol := slices.Index(r.Header(), "uuid"), slices.Index(r.Header(), "name")
	if idCol < 0 || nameCol < 0 {
		return nil, apierr.New(apierr.BackupCorrupt, "%s has no uuid and name columns (header: %s)", r.Name(), strings.Join(r.Header(), ", ")).
			With("file", r.Name())
	}
	out := map[string]string{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, r.Corrupt(err)
		}
		out[string(rec[idCol].Value)] = string(rec[nameCol].Value)
	}
}
