package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's bytes [from, to) to
// disk now, without waiting: the fsync that publishes the set then waits
// for the last few megabytes rather than the whole file. Best effort.
func startWriteback(f *os.File, from, to int64) {
	_ = unix.SyncFileRange(int(f.Fd()), from, to-from, unix.SYNC_FILE_RANGE_WRITE)
}
