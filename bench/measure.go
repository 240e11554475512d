package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procStats is one timed command: wall time from the harness's monotonic
// clock, and from GNU time -v the child's peak RSS and user and system CPU.
type procStats struct {
	WallS     float64
	UserS     float64
	SysS      float64
	MaxRSSKiB int64
	ExitCode  int
	Stdout    []byte
	Stderr    []byte
}

// timed runs name args under /usr/bin/time -v, its stdout, stderr and the
// time report saved as logBase.stdout, .stderr and .time.
func timed(ctx context.Context, timeout time.Duration, logBase string, env []string, name string, args ...string) (*procStats, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	timeFile := logBase + ".time"
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v", "-o", timeFile, name}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	os.WriteFile(logBase+".stdout", stdout.Bytes(), 0o644)
	os.WriteFile(logBase+".stderr", stderr.Bytes(), 0o644)
	ps := &procStats{WallS: wall.Seconds(), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return nil, err
	}
	if parent.Err() != nil {
		return nil, fmt.Errorf("%s: interrupted", filepath.Base(name))
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: no end after %v", filepath.Base(name), timeout)
	}
	ps.ExitCode = cmd.ProcessState.ExitCode()
	report, err := os.ReadFile(timeFile)
	if err != nil {
		return nil, fmt.Errorf("GNU time wrote no report: %w", err)
	}
	if err := ps.parseTime(report); err != nil {
		return nil, fmt.Errorf("%s: %w", timeFile, err)
	}
	return ps, nil
}

func (ps *procStats) parseTime(report []byte) error {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "User time (seconds)":
			ps.UserS, err = strconv.ParseFloat(v, 64)
			found++
		case "System time (seconds)":
			ps.SysS, err = strconv.ParseFloat(v, 64)
			found++
		case "Maximum resident set size (kbytes)":
			ps.MaxRSSKiB, err = strconv.ParseInt(v, 10, 64)
			found++
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	if found != 3 {
		return errors.New("no user time, system time or maximum resident set size in GNU time's report")
	}
	return nil
}

// serverCPU reads the CPU time the PostgreSQL cluster has used: the
// postmaster's own utime+stime, plus its cutime+cstime (the CPU of every
// child it has reaped: the backends of finished sessions, exited workers),
// plus utime+stime+cutime+cstime of its live children (backends,
// checkpointer, WAL writer, background writer, ...). The difference before
// and after a run is the server's CPU for the run, background processes
// included.
type serverCPU struct {
	pid  int     // the postmaster's; 0: not measured
	tick float64 // clock ticks per second
}

func (s *serverCPU) init(pgdata string) error {
	if pgdata == "" {
		return errors.New("no --pgdata")
	}
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return fmt.Errorf("postmaster.pid: %w", err)
	}
	s.tick = clockTick()
	s.pid = pid
	if _, err := s.read(); err != nil {
		s.pid = 0
		return err
	}
	return nil
}

// read returns the cluster's CPU seconds so far; nil when not measured.
// A backend reaped while the children are being read would be counted
// twice or not at all, so the read is repeated until the postmaster's
// reaped-children total is the same before and after it.
func (s *serverCPU) read() (*float64, error) {
	if s.pid == 0 {
		return nil, nil
	}
	for try := 0; try < 10; try++ {
		pm, _, err := procStat(s.pid)
		if err != nil {
			return nil, fmt.Errorf("postmaster %d: %w", s.pid, err)
		}
		total := pm[0] + pm[1] + pm[2] + pm[3]
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == s.pid {
				continue
			}
			t, ppid, err := procStat(pid)
			if err != nil || ppid != s.pid {
				continue // gone, or not the postmaster's
			}
			total += t[0] + t[1] + t[2] + t[3]
		}
		again, _, err := procStat(s.pid)
		if err != nil {
			return nil, err
		}
		if again[2] == pm[2] && again[3] == pm[3] {
			v := float64(total) / s.tick
			return &v, nil
		}
	}
	return nil, errors.New("the postmaster kept reaping children while its CPU was read")
}

// procStat returns utime, stime, cutime, cstime (ticks) and the ppid of pid.
func procStat(pid int) (times [4]int64, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return times, 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return times, 0, errors.New("unreadable stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return times, 0, errors.New("short stat")
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return times, 0, err
	}
	for k := range times {
		if times[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return times, 0, err
		}
	}
	return times, ppid, nil
}

// machineBusy returns the CPU seconds all processes on the machine have
// used (user, nice, system, irq, softirq, steal from /proc/stat), so a run's
// "other CPU" (machine minus client minus server) shows what else ran.
func machineBusy(tick float64) (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("unreadable /proc/stat")
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return float64(busy) / tick, nil
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// clockTick is the kernel's clock ticks per second (USER_HZ).
func clockTick() float64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if t, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && t > 0 {
			return t
		}
	}
	return 100
}

// cpuSpent is PostgreSQL's CPU over a run, and the whole machine's busy
// time, when both could be read.
type cpuSpent struct {
	server    *float64
	busy      float64
	busyKnown bool
}

// of is the server's CPU and the rest of the machine's (neither the server
// nor the client's clientCPU), nil where unknown.
func (c cpuSpent) of(clientCPU float64) (server, other *float64) {
	if c.server == nil {
		return nil, nil
	}
	v := *c.server
	if !c.busyKnown {
		return &v, nil
	}
	o := max(0, c.busy-v-clientCPU)
	return &v, &o
}

// runTimed runs one timed child (see timed), waits for the database to
// settle, and measures PostgreSQL's CPU and the machine's over it; a child
// that fails is an error with the tail of its output.
func (b *bencher) runTimed(ctx context.Context, base, name string, args ...string) (*procStats, cpuSpent, error) {
	var cpu cpuSpent
	before, err := b.server.read()
	if err != nil {
		return nil, cpu, err
	}
	busyBefore, busyErr := machineBusy(b.tick)
	ps, err := timed(ctx, b.cfg.timeout, base, os.Environ(), name, args...)
	if err != nil {
		return nil, cpu, err
	}
	if err := b.db.waitIdle(ctx); err != nil {
		return nil, cpu, err
	}
	busyAfter, err := machineBusy(b.tick)
	if busyErr == nil {
		busyErr = err
	}
	after, err := b.server.read()
	if err != nil {
		return nil, cpu, err
	}
	if ps.ExitCode != 0 {
		return nil, cpu, fmt.Errorf("%s exited with status %d:\n%s%s", filepath.Base(name), ps.ExitCode, tail(ps.Stdout), tail(ps.Stderr))
	}
	if before != nil && after != nil {
		v := *after - *before
		cpu.server = &v
		cpu.busy, cpu.busyKnown = busyAfter-busyBefore, busyErr == nil
	}
	return ps, cpu, nil
}
