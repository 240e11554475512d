package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://, for tests
	_ "gocloud.dev/blob/s3blob"   // s3://
	"gocloud.dev/gcerrors"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Bucket is a backup root in object storage, through gocloud.dev/blob: the
// keys below its prefix are laid out as a backup folder is.
type Bucket struct {
	b      *blob.Bucket
	name   string // scheme://bucket/prefix, for messages: no query, no credentials
	prefix string // "" or ending in "/"
	s3     bool
}

// partSize is the size of one part of a multipart upload, and so of the
// buffer a writer holds: the smallest S3 allows but the last.
const partSize = 8 << 20

// OpenBucket opens the bucket a URL names (gocloud.dev/blob syntax). For
// s3:// the checksums the AWS SDK's newer defaults send with every request
// are sent only when required, unless the URL says otherwise: R2, B2 and
// some MinIO versions refuse the others.
func OpenBucket(ctx context.Context, rawURL string) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("backup root URL: %w", err)
	}
	q := u.Query()
	isS3 := u.Scheme == "s3"
	if isS3 {
		for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if !q.Has(k) {
				q.Set(k, "when_required")
			}
		}
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	open := *u
	open.Path, open.RawPath = "", ""
	open.RawQuery = q.Encode()
	b, err := blob.OpenBucket(ctx, open.String())
	if err != nil {
		return nil, fmt.Errorf("open backup root %s: %w", describeURL(u), err)
	}
	return &Bucket{b: b, name: describeURL(u), prefix: prefix, s3: isS3}, nil
}

// describeURL is u without its query and user: a bucket and prefix.
func describeURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
}

// Local is "": a bucket has no local path.
func (b *Bucket) Local() string { return "" }

// Name is key's URL.
func (b *Bucket) Name(key string) string {
	if key == "" {
		return b.name
	}
	return b.name + "/" + key
}

// Close closes the bucket.
func (b *Bucket) Close() error { return b.b.Close() }

func (b *Bucket) full(key string) string { return b.prefix + key }

func (b *Bucket) rel(full string) string { return strings.TrimPrefix(full, b.prefix) }

