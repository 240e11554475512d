//go:build !race

package backupfile_test

const raceEnabled = false
