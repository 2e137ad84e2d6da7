package pod

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader checks that no input makes the frame reader or the argument
// decoder panic, and that the reader always makes progress or stops.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"d2:op8:describe2:id1:1e",
		"d2:op6:invoke2:id1:13:var5:a/add4:args5:[1 2]e",
		"d2:op6:invoke4:args7:[1 {:a]e",
		"d2:opi1ee", "l1:ae", "i42e", "d2:op", "",
		"d4:argsd1:ai1eee",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for i := 0; i <= len(data); i++ {
			msg, err := r.Read()
			if err != nil {
				if errors.Is(err, io.EOF) || err != nil {
					return
				}
			}
			decodeArgs(msg.Args)
		}
		t.Fatalf("reader did not stop on %d bytes", len(data))
	})
}
