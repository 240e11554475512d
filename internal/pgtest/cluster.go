package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private, throwaway PostgreSQL cluster for the tests that stop
// and restart the server: stopping the shared server of scripts/test.sh would
// break every other package's tests running against it at the same time.
//
// It runs from a fresh temp dir (initdb, trust auth, fsync off), on a unix
// socket in that dir and a random free port on 127.0.0.1. As root it runs as
// TEST_PG_OS_USER, since PostgreSQL refuses to run as root. It is stopped
// (immediate mode) and removed when the test ends.
type Cluster struct {
	t    testing.TB
	bin  string // PostgreSQL's bin directory
	user string // OS user to run it as; "" for the current user
	dir  string // root of everything: data/, sock/, server.log
	data string
	sock string
	port int

	// addressSpace, when positive, limits each server process's address
	// space (RLIMIT_AS, in bytes): a server that runs out of memory.
	addressSpace int64

	mu      sync.Mutex
	running bool
}

// ClusterOption changes how StartCluster starts the cluster.
type ClusterOption func(*Cluster)

// AddressSpace limits the address space of each of the cluster's processes
// to bytes (prlimit --as): allocations beyond it fail, as on a server out
// of memory.
func AddressSpace(bytes int64) ClusterOption {
	return func(c *Cluster) { c.addressSpace = bytes }
}

// StartCluster initializes and starts a private cluster. It needs the server
// binaries in TEST_PG_BIN: without it the test is skipped on a developer's
// machine and fails under CI=true, as with URL.
func StartCluster(t testing.TB, opts ...ClusterOption) *Cluster {
	t.Helper()
	bin := os.Getenv("TEST_PG_BIN")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_PG_BIN is not set: CI must run the tests through scripts/test.sh, which sets it")
		}
		t.Skip("TEST_PG_BIN is not set; run scripts/test.sh (or set TEST_PG_BIN=/usr/lib/postgresql/15/bin) to run the tests that stop and restart PostgreSQL")
	}
	c := &Cluster{t: t, bin: bin}
	for _, o := range opts {
		o(c)
	}
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		c.user = os.Getenv("TEST_PG_OS_USER")
		if c.user == "" {
			c.user = "postgres"
		}
		u, err := user.Lookup(c.user)
		if err != nil {
			t.Fatalf("PostgreSQL cannot run as root and the user to run it as is unknown: %v (set TEST_PG_OS_USER)", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}

	// Not t.TempDir(): its parent folder is private to the test's user, and
	// the cluster's user must be able to reach the data dir and the socket.
	// Short, too: a unix socket path must fit in 107 bytes.
	dir, err := os.MkdirTemp("", "pgtest-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // registered first, so it runs after the stop below
	c.dir, c.data, c.sock = dir, filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{c.data, c.sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		for _, p := range []string{dir, c.data, c.sock} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}

	if out, err := c.command("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		// Whatever the test left running (or half-stopped) goes, at once.
		c.command("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "-t", "60", "stop").CombinedOutput()
		c.running = false
	})

	// A free port now may be taken by the time the postmaster binds it
	// (another test, another cluster): try a few.
	var lastErr error
	for try := 0; try < 5; try++ {
		if c.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if lastErr = c.start(); lastErr == nil {
			return c
		}
	}
	t.Fatalf("start a private PostgreSQL cluster: %v", lastErr)
	return nil
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// command runs one of PostgreSQL's programs as the cluster's user.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	prog := filepath.Join(c.bin, name)
	if name == "pg_ctl" && c.addressSpace > 0 {
		// The postmaster inherits the limit from pg_ctl, and every
		// backend and worker from the postmaster.
		args = append([]string{"--as=" + strconv.FormatInt(c.addressSpace, 10), "--", prog}, args...)
		prog = "prlimit"
	}
	if c.user == "" {
		return exec.Command(prog, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.user, "--", prog}, args...)...)
}

func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }

// start runs the postmaster and waits until it accepts connections.
func (c *Cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// fsync off: an immediate stop kills processes, not the machine, so what
	// was written reaches the files through the OS anyway. Not
	// synchronous_commit=off: an immediate stop would lose the last commits
	// still in the WAL buffers, and the tests compare against them.
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100",
		c.sock, c.port)
	out, err := c.command("pg_ctl", "-D", c.data, "-l", c.logFile(), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s\nserver log:\n%s", c.port, err, out, c.tailLog())
	}
	c.running = true
	return nil
}

// tailLog is the end of the server's log, for failure messages.
func (c *Cluster) tailLog() string {
	b, _ := os.ReadFile(c.logFile())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Port is the TCP port the cluster listens on (the same across restarts).
func (c *Cluster) Port() int { return c.port }

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return c.data }

// URL returns the URL of database db on the cluster (TCP on 127.0.0.1, user
// postgres, no password).
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     fmt.Sprintf("127.0.0.1:%d", c.port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts the cluster down in fast mode: sessions are terminated, their
// transactions rolled back, and a shutdown checkpoint written.
func (c *Cluster) Stop() { c.StopMode("fast") }

// StopMode shuts the cluster down with pg_ctl stop -m mode ("smart",
// "fast" or "immediate", the last one a crash: the next start recovers).
func (c *Cluster) StopMode(mode string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.command("pg_ctl", "-D", c.data, "-m", mode, "-w", "-t", "60", "stop").CombinedOutput()
	if err != nil {
		c.t.Fatalf("pg_ctl stop -m %s: %v\n%s\nserver log:\n%s", mode, err, out, c.tailLog())
	}
	c.running = false
}

// Start starts a stopped cluster again, on the same port and data dir, and
// waits until it accepts connections (after crash recovery, if it was
// stopped in immediate mode).
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.start(); err != nil {
		c.t.Fatal(err)
	}
}

// Running reports whether the cluster was left running by the last Start or
// Stop.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// NewDatabase creates an empty database with the vector extension on the
// cluster and returns its URL. It is not dropped: the cluster goes with the
// test.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("connect to the private cluster: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t_%d_%08x", time.Now().UnixNano()%1e9, rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	db := c.URL(name)
	Exec(t, db, "CREATE EXTENSION vector")
	return db
}

// String names the cluster in logs.
func (c *Cluster) String() string {
	return "private PostgreSQL cluster at " + strings.TrimSuffix(c.URL(""), "/?sslmode=disable")
}
