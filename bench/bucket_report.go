package main

import (
	"fmt"
	"strings"
)

// Targets of the bucket restore against the same restore from the folder.
const (
	bucketCPUTarget  = 1.25 // client CPU, bucket over folder
	bucketWallTarget = 2.5  // wall time, bucket over folder
)

// medians of the runs of one size, where and snapshot mode.
type bucketMedians struct {
	n                              int
	wall, cpu, user, sys, rss      float64
	server, weed, other            float64
	wallS, cpuS, rssS, serverS, wS string
	hasServer, hasWeed, hasOther   bool
}

func (bs *bucketSize) medians(where string, snapshot bool) bucketMedians {
	var wall, cpu, user, sys, rss, server, weed, other []float64
	for _, r := range bs.Runs {
		if r.Where != where || r.Snapshot != snapshot || r.Round == 0 {
			continue
		}
		wall = append(wall, r.WallS)
		cpu = append(cpu, r.ClientCPUS)
		user = append(user, r.ClientUserS)
		sys = append(sys, r.ClientSysS)
		rss = append(rss, r.PeakRSSMiB)
		if r.ServerCPUS != nil {
			server = append(server, *r.ServerCPUS)
		}
		if r.WeedCPUS != nil {
			weed = append(weed, *r.WeedCPUS)
		}
		if r.OtherCPUS != nil {
			other = append(other, *r.OtherCPUS)
		}
	}
	return bucketMedians{
		n: len(wall), wall: median(wall), cpu: median(cpu), user: median(user), sys: median(sys), rss: median(rss),
		server: median(server), weed: median(weed), other: median(other),
		wallS: spread(wall, "%.2f"), cpuS: spread(cpu, "%.2f"), rssS: spread(rss, "%.0f"), serverS: spread(server, "%.2f"), wS: spread(weed, "%.2f"),
		hasServer: len(server) > 0, hasWeed: len(weed) > 0, hasOther: len(other) > 0,
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func (r *bucketResult) markdown(b *strings.Builder, rep *report) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("### Restore from a bucket (%s)\n\n", rep.profileLabel())
	p("The same truncating restore (`mcp-server restore --truncate-before-restore --yes --json`, a new process each time) of the same legacy set, from the local folder (`--backup-root DIR`, files in the page cache) and from a bucket on %s (`--backup-root 's3://BUCKET/PREFIX?region=us-east-1&endpoint=http://127.0.0.1:PORT&use_path_style=true'`, its data files in the page cache), alternating, %d %s; every run from full tables and verified. Client CPU: user+system of the mcp-server process (GNU time); PostgreSQL CPU: the cluster's, from /proc; store CPU: the weed process's utime+stime (and its children's), from /proc/<pid>/stat before and after.\n\n",
		r.Store, r.Rounds, plural(r.Rounds, "round"))
	p("| set | snapshot | backup root | median wall s (min-max) | client CPU s (user / sys) | peak RSS MiB | PostgreSQL CPU s | store CPU s | other CPU s |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	type target struct {
		set, snap     string
		cpuR, wallR   float64
		cpuOK, wallOK bool
	}
	var targets []target
	for _, bs := range r.Sizes {
		set := fmt.Sprintf("%s x %s (%.0f MiB)", thousands(bs.Rows), thousands(bs.Dims), bs.LegacyMiB)
		for _, snapshot := range []bool{false, true} {
			snap := "off"
			if snapshot {
				snap = "on"
			}
			f, k := bs.medians("folder", snapshot), bs.medians("bucket", snapshot)
			for _, x := range []struct {
				name string
				m    bucketMedians
			}{{"folder", f}, {"bucket", k}} {
				if x.m.n == 0 {
					continue
				}
				weed, other := "-", "n/a"
				if x.m.hasWeed {
					weed = x.m.wS
				}
				if x.m.hasOther {
					other = fmt.Sprintf("%.2f", x.m.other)
				}
				p("| %s | %s | %s | %s | %s (%.2f / %.2f) | %s | %s | %s | %s |\n", set, snap, x.name, x.m.wallS, x.m.cpuS, x.m.user, x.m.sys, x.m.rssS, x.m.serverS, weed, other)
			}
			if f.n > 0 && k.n > 0 {
				t := target{set: set, snap: snap, cpuR: k.cpu / f.cpu, wallR: k.wall / f.wall}
				t.cpuOK, t.wallOK = t.cpuR <= bucketCPUTarget, t.wallR <= bucketWallTarget
				targets = append(targets, t)
			}
		}
	}
	p("\nMedians, with min-max over the rounds in parentheses. The store CPU of a folder restore is the store idling. other CPU s: the machine's busy CPU during the run less client, PostgreSQL and store.\n\n")
	p("| set | snapshot | bucket / folder client CPU (target <= %.2f) | | bucket / folder wall (target <= %.1f) | |\n|---|---|---|---|---|---|\n", bucketCPUTarget, bucketWallTarget)
	for _, t := range targets {
		p("| %s | %s | %.2f | %s | %.2f | %s |\n", t.set, t.snap, t.cpuR, met(t.cpuOK), t.wallR, met(t.wallOK))
	}
	p("\nRatios of the medians.\n\n")
	if len(r.Requests) > 0 {
		p("#### S3 requests\n\nCounted by a reverse proxy on loopback in front of the store, in separate untimed runs (the proxy's CPU would otherwise count in a timed one):\n\n")
		p("| command | requests | by operation |\n|---|---|---|\n")
		for _, rc := range r.Requests {
			p("| %s | %d | %s |\n", rc.Name, rc.Total, rc)
		}
		p("\n")
	}
	if l := r.List; l != nil {
		p("#### list over %s sets in %s task prefixes (%s)\n\n", thousands(l.Sets), thousands(l.Locations), rep.Profile)
		p("The tree of the list section (`task_2025NNNN_000000/vector_bak/`, 5 sets of two small legacy CSV files each, the pipeline's log), %s objects, in the folder and uploaded to the bucket (%.0f s). The CLI: `mcp-server list --backup-root ROOT --json`, a new process each time, one warm-up run then %d timed. The list tool: `tools/call %s` with no arguments (the first page, default limit) to one `mcp-server serve --read-only` on stdio: its first call, then the median of %d more.\n\n",
			thousands(l.Objects), l.UploadS, len(l.CLI[0].Runs), listToolName, len(l.Tool[0].Calls))
		p("| case | median ms | min-max ms | peak RSS MiB | answer bytes | target < 1 s |\n|---|---|---|---|---|---|\n")
		for _, c := range l.CLI {
			p("| CLI, %s | %.0f | %.0f-%.0f | %.0f | %s | %s |\n", c.Name, c.MedianS*1000, c.MinS*1000, c.MaxS*1000, c.PeakRSSMiB, thousands(c.Bytes), met(c.MedianS < 1))
		}
		for _, t := range l.Tool {
			p("| list tool, %s: first call (server up after %.0f ms) | %.0f | | | | %s |\n", t.Name, t.StartMS, t.FirstMS, met(t.FirstMS < 1000))
			p("| list tool, %s: later calls | %.0f | %.0f-%.0f | | | %s |\n", t.Name, t.MedianMS, t.MinMS, t.MaxMS, met(t.MedianMS < 1000))
		}
		p("\n")
	}
}
