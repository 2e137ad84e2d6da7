package bbssh

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// failingWriter fails once more than limit bytes were written to it.
type failingWriter struct {
	limit, n int
}

var errWriterFull = errors.New("writer full")

func (w *failingWriter) Write(b []byte) (int, error) {
	if w.n+len(b) > w.limit {
		return 0, errWriterFull
	}
	w.n += len(b)
	return len(b), nil
}

func TestFetch(t *testing.T) {
	c, root := newTestSftp(t)
	tests := []struct {
		name string
		size int
		grow int // bytes appended after the file was opened
	}{
		{"empty", 0, 0},
		{"one byte", 1, 0},
		{"one chunk less a byte", fetchChunk - 1, 0},
		{"one chunk", fetchChunk, 0},
		{"one chunk and a byte", fetchChunk + 1, 0},
		{"more chunks than the read ahead", (fetchDepth+3)*fetchChunk + 12345, 0},
		{"grown after it was opened", 3*fetchChunk + 7, fetchChunk + 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(t, tt.size+tt.grow)
			p := filepath.Join(root, "fetch")
			writeFile(t, p, data[:tt.size], 0o644)
			rf, err := c.sc.Open(path.Join(root, "fetch"))
			if err != nil {
				t.Fatal(err)
			}
			defer rf.Close()
			if tt.grow > 0 {
				f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(data[tt.size:])
				f.Close()
			}
			var got bytes.Buffer
			n, err := fetch(context.Background(), rf, &got)
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
				t.Errorf("fetch wrote %d bytes (%d in the buffer), want the %d of the file", n, got.Len(), len(data))
			}
		})
	}
}

func TestFetchStops(t *testing.T) {
	c, root := newTestSftp(t)
	writeFile(t, filepath.Join(root, "big"), randomBytes(t, 4*fetchChunk), 0o644)
	rf, err := c.sc.Open(path.Join(root, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()

	w := &failingWriter{limit: fetchChunk + fetchWrite}
	n, err := fetch(context.Background(), rf, w)
	if !errors.Is(err, errWriterFull) || n != int64(w.limit) {
		t.Errorf("fetch into a writer that fills up: %d bytes, %v; want %d and its error", n, err, w.limit)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got bytes.Buffer
	n, err = fetch(ctx, rf, &got)
	if !errors.Is(err, context.Canceled) || n != fetchChunk {
		t.Errorf("fetch with a cancelled context: %d bytes, %v; want the first chunk and context.Canceled", n, err)
	}

	rf.Close()
	if _, err := fetch(context.Background(), rf, &got); err == nil {
		t.Error("fetch from a closed file succeeded")
	}
}
