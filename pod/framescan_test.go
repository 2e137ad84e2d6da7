package pod

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocatedBy returns the bytes allocated while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A declared string length is not an allocation: the bencode decoder alone
// allocates 2 GB for this 17-byte frame (and dies of a larger one).
func TestReaderDoesNotAllocateDeclaredLengths(t *testing.T) {
	for _, frame := range []string{
		"d2:op999999999:",
		"d4:args999999999:" + strings.Repeat("x", 1000),
		"d2:op6:invoke4:args999999999999:[",
		"l999999999:",
	} {
		var err error
		n := allocatedBy(func() { _, err = NewReader(strings.NewReader(frame)).Read() })
		if n > 16<<20 {
			t.Errorf("%.20q: reading allocated %d MiB", frame, n>>20)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%.20q: error %v, want unexpected EOF", frame, err)
		}
	}
}

func TestReaderLimits(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("l", n) + strings.Repeat("e", n) }
	tests := []struct {
		name  string
		frame string
		want  Message
		err   error  // nil, ErrTooLarge, ErrBadMessage or errSyntax
		why   string // in the error
	}{
		{"within limits", "d4:args5:[1 2]2:id1:12:op6:invoke3:var3:a/be",
			Message{Op: "invoke", ID: "1", Var: "a/b", Args: "[1 2]"}, nil, ""},
		// With 970 bytes of args, "invoke" ends at byte 1000.
		{"strings end at the limit", "d4:args" + lenStr(970) + "2:id1:12:op6:invokee",
			Message{Op: "invoke", ID: "1", Args: strings.Repeat("x", 970)}, nil, ""},
		{"a string ends a byte past the limit", "d4:args" + lenStr(971) + "2:id1:12:op6:invokee",
			Message{ID: "1", Args: strings.Repeat("x", 971)}, ErrTooLarge, "a string of 6 bytes"},
		{"string past the limit", "d4:args" + lenStr(990) + "2:id1:12:op6:invokee",
			Message{Op: "invoke", ID: "1"}, ErrTooLarge, "a string of 990 bytes takes the request past the pod's limit of 1000 bytes"},
		{"second string past the limit", "d4:args" + lenStr(600) + "2:id1:13:var" + lenStr(600) + "e",
			Message{ID: "1", Args: strings.Repeat("x", 600)}, ErrTooLarge, "a string of 600 bytes"},
		{"nesting at the limit", "d1:x" + deep(7) + "2:id1:2e", Message{ID: "2"}, nil, ""},
		{"nesting past the limit", "d1:x" + deep(8) + "2:id1:2e", Message{ID: "2"}, ErrTooLarge, "nested deeper than 8 levels"},
		{"nesting a million deep", "d1:x" + deep(1e6) + "2:id1:3e", Message{ID: "3"}, ErrTooLarge, "nested deeper than 8 levels"},
		{"strings in a dropped list", "d1:xllllllllll" + lenStr(5000) + "eeeeeeeeee2:id1:4e", Message{ID: "4"}, ErrTooLarge, "nested deeper"},
		{"long key", "d" + lenStr(2000) + "i1e2:id1:5e", Message{ID: "5"}, ErrTooLarge, "a string of 2000 bytes"},
		{"integers past the limit", "d1:xl" + strings.Repeat("i1e", 30000) + "ee", Message{}, errSyntax, "lists, dictionaries and integers"},
		{"long integer", "d1:xi" + strings.Repeat("1", 40) + "ee", Message{}, errSyntax, "number longer than 32"},
		{"long length", strings.Repeat("1", 40) + ":", Message{}, errSyntax, "number longer than 32"},
		{"negative length", "d2:op-1:e", Message{}, errSyntax, "unexpected byte '-'"},
		{"stray e", "e", Message{}, errSyntax, "'e' outside"},
		{"not a dictionary", "l1:ae", Message{}, ErrBadMessage, "top level is []interface {}"},
		{"length overflows int64", "d2:op99999999999999999999:e", Message{}, errSyntax, "bad string length"},
		{"field not a string", "d2:idi1ee", Message{}, ErrBadMessage, `field "id" is int64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each frame is followed by a good one, which must be read
			// whenever the stream is still in step.
			r := NewReader(strings.NewReader(tt.frame + "d2:op8:describe2:id4:nexte"))
			r.maxFrame, r.maxDepth = 1000, 8
			msg, err := r.Read()
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("error %v, want one wrapping %v", err, tt.err)
			case tt.err != nil && !strings.Contains(err.Error(), tt.why):
				t.Fatalf("error %q does not say %q", err, tt.why)
			}
			if tt.err == nil || errors.Is(tt.err, ErrTooLarge) {
				if msg != tt.want {
					t.Errorf("message %+v, want %+v", msg, tt.want)
				}
				next, err := r.Read()
				if err != nil || next.ID != "next" {
					t.Errorf("the next frame: %+v, %v", next, err)
				}
			}
		})
	}
}

func lenStr(n int) string { return fmt.Sprintf("%d:%s", n, strings.Repeat("x", n)) }

// A request over the real MaxFrame is answered with a typed error, and the
// pod answers the next one. The bytes stream through without being kept.
func TestServeAnswersOversizeRequestAndGoesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	pr, pw := io.Pipe()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- testServer().Serve(context.Background(), pr, &out) }()
	var err error
	allocated := allocatedBy(func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		size := MaxFrame + 1
		fmt.Fprintf(bw, "d4:args%d:[", size)
		chunk := bytes.Repeat([]byte{' '}, 1<<20)
		for left := size - 2; left > 0; left -= len(chunk) {
			bw.Write(chunk[:min(left, len(chunk))])
		}
		bw.WriteString("]2:id3:big2:op6:invoke3:var17:pod.test.core/adde")
		bw.Write(encode(t, map[string]any{"op": "invoke", "id": "next", "var": "pod.test.core/add", "args": "[2 3]"}))
		err = bw.Flush()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && len(decodeAll(t, out.Bytes())) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	replies := byID(decodeAll(t, out.Bytes()))
	big := replies["big"]
	if len(big) != 1 || big[0].status() != "done,error" || big[0].exType(t) != "test/too-large" ||
		!strings.Contains(big[0].str("ex-message"), fmt.Sprintf("a string of %d bytes", MaxFrame+1)) {
		t.Fatalf("oversize request answered %v", big)
	}
	if next := replies["next"]; len(next) != 1 || next[0].str("value") != "5" {
		t.Fatalf("the next call was not answered: %v", next)
	}
	if allocated > 64<<20 {
		t.Errorf("a refused 256 MiB request allocated %d MiB", allocated>>20)
	}
}
