//go:build race

package backupfile_test

// raceEnabled: the race detector multiplies memory, so peak RSS says
// nothing about the reader then.
const raceEnabled = true
