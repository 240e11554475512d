// Command mcp-server serves the vector backup tools over MCP: on stdio
// (stdout carries the protocol only, logs go to stderr), or with --http on
// one port together with the old Python service's REST API.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is not set: the collector works harder as the heap nears it, which keeps
// the peak of several large reads at once (each bounded by backupfile, and
// at most service.DefaultReaders of them) well under the server's ceiling.
// It never refuses memory.
const defaultMemoryLimit = 320 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv))
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
