package bbssh

import (
	"context"
	"io"

	"github.com/pkg/sftp"
)

// Downloads of regular files. pkg/sftp's File.WriteTo asks the server for
// the file's size (an fstat) before its first read, to size its
// pipeline: one round trip more than a download needs, since Get has
// stat'ed the file already. fetch keeps fetchInFlight bytes of read
// requests in flight, as fetchDepth concurrent ReadAt calls of fetchChunk
// bytes each, which pkg/sftp splits into concurrent requests. 32 MiB in
// flight carry about 330 MB/s at 100 ms round trip; the 16 MiB of
// File.WriteTo (sftpInFlight) held a download at 100 ms to about half of
// what the channel carried (bench/RESULTS.md, WAN part).
const (
	fetchChunk    = 1 << 20
	fetchInFlight = 32 << 20
	fetchDepth    = fetchInFlight / fetchChunk
	// fetchWrite is the most written to the destination at once, so that
	// progress reports and cancellation stay fine-grained.
	fetchWrite = 256 << 10
)

// fetchJob is one ReadAt of a download; done is closed when it returned.
type fetchJob struct {
	buf  []byte
	off  int64
	n    int
	err  error
	done chan struct{}
}

// fetch copies the regular file rf to w from offset 0 until end of file,
// and returns the number of bytes written. The read ahead continues past
// the size the file had when it was stat'ed, so that a file that grew
// meanwhile arrives whole, as with File.WriteTo. It returns when ctx is
// done (between chunks), on the first read or write error, or at end of
// file, and always after every read it started has returned.
func fetch(ctx context.Context, rf *sftp.File, w io.Writer) (int64, error) {
	var (
		pending []*fetchJob // started, in file order
		free    [][]byte
		next    int64
		written int64
	)
	start := func() {
		var buf []byte
		if n := len(free); n > 0 {
			buf, free = free[n-1], free[:n-1]
		} else {
			buf = make([]byte, fetchChunk)
		}
		j := &fetchJob{buf: buf, off: next, done: make(chan struct{})}
		next += fetchChunk
		go func() {
			defer close(j.done)
			j.n, j.err = rf.ReadAt(j.buf, j.off)
		}()
		pending = append(pending, j)
	}
	defer func() {
		for _, j := range pending {
			<-j.done
		}
	}()
	for range fetchDepth {
		start()
	}
	for len(pending) > 0 {
		j := pending[0]
		pending = pending[1:]
		<-j.done
		for b := j.buf[:j.n]; len(b) > 0; {
			chunk := b[:min(len(b), fetchWrite)]
			n, err := w.Write(chunk)
			written += int64(n)
			if err == nil && n < len(chunk) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return written, err
			}
			b = b[n:]
		}
		switch {
		case j.err == io.EOF || (j.err == nil && j.n < len(j.buf)):
			// A short read without an error breaks io.ReaderAt's
			// contract; it is taken as end of file, as a file that
			// shrank would read.
			return written, nil
		case j.err != nil:
			return written, j.err
		}
		if err := ctx.Err(); err != nil {
			return written, err
		}
		free = append(free, j.buf)
		start()
	}
	return written, nil
}
