package service

import "github.com/vectorops/pgvector-backup-mcp/catalog"

// SetOpenHooks lets tests act between finding a set's files and opening
// them (before), and between opening them and taking any lock (after).
func SetOpenHooks(s *Service, before, after func(catalog.Set)) {
	s.hooks.beforeOpen, s.hooks.afterOpen = before, after
}
