package layout

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LogName is the folder's backup log, which each backup overwrites, as the
// old pipeline did: it describes only the set whose file names it mentions.
const LogName = "vector_backup_log.txt"

// MaxLogBytes caps how much of a log is read. The pipeline's logs are a few
// hundred bytes; anything far bigger is not one of them.
const MaxLogBytes = 1 << 20

// FormatLog writes a set's log in the old pipeline's format, which the old
// tools and ParseLog read row counts from.
func FormatLog(m *Manifest, task string, took time.Duration) string {
	if task == "" {
		task = "global"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "=== Vector Table Backup Log ===\nBackup Time: %s\nTask ID: %s\nDuration: %.2fs\n\nTables Backup Status:\n",
		Date(m.Timestamp), task, took.Seconds())
	for _, table := range Tables() {
		e := m.Files[table]
		fmt.Fprintf(&b, "✓ %s: %d rows -> %s (%s)\n", table, e.Rows, e.File, HumanSize(e.Bytes))
	}
	return b.String()
}

var (
	// logMentionRE finds any set file name a log mentions; a .tmp name is not
	// a mention of the set.
	logMentionRE = regexp.MustCompile(`langchain_pg_(?:collection|embedding)_([0-9]{8}_[0-9]{6})\.(?:csv|pgcopy)(\.tmp)?`)

	// logRowsRE matches a log line such as
	//   ✓ langchain_pg_embedding: 58 rows -> langchain_pg_embedding_20250721_215758.csv (764.0 KB)
	// with or without its mark and with any spacing.
	logRowsRE = regexp.MustCompile(`^\s*(?:[^\w\s]+\s*)?(\w+)\s*:\s*([0-9]+)\s*rows?\s*->\s*(\S+)`)
)

// ParseLog returns, for each set timestamp a log's text mentions, the row
// counts of its "<table>: <n> rows -> <file>" lines (nil when it gives none).
func ParseLog(text string) map[string]map[string]int64 {
	counts := make(map[string]map[string]int64)
	for _, m := range logMentionRE.FindAllStringSubmatch(text, -1) {
		if _, ok := counts[m[1]]; !ok && m[2] == "" {
			counts[m[1]] = nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		m := logRowsRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			continue
		}
		file := m[3][strings.LastIndexAny(m[3], `/\`)+1:]
		kind, ts := Kind(file)
		if kind != CollectionFile && kind != EmbeddingFile {
			continue
		}
		if counts[ts] == nil {
			counts[ts] = make(map[string]int64)
		}
		counts[ts][m[1]] = n
	}
	if len(counts) == 0 {
		return nil
	}
	return counts
}
