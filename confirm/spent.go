package confirm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// spentRecord keeps the ids of spent tokens in a folder, one file per
// token, created exclusively. The exclusive create is the decision: of two
// calls spending one token, in one process or in two sharing the folder,
// exactly one creates the file (a store with conditional creates can keep
// the same record for replicas). File and folder are synced before the
// restore commits, so the spend is durable first. Nothing is parsed back
// to decide: a name that exists, whatever it holds, is a spent token, so a
// damaged record can only refuse tokens, never re-open one.
//
// The folder is reached through its parent's descriptor (os.Root) and must
// be a folder the server made, not a link: a spend never writes elsewhere.
type spentRecord struct {
	parent string // the folder that holds the record (the backup root)
	name   string // the record's folder, a plain name
}

// RecordError is a failure to read or write the record of spent tokens:
// the token is refused (or its restore not committed), never let through.
type RecordError struct{ Err error }

func (e *RecordError) Error() string { return "spent-token record: " + e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// keepSpent is how long a spent token's file is kept when its expiry
// cannot be read from it: far beyond any token's life.
const keepSpent = 24 * time.Hour

// open opens the record's parent and checks the record's folder is a
// folder; with create it makes the folder when missing. Without create,
// a missing folder is reported as found == false: nothing was spent yet,
// and a check writes nothing.
func (r spentRecord) open(create bool) (root *os.Root, found bool, err error) {
	if root, err = os.OpenRoot(r.parent); err != nil {
		return nil, false, &RecordError{err}
	}
	if create {
		err = root.MkdirAll(path.Dir(r.name), 0o700)
		if err == nil {
			err = root.Mkdir(r.name, 0o700)
		}
		if errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = root.Lstat(r.name)
	}
	switch {
	case !create && errors.Is(err, fs.ErrNotExist):
		return root, false, nil
	case err == nil && !fi.IsDir():
		err = fmt.Errorf("%s is not a folder (a link or a file is in its place): remove it", r.name)
	}
	if err != nil {
		root.Close()
		return nil, false, &RecordError{err}
	}
	return root, true, nil
}

// validID reports whether id can name a file: ids are base64url.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// spent reports whether id was spent. An error means the record cannot be
// read: the caller refuses the token rather than guess.
func (r spentRecord) spent(id string) (bool, error) {
	if !validID(id) {
		return false, &RecordError{fmt.Errorf("token id %q cannot be recorded", id)}
	}
	root, found, err := r.open(false)
	if err != nil {
		return false, err
	}
	defer root.Close()
	if !found {
		return false, nil
	}
	_, err = root.Lstat(path.Join(r.name, id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, &RecordError{err}
	}
}

// spend records id, expiring at exp (unix seconds): ErrUsed when it was
// spent already, another error when the spend cannot be made durable.
func (r spentRecord) spend(id string, exp int64, now time.Time) error {
	if !validID(id) {
		return &RecordError{fmt.Errorf("token id %q cannot be recorded", id)}
	}
	root, _, err := r.open(true)
	if err != nil {
		return err
	}
	defer root.Close()
	r.prune(root, now)
	f, err := root.OpenFile(path.Join(r.name, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ErrUsed
	}
	if err != nil {
		return &RecordError{err}
	}
	_, err = f.WriteString(strconv.FormatInt(exp, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(root, r.name)
	}
	if err != nil {
		// Not durable: the restore must not commit. The file stays, so the
		// token stays refused here too.
		return &RecordError{err}
	}
	return nil
}

// prune removes the files of tokens that have expired: they are refused as
// expired anyway. A file whose expiry cannot be read goes after keepSpent.
func (r spentRecord) prune(root *os.Root, now time.Time) {
	d, err := root.OpenFile(r.name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	for _, e := range entries {
		name := path.Join(r.name, e.Name())
		expired := false
		if b, err := readSmall(root, name); err == nil {
			exp, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			expired = perr == nil && exp < now.Unix()
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > keepSpent {
			expired = true
		}
		if expired {
			root.Remove(name)
		}
	}
}

// readSmall reads a regular file of at most 32 bytes, without following a
// link or waiting on a FIFO.
func readSmall(root *os.Root, name string) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b := make([]byte, 33)
	n, _ := f.Read(b)
	if n > 32 {
		return nil, errors.New("too long")
	}
	return b[:n], nil
}

func syncDir(root *os.Root, name string) error {
	d, err := root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
