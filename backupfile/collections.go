package backupfile

import (
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Collections reads a collection file's uuid → name map. Collection
// files are small (one row per collection).
func Collections(f *os.File) (map[string]string, error) {
	r, err := Open(f, AllText)
	if err != nil {
		return nil, err
	}
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