// List lists dir with a delimiter, a page at a time.
func (b *Bucket) List(ctx context.Context, dir string) ([]Entry, error) {
	if err := checkKey(dir); err != nil {
		return nil, err
	}
	prefix := b.full(dir)
	if dir != "" {
		prefix += "/"
	}
	var out []Entry
	err := b.list(ctx, prefix, "/", func(o *blob.ListObject) error {
		e := Entry{Key: strings.TrimSuffix(b.rel(o.Key), "/"), Dir: o.IsDir, Size: o.Size, ModTime: o.ModTime, Sized: !o.IsDir}
		if e.Key == dir || !validKey(e.Key) {
			return nil // the folder's own marker object, or a name no folder could have
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Walk lists every key below dir in one flat listing and keeps those at
// most depth folders down.
func (b *Bucket) Walk(ctx context.Context, dir string, depth int, fn func(Entry) error) error {
	if err := checkKey(dir); err != nil {
		return err
	}
	prefix := b.full(dir)
	if dir != "" {
		prefix += "/"
	}
	return b.list(ctx, prefix, "", func(o *blob.ListObject) error {
		key := b.rel(o.Key)
		rest := strings.TrimPrefix(strings.TrimPrefix(key, dir), "/")
		if o.IsDir || rest == "" || strings.HasSuffix(key, "/") || strings.Count(rest, "/") >= depth || !validKey(key) {
			return nil
		}
		return fn(Entry{Key: key, Size: o.Size, ModTime: o.ModTime, Sized: true})
	})
}

func validKey(key string) bool { return checkKey(key) == nil }

// list pages through a listing.
func (b *Bucket) list(ctx context.Context, prefix, delim string, fn func(*blob.ListObject) error) error {
	opts := &blob.ListOptions{Prefix: prefix, Delimiter: delim}
	token := blob.FirstPageToken
	for {
		page, next, err := b.b.ListPage(ctx, token, 1000, opts)
		if err != nil {
			return b.fail("list", strings.TrimPrefix(prefix, b.prefix), err)
		}
		for _, o := range page {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(next) == 0 {
			return nil
		}
		token = next
	}
}

// Stat reads key's attributes; a key that is only a prefix of others is a
// folder.
func (b *Bucket) Stat(ctx context.Context, key string) (Entry, error) {
	if err := checkKey(key); err != nil {
		return Entry{}, err
	}
	a, err := b.b.Attributes(ctx, b.full(key))
	if err == nil {
		return Entry{Key: key, Size: a.Size, ModTime: a.ModTime, Sized: true}, nil
	}
	if gcerrors.Code(err) != gcerrors.NotFound {
		return Entry{}, b.fail("read", key, err)
	}
	page, _, lerr := b.b.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: b.full(key) + "/"})
	if lerr == nil && len(page) > 0 {
		return Entry{Key: key, Dir: true}, nil
	}
	return Entry{}, b.fail("read", key, err)
}

// Open reads key's attributes; its readers then ask for that version only
// (S3: If-Match on its ETag), so an object replaced after Open fails to
// read instead of being read as another.
func (b *Bucket) Open(ctx context.Context, key string) (Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	a, err := b.b.Attributes(ctx, b.full(key))
	if err != nil {
		return nil, b.fail("open", key, err)
	}
	return &bucketObject{b: b, key: key, attrs: a}, nil
}

// readAll reads a small object in one request (Open would ask for its
// attributes first): a listing reads a log or a manifest per folder shown.
func (b *Bucket) readAll(ctx context.Context, key string, limit int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r, err := b.b.NewReader(ctx, b.full(key), nil)
	if err != nil {
		return nil, b.fail("read", key, err)
	}
	defer r.Close()
	if r.Size() > limit {
		return nil, ErrTooBig
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, b.fail("read", key, err)
	}
	if int64(len(data)) > limit {
		return nil, ErrTooBig
	}
	return data, nil
}

type bucketObject struct {
	b     *Bucket
	key   string
	attrs *blob.Attributes
}

func (o *bucketObject) Key() string        { return o.key }
func (o *bucketObject) Size() int64        { return o.attrs.Size }
func (o *bucketObject) ModTime() time.Time { return o.attrs.ModTime }
func (o *bucketObject) Close() error       { return nil }

// Identity is the object's ETag (a generation where the store has no
// ETag), with its size.
func (o *bucketObject) Identity() string {
	id := o.attrs.ETag
	if id == "" {
		id = "mtime-" + o.attrs.ModTime.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s-size-%d", id, o.attrs.Size)
}

// NewReader streams the object from off, pinned to the version opened.
func (o *bucketObject) NewReader(ctx context.Context, off int64) (io.ReadCloser, error) {
	opts := &blob.ReaderOptions{}
	if etag := o.attrs.ETag; etag != "" && o.b.s3 {
		opts.BeforeRead = func(as func(any) bool) error {
			var in *s3.GetObjectInput
			if as(&in) {
				in.IfMatch = &etag
			}
			return nil
		}
	}
	r, err := o.b.b.NewRangeReader(ctx, o.b.full(o.key), off, -1, opts)
	if err != nil {
		return nil, o.b.fail("read", o.key, err)
	}
	return &bucketReader{r: r, o: o}, nil
}

// bucketReader names the object in a read's error.
type bucketReader struct {
	r *blob.Reader
	o *bucketObject
}

func (r *bucketReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	switch {
	case err == nil, err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		// The connection ended before the object did: the store went away.
		err = apierr.Wrap(apierr.StorageError, err, "cannot read %s: the store closed the connection before the end of the object (%v); check that the store runs, then retry", r.o.b.Name(r.o.key), err).
			With("reason", "unreachable")
	default:
		err = r.o.b.fail("read", r.o.key, err)
	}
	return n, err
}

func (r *bucketReader) Close() error { return r.r.Close() }

// Create uploads key as it is written (a multipart upload, a part at a
// time), published by Commit with a conditional create (If-None-Match: *):
// the upload fails if the key exists by then. A key that exists already is
// refused at once.
func (b *Bucket) Create(ctx context.Context, key string) (Writer, error) {
	if err := checkKey(key); err != nil || key == "" {
		return nil, cmpErr(err, apierr.New(apierr.InvalidParams, "empty backup file name"))
	}
	ok, err := b.b.Exists(ctx, b.full(key))
	if err != nil {
		return nil, b.fail("create", key, err)
	}
	if ok {
		return nil, fmt.Errorf("%s: %w", b.Name(key), ErrExist)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := b.b.NewWriter(wctx, b.full(key), &blob.WriterOptions{
		IfNotExist:     true,
		BufferSize:     partSize,
		MaxConcurrency: 1,
		ContentType:    contentType(key),
	})
	if err != nil {
		cancel()
		return nil, b.fail("create", key, err)
	}
	return &bucketWriter{b: b, key: key, w: w, cancel: cancel}, nil
}

func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".csv"):
		return "text/csv"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	}
	return "application/octet-stream"
}

type bucketWriter struct {
	b      *Bucket
	key    string
	w      *blob.Writer
	cancel context.CancelFunc
	done   bool
}

func (w *bucketWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		err = w.b.fail("write", w.key, err)
	}
	return n, err
}

func (w *bucketWriter) Commit() error {
	if w.done {
		return errors.New("store: writer already ended")
	}
	w.done = true
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		if gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return fmt.Errorf("%s: %w", w.b.Name(w.key), ErrExist)
		}
		return w.b.fail("write", w.key, err)
	}
	return nil
}

