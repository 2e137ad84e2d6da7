package pod

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/jackpal/bencode-go"
)

// FuzzReader checks the frame reader on any byte stream: it never panics,
// never allocates for bytes that did not arrive, always makes progress or
// stops, keeps within its limits, and reads what it accepts exactly as the
// bencode decoder alone would.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"d2:op8:describe2:id1:1e",
		"d4:args5:[1 2]2:id1:12:op6:invoke3:var5:a/adde",
		"d2:op6:invoke4:args7:[1 {:a]e",
		"d2:opi1ee", "l1:ae", "i42e", "d2:op", "",
		"d4:argsd1:ai1eee",
		"d2:op999999999999:",
		"d1:xllllllllllllllllllllllllllllllllllllllllee2:id1:1e",
		"d4:args300:" + string(bytes.Repeat([]byte("x"), 300)) + "2:id1:1ed2:id1:2e",
		"d2:op8:shutdowne", "d2:op7:load-ns2:ns3:foo2:id1:3e",
		"d2:id-1:e", "d2:idi-0001ee", "de", "le", "0:", "e", "i1.5e",
		"d2:op6:invoke2:id1:1e d2:op6:invoke2:id1:2e",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		r.maxFrame, r.maxDepth = 256, 4
		for i := 0; i <= len(data); i++ {
			var msg Message
			var err error
			if n := allocatedBy(func() { msg, err = r.Read() }); n > 16<<20+64*uint64(len(data)) {
				t.Fatalf("reading %d bytes allocated %d", len(data), n)
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if errors.Is(err, ErrTooLarge) {
				if len(msg.Op)+len(msg.ID)+len(msg.Var)+len(msg.Args)+len(msg.NS) > r.maxFrame {
					t.Fatalf("kept %+v beyond the limit", msg)
				}
				continue // still in step
			}
			if err == nil && i == 0 {
				sameAsDecoder(t, data, msg)
			}
			if err != nil {
				return
			}
		}
		t.Fatalf("reader did not stop on %d bytes", len(data))
	})
}

// sameAsDecoder checks that a first frame the reader accepted is what the
// bencode decoder reads from the same bytes. (Only for accepted frames:
// the decoder alone allocates declared lengths.)
func sameAsDecoder(t *testing.T, data []byte, got Message) {
	t.Helper()
	v, err := bencode.Decode(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("the reader accepted %q, which the decoder refuses: %v", data, err)
	}
	dict, _ := v.(map[string]any)
	want := Message{}
	for key, dst := range map[string]*string{"op": &want.Op, "id": &want.ID, "var": &want.Var, "args": &want.Args, "ns": &want.NS} {
		*dst, _ = dict[key].(string)
	}
	if got != want {
		t.Fatalf("reader read %+v from %q, the decoder %+v", got, data, want)
	}
}
