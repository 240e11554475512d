package s3test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Store is a private, throwaway SeaweedFS store for the tests that kill,
// pause and restart the store: doing that to the shared store of
// scripts/test.sh would break every other package's tests using it at the
// same time (go test runs packages in parallel).
//
// It runs `weed mini` (TEST_S3_WEED_BIN) from a fresh temp dir, with every
// listener on a random free port of 127.0.0.1, telemetry, WebDAV, the admin
// UI, the Iceberg and Lance catalogs and the creation of a bucket on a
// first write off, and one bucket. It uses the
// shared store's keys (TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY), so the
// credentials in the environment fit both. It is killed and removed when
// the test ends.
//
// Two ways to make it fail under a client:
//
//   - Stop kills the process (SIGKILL): open connections are reset at once,
//     so a read in progress fails with a connection reset or an unexpected
//     EOF, and new requests are refused (connection refused) until Start.
//     This is "the store dies in the middle of a read". Start runs it again
//     on the same data dir, ports and keys (about 4 s); what it had stored
//     is still there (a killed process loses nothing the OS was given).
//   - Pause stops the process (SIGSTOP) without closing anything: requests
//     in flight and new ones (the kernel still accepts connections) hang
//     until Resume (SIGCONT) or the client's own deadline. This is "the store
//     hangs"; a client without a deadline waits forever.
type Store struct {
	t      testing.TB
	bin    string
	dir    string
	bucket string
	ak, sk string
	ports  []int // master, master grpc, volume, volume grpc, filer, filer grpc, s3, s3 grpc, admin, admin grpc

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has ended
	paused bool
}

// StartStore starts a private store and waits until it answers. It needs
// TEST_S3_WEED_BIN and the shared store's keys: without them the test is
// skipped, or fails when CI=true.
func StartStore(t testing.TB) *Store {
	t.Helper()
	s := &Store{t: t, bin: need(t, "TEST_S3_WEED_BIN"), bucket: "mcp-test"}
	s.ak, s.sk = Credentials(t)
	dir, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) }) // registered first, so it runs after the kill below
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.kill()
		s.removeSockets()
	})
	var lastErr error
	for try := 0; try < 5; try++ {
		if s.ports, err = freePorts(10); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
			t.Fatal(err)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
		s.removeSockets()
	}
	t.Fatalf("start a private S3 store: %v", lastErr)
	return nil
}

// freePorts returns n distinct ports of 127.0.0.1, each free on every
// address a moment ago, from 20000-32767: private, and below Linux's
// ephemeral range, from which outgoing connections take theirs.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("found no free ports in 20000-32767")
		}
		p := 20000 + rand.IntN(12768)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// Endpoint is the store's S3 endpoint, http://127.0.0.1:PORT (the same
// across restarts).
func (s *Store) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(s.ports[6]) }

// Bucket is the store's one bucket.
func (s *Store) Bucket() string { return s.bucket }

// Dir is the store's folder: data/ and weed.log.
func (s *Store) Dir() string { return s.dir }

// NewPrefix is the package's NewPrefix for this store.
func (s *Store) NewPrefix(t testing.TB) string {
	t.Helper()
	setCredentials(t, s.ak, s.sk)
	return prefixURL(s.bucket, uniquePrefix(t), s.Endpoint())
}

func (s *Store) logFile() string { return filepath.Join(s.dir, "weed.log") }

// tailLog is the end of weed's log, for failure messages.
func (s *Store) tailLog() string {
	b, _ := os.ReadFile(s.logFile())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// start runs weed and waits (up to a minute) until the S3 endpoint answers
// an authenticated request on the bucket.
func (s *Store) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("the store is already running")
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "data"), 0o700); err != nil {
		return err
	}
	log, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	p := s.ports
	cmd := exec.Command(s.bin, "mini",
		"-dir="+filepath.Join(s.dir, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-bucket="+s.bucket, "-master.telemetry=false", "-admin.ui=false",
		"-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.autoCreateBucket=false",
		fmt.Sprintf("-master.port=%d", p[0]), fmt.Sprintf("-master.port.grpc=%d", p[1]),
		fmt.Sprintf("-volume.port=%d", p[2]), fmt.Sprintf("-volume.port.grpc=%d", p[3]),
		fmt.Sprintf("-filer.port=%d", p[4]), fmt.Sprintf("-filer.port.grpc=%d", p[5]),
		fmt.Sprintf("-s3.port=%d", p[6]), fmt.Sprintf("-s3.port.grpc=%d", p[7]),
		fmt.Sprintf("-admin.port=%d", p[8]), fmt.Sprintf("-admin.port.grpc=%d", p[9]), "-admin.port.legacy=0",
		"-filer.localSocket="+filepath.Join(s.dir, "filer.sock"), "-s3.localSocket="+filepath.Join(s.dir, "s3.sock"),
	)
	cmd.Dir = s.dir
	// A clean environment: no WEED_* variable or ~/.seaweedfs configuration
	// of the caller's reaches it.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir,
		"AWS_ACCESS_KEY_ID=" + s.ak, "AWS_SECRET_ACCESS_KEY=" + s.sk}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not in the test's process group: a ^C goes to the test only
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.paused = cmd, exited, false

	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("weed mini ended while starting (ports %v); its log:\n%s", p, s.tailLog())
		default:
		}
		if code, err := s.request(http.MethodGet, "/"+s.bucket, "list-type=2&max-keys=1", 2*time.Second); err == nil && code == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("weed mini did not answer within a minute (ports %v); its log:\n%s", p, s.tailLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the process (SIGKILL, which also ends a paused one) and waits
// for it. s.mu is held.
func (s *Store) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.paused = nil, false
}

// removeSockets removes the unix sockets weed makes beside each gRPC port,
// always in /tmp (not configurable), and leaves behind when killed. (A
// restart on the same ports replaces them.)
func (s *Store) removeSockets() {
	for i, name := range []string{"master", "volume", "filer", "s3", "admin"} {
		os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, s.ports[2*i+1]))
	}
}

// Stop kills the store (SIGKILL) and waits until the process has ended.
func (s *Store) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Start starts a stopped store again, on the same data dir, ports and keys,
// and waits until it answers.
func (s *Store) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Pause freezes the store (SIGSTOP): its sockets stay open, nothing answers.
func (s *Store) Pause() { s.signal(syscall.SIGSTOP, true) }

// Resume lets a paused store go on (SIGCONT).
func (s *Store) Resume() { s.signal(syscall.SIGCONT, false) }

func (s *Store) signal(sig syscall.Signal, paused bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("%v: the store is not running", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("%v: %v", sig, err)
	}
	s.paused = paused
}

// Running reports whether the store's process is running (paused or not).
func (s *Store) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// request sends one SigV4-signed request without a body and returns the
// status code.
func (s *Store) request(method, path, rawQuery string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := signedRequest(ctx, method, s.Endpoint(), path, rawQuery, nil, s.ak, s.sk, time.Now())
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