// Abort cancels the upload: gocloud.dev aborts a multipart upload whose
// context ends before Close, and nothing is published.
func (w *bucketWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	w.w.Close()
}

// Replace uploads key whole (a single request): an object appears whole
// or not at all.
func (b *Bucket) Replace(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := b.b.WriteAll(ctx, b.full(key), data, &blob.WriterOptions{ContentType: contentType(key)}); err != nil {
		return b.fail("write", key, err)
	}
	return nil
}

// Remove deletes key.
func (b *Bucket) Remove(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := b.b.Delete(ctx, b.full(key))
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return b.fail("remove", key, err)
	}
	return nil
}

// fail words a bucket error for the caller, naming the bucket and key and
// never a credential: a missing key stays ErrNotExist; denied access is
// FORBIDDEN; the rest (no such bucket, an endpoint that does not answer,
// throttling, a 5xx after the SDK's retries) STORAGE_ERROR with a reason.
func (b *Bucket) fail(doing, key string, err error) error {
	name := b.Name(key)
	code := gcerrors.Code(err)
	if code == gcerrors.Unknown && denied(err) {
		// S3 answers a GET or PUT signed with a wrong key with a 403 that
		// gocloud.dev does not classify (SignatureDoesNotMatch,
		// InvalidAccessKeyId).
		code = gcerrors.PermissionDenied
	}
	switch code {
	case gcerrors.NotFound:
		if noSuchBucket(err) {
			return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: the bucket does not exist; check --backup-root", doing, name).
				With("reason", "no_such_bucket")
		}
		return fmt.Errorf("%s %s: %w", doing, name, ErrNotExist)
	case gcerrors.PermissionDenied:
		return apierr.Wrap(apierr.Forbidden, err, "cannot %s %s: access denied; check the credentials in the server's environment and the bucket's policy", doing, name).
			With("reason", "access_denied")
	case gcerrors.FailedPrecondition:
		return apierr.Wrap(apierr.Conflict, err, "cannot %s %s: it changed while it was read; list the backups again", doing, name).
			With("reason", "object_changed")
	case gcerrors.Canceled:
		return apierr.Wrap(apierr.Cancelled, err, "cancelled while %s %s", gerund(doing), name)
	case gcerrors.ResourceExhausted:
		return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: the store is throttling requests; retry later", doing, name).
			With("reason", "throttled")
	case gcerrors.DeadlineExceeded:
		return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: the store did not answer in time; check the endpoint, then retry", doing, name).
			With("reason", "unreachable")
	}
	if ctxErr := contextErr(err); ctxErr != nil {
		return apierr.Wrap(apierr.Cancelled, err, "cancelled while %s %s", gerund(doing), name)
	}
	if throttled(err) {
		return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: the store is throttling requests (%s), still after retries; retry later", doing, name, storeWords(err)).
			With("reason", "throttled")
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: the store does not answer (%s); check the endpoint and that the store runs, then retry", doing, name, lastLine(err.Error())).
			With("reason", "unreachable")
	}
	return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: %s", doing, name, storeWords(err)).
		With("reason", "store_failed")
}

// throttled reports whether the store asked for fewer requests.
func throttled(err error) bool {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		switch coded.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests", "RequestThrottled":
			return true
		}
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && (status.HTTPStatusCode() == 429 || status.HTTPStatusCode() == 503)
}

// gerund is doing's -ing form, for "cancelled while reading ...".
func gerund(doing string) string {
	if g, ok := map[string]string{"list": "listing", "read": "reading", "open": "opening", "create": "creating",
		"write": "writing", "remove": "removing"}[doing]; ok {
		return g
	}
	return doing
}

func contextErr(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

// denied reports whether the store refused the request's credentials.
func denied(err error) bool {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		switch coded.ErrorCode() {
		case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "Forbidden", "InvalidToken", "ExpiredToken":
			return true
		}
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() == 403
}

// noSuchBucket reports whether a NotFound is about the bucket itself.
func noSuchBucket(err error) bool {
	var code interface{ ErrorCode() string }
	return errors.As(err, &code) && code.ErrorCode() == "NoSuchBucket"
}

// storeWords is the store's own short account of err: its error code and
// HTTP status where it gave them (never the request, which may carry a
// signature), else the error's text.
func storeWords(err error) string {
	var coded interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &coded) {
		return coded.ErrorCode() + ": " + coded.ErrorMessage()
	}
	return lastLine(err.Error())
}

// lastLine is the innermost part of a wrapped error's text.
func lastLine(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}
