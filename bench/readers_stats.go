package main

// The readers section's statistics: latencies per window and what a
// reader saw.

import (
	"fmt"
	"math"
	"slices"
)

// latStats are latencies in milliseconds; nearest-rank percentiles.
type latStats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// windowStats are both queries' latencies in one window.
type windowStats struct {
	Count latStats `json:"count"`
	KNN   latStats `json:"knn"`
}

func window(samples []readSample, in func(s *readSample) bool) windowStats {
	var c, k []float64
	for i := range samples {
		s := &samples[i]
		if !in(s) {
			continue
		}
		if s.CountMS >= 0 {
			c = append(c, s.CountMS)
		}
		if s.KNNMS >= 0 {
			k = append(k, s.KNNMS)
		}
	}
	return windowStats{Count: latencyStats(c), KNN: latencyStats(k)}
}

func latencyStats(v []float64) latStats {
	if len(v) == 0 {
		return latStats{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	rank := func(p float64) float64 { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return latStats{N: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

// readerRun is one restore with the reader running.
type readerRun struct {
	Round      int     `json:"round"`
	Mode       string  `json:"mode"`
	WallS      float64 `json:"wall_s"`
	ReportedS  float64 `json:"reported_duration_s"` // the restore's own duration, until its commit
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	ClientCPUS float64 `json:"client_cpu_s"`
	LoadAvg1   float64 `json:"load_avg_1m_before"`

	Baseline windowStats `json:"baseline"` // reads that ended before the restore started
	During   windowStats `json:"during"`   // reads that overlapped the restore
	After    windowStats `json:"after"`    // reads that started after it ended

	Reads       int `json:"reads"`
	ReadsDuring int `json:"reads_during"`
	// Counts seen by all reads, count -> reads (-1: the count failed).
	Counts map[int64]int `json:"counts_seen"`
	// KNN answers of all reads: before, after, other, failed -> reads.
	KNN map[string]int `json:"knn_answers"`
	// BadReads saw a count other than before's or after's, or a kNN answer
	// neither all before's nor all after's.
	BadReads int      `json:"bad_reads"`
	Errors   int      `json:"errors"`
	FirstErr []string `json:"first_errors,omitempty"`
	Verified bool     `json:"verified"`
}

// readerMode is one mode's medians over the rounds.
type readerMode struct {
	Mode        string         `json:"mode"`
	WallS       float64        `json:"median_wall_s"`
	ReportedS   float64        `json:"median_reported_duration_s"`
	During      windowStats    `json:"median_during"`
	Baseline    windowStats    `json:"median_baseline"`
	ReadsDuring float64        `json:"median_reads_during"`
	Counts      []int64        `json:"counts_seen"`
	KNN         map[string]int `json:"knn_answers"`
	BadReads    int            `json:"bad_reads"`
	Errors      int            `json:"errors"`
}

// readerCheck is one target, PASS or FAIL; a Fatal FAIL fails the benchmark.
type readerCheck struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
	Fatal    bool   `json:"fatal"`
}

// readersResult is the section.
type readersResult struct {
	Rows        int            `json:"rows"`
	Dims        int            `json:"dims"`
	Rounds      int            `json:"rounds"`
	Collection  string         `json:"collection"`
	CountBefore int64          `json:"count_before"`
	CountAfter  int64          `json:"count_after"`
	LegacyMiB   float64        `json:"set_b_legacy_mib"`
	Queries     []string       `json:"queries"`
	Runs        []*readerRun   `json:"runs"`
	Modes       []*readerMode  `json:"modes"`
	Checks      []*readerCheck `json:"checks"`
}

// consistencyErr is non-nil when a reader saw a state other than before or
// after the restore.
func (r *readersResult) consistencyErr() error {
	for _, c := range r.Checks {
		if c.Fatal && !c.Pass {
			return fmt.Errorf("readers during a restore: %s: %s", c.Name, c.Measured)
		}
	}
	return nil
}
