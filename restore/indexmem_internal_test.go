package restore

import "testing"

func TestParseAvailable(t *testing.T) {
	meminfo := "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\nBuffers: 1 kB\n"
	tests := []struct {
		name                  string
		meminfo, limit, usage string
		want                  int64
		ok                    bool
	}{
		{"no cgroup", meminfo, "", "", 20000000 * 1024, true},
		{"cgroup without a limit", meminfo, "max\n", "123\n", 20000000 * 1024, true},
		{"cgroup limit lower", meminfo, "4294967296\n", "1073741824\n", 3 << 30, true},
		{"cgroup over its limit", meminfo, "1073741824\n", "2147483648\n", 0, true},
		{"cgroup limit higher", meminfo, "107374182400\n", "0\n", 20000000 * 1024, true},
		{"no MemAvailable", "MemTotal: 1 kB\n", "", "", 0, false},
		{"garbage", "MemAvailable: lots kB\n", "", "", 0, false},
		{"negative", "MemAvailable: -5 kB\n", "", "", 0, false},
		{"empty", "", "", "", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseAvailable(tt.meminfo, tt.limit, tt.usage)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: parseAvailable = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
