package pod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/jackpal/bencode-go"
)

// Message is one decoded request from the client. Fields the client did not
// send are empty.
type Message struct {
	Op   string
	ID   string
	Var  string
	Args string
	NS   string
}

// Reader decodes back-to-back bencode messages from one stream. It keeps a
// single buffered reader for the life of the stream, so bytes of a message
// that arrived together with the previous one are never lost.
type Reader struct {
	br *bufio.Reader
	// maxFrame and maxDepth are MaxFrame and MaxFrameDepth, smaller in
	// tests.
	maxFrame, maxDepth int
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), maxFrame: MaxFrame, maxDepth: MaxFrameDepth}
}

// ErrBadMessage reports a frame that decoded as bencode but is not a
// dictionary of the expected shape.
var ErrBadMessage = errors.New("pod: malformed message")

// Read returns the next message. It returns io.EOF when the stream ends
// cleanly between messages. A malformed frame returns an error wrapping
// ErrBadMessage; after a bencode syntax error the stream cannot be
// resynchronised and the caller should stop reading. A frame beyond the
// limits (MaxFrame, MaxFrameDepth) returns an error wrapping ErrTooLarge
// together with the message's fields that fitted: the stream is still in
// step and the caller can answer it and go on.
func (r *Reader) Read() (msg Message, err error) {
	defer func() {
		// The decoder panics on some inputs; never let that cross.
		if p := recover(); p != nil {
			err = fmt.Errorf("pod: bencode decoder failed: %v", p)
		}
	}()
	if _, err := r.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return msg, io.EOF
		}
		return msg, fmt.Errorf("pod: read: %w", err)
	}
	frame, limitErr := scanFrame(r.br, r.maxFrame, r.maxDepth)
	if frame == nil {
		return msg, fmt.Errorf("pod: bencode: %w", limitErr)
	}
	v, err := bencode.Decode(bytes.NewReader(frame))
	if err != nil {
		return msg, fmt.Errorf("pod: bencode: %w", err)
	}
	defer func() {
		if err == nil {
			err = limitErr
		}
	}()
	dict, ok := v.(map[string]any)
	if !ok {
		return msg, fmt.Errorf("%w: top level is %T, want a dictionary", ErrBadMessage, v)
	}
	field := func(key string) (string, error) {
		raw, present := dict[key]
		if !present {
			return "", nil
		}
		s, ok := raw.(string)
		if !ok {
			return "", fmt.Errorf("%w: field %q is %T, want a string", ErrBadMessage, key, raw)
		}
		return s, nil
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"op", &msg.Op}, {"id", &msg.ID}, {"var", &msg.Var}, {"args", &msg.Args}, {"ns", &msg.NS}} {
		if *f.dst, err = field(f.key); err != nil {
			return msg, err
		}
	}
	return msg, nil
}

// Writer encodes replies onto one stream. It is safe for concurrent use:
// replies come from many goroutines and each is written and flushed whole
// under a mutex.
type Writer struct {
	mu  sync.Mutex
	bw  *bufio.Writer
	err error
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write encodes one reply dictionary and flushes it. After the first write
// error every later call returns that error.
func (w *Writer) Write(reply map[string]any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := bencode.Marshal(w.bw, reply); err != nil {
		w.err = fmt.Errorf("pod: encode reply: %w", err)
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("pod: write reply: %w", err)
		return w.err
	}
	return nil
}
