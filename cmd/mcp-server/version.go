package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version and build",
		Example: `  mcp-server version`,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(a.stdout, "mcp-server %s (%s, %s %s/%s)\n", version(), build(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// build names the commit the binary was built from, when Go recorded it.
func build() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "no build information"
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return "commit unknown"
	}
	return fmt.Sprintf("commit %.12s %s%s", rev, at, modified)
}
