package layout

import (
	"reflect"
	"testing"
)

// taskLog is a log as the old pipeline wrote it.
const taskLog = "=== Vector Table Backup Log ===\r\n" +
	"Backup Time: 2025-07-21 21:57:58\r\n" +
	"Task ID: task_20250721_213627\r\n" +
	"Duration: 0.15s\r\n\r\n" +
	"Tables Backup Status:\r\n" +
	"✓ langchain_pg_collection: 4 rows -> langchain_pg_collection_20250721_215758.csv (209.0 B)\r\n" +
	"✓ langchain_pg_embedding: 58 rows -> langchain_pg_embedding_20250721_215758.csv (764.0 KB)\r\n"

func TestParseLog(t *testing.T) {
	tests := []struct {
		name, text string
		want       map[string]map[string]int64
	}{
		{name: "pipeline log", text: taskLog, want: map[string]map[string]int64{
			"20250721_215758": {"langchain_pg_collection": 4, "langchain_pg_embedding": 58},
		}},
		{name: "no marks, odd spacing", text: "langchain_pg_collection :4 rows->langchain_pg_collection_20250101_000000.csv\n" +
			"  ✗  langchain_pg_embedding:   0 row  ->  langchain_pg_embedding_20250101_000000.csv (0 B)\n",
			want: map[string]map[string]int64{
				"20250101_000000": {"langchain_pg_collection": 4, "langchain_pg_embedding": 0},
			}},
		{name: "failure line only", text: "✗ langchain_pg_embedding: permission denied\nfiles: langchain_pg_embedding_20250101_000000.csv\n",
			want: map[string]map[string]int64{"20250101_000000": nil}},
		{name: "mentions no set", text: "=== Vector Table Backup Log ===\nnothing here\n"},
		{name: "empty"},
		{name: "tmp file is no set", text: "✓ t: 3 rows -> langchain_pg_embedding_20250101_000000.csv.tmp\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseLog(tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1.0 B"},
		{209, "209.0 B"},
		{1023, "1023.0 B"},
		{1024, "1.0 KB"},
		{1536, "1.5 KB"},
		{782336, "764.0 KB"},
		{1572864, "1.5 MB"},
		{1 << 30, "1.0 GB"},
		{1 << 40, "1.0 TB"},
		{1 << 50, "1024.0 TB"},
	}
	for _, tt := range tests {
		if got := HumanSize(tt.n); got != tt.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestValidTimestamp(t *testing.T) {
	tests := []struct {
		ts   string
		want bool
	}{
		{"20250721_215758", true},
		{"20240229_120000", true},
		{"20230229_120000", false},
		{"20251340_256199", false},
		{"2025072_215758", false},
		{"20250721_2157581", false},
		{"20250721-215758", false},
		{"20250721_246000", false},
		{"20250721_235960", false},
		{"２0250721_215758", false},
		{" 20250721_215758", false},
		{"latest", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidTimestamp(tt.ts); got != tt.want {
			t.Errorf("ValidTimestamp(%q) = %v, want %v", tt.ts, got, tt.want)
		}
	}
}
