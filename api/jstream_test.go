package api

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestPipeAsJava(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		run     func(in *pipeIn, out *pipeOut) error
		wantErr string // "" for none
	}{
		{"read unconnected", func(in *pipeIn, _ *pipeOut) error {
			_, err := in.readCtx(ctx, make([]byte, 1))
			return err
		}, "Pipe not connected"},
		{"write unconnected", func(_ *pipeIn, out *pipeOut) error {
			_, err := out.writeCtx(ctx, []byte{1})
			return err
		}, "Pipe not connected"},
		{"connect twice", func(in *pipeIn, out *pipeOut) error {
			if err := out.connect(in); err != nil {
				return err
			}
			return (&pipeOut{}).connect(in)
		}, "Already connected"},
		{"write after the reader closed", func(in *pipeIn, out *pipeOut) error {
			out.connect(in)
			in.Close()
			_, err := out.writeCtx(ctx, []byte{1})
			return err
		}, "Read end dead: the pipe's input stream is closed"},
		{"write after close", func(in *pipeIn, out *pipeOut) error {
			out.connect(in)
			out.Close()
			_, err := out.writeCtx(ctx, []byte{1})
			return err
		}, "Pipe closed"},
		{"read after the reader closed", func(in *pipeIn, out *pipeOut) error {
			out.connect(in)
			in.Close()
			_, err := in.readCtx(ctx, make([]byte, 1))
			return err
		}, "Pipe closed"},
		{"buffered bytes, then the end", func(in *pipeIn, out *pipeOut) error {
			out.connect(in)
			out.writeCtx(ctx, []byte("abc"))
			out.Close()
			got, err := io.ReadAll(reader{ctx, in})
			if err != nil || string(got) != "abc" {
				return errors.New("read " + string(got))
			}
			return nil
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(newPipeIn(4), &pipeOut{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestPipeBlocksAndCancels(t *testing.T) {
	in, out := newPipeIn(4), &pipeOut{}
	out.connect(in)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := in.readCtx(ctx, make([]byte, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read of an empty pipe: %v, want the deadline", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := out.writeCtx(context.Background(), []byte("0123456789"))
		done <- err
	}()
	select {
	case <-done:
		t.Fatal("10 bytes went into a 4-byte pipe without a reader")
	case <-time.After(50 * time.Millisecond):
	}
	if n, _ := in.Available(); n != 4 {
		t.Fatalf("available = %d, want 4", n)
	}
	got := make([]byte, 0, 10)
	buf := make([]byte, 3)
	for len(got) < 10 {
		n, err := in.readCtx(context.Background(), buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "0123456789" || <-done != nil {
		t.Fatalf("got %q", got)
	}
}

func TestByteArrayStreams(t *testing.T) {
	ctx := context.Background()
	b := &byteArrayIn{data: []byte("hello")}
	buf := make([]byte, 2)
	b.readCtx(ctx, buf)
	b.Mark(0)
	if n, _ := b.Skip(10); n != 3 {
		t.Fatalf("skip = %d, want 3", n)
	}
	if _, err := b.readCtx(ctx, buf); err != io.EOF {
		t.Fatalf("read at the end: %v", err)
	}
	if n, _ := b.Skip(-1); n != 0 {
		t.Fatalf("negative skip = %d", n)
	}
	b.Reset()
	if n, _ := b.Available(); n != 3 || !b.MarkSupported() {
		t.Fatalf("available after reset = %d", n)
	}
	o := &byteArrayOut{}
	o.writeCtx(ctx, []byte("ab"))
	o.Close()
	o.writeCtx(ctx, []byte("c"))
	if string(o.Bytes()) != "abc" || o.Size() != 3 {
		t.Fatalf("contents %q", o.Bytes())
	}
	o.Reset()
	if o.Size() != 0 {
		t.Fatal("reset kept bytes")
	}
}
