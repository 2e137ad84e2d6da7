package bbssh

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCutReader(t *testing.T) {
	tests := []struct {
		name string
		cut  bool
		want error
	}{
		{name: "the peer finished", cut: false, want: io.EOF},
		{name: "the connection failed", cut: true, want: errStreamCut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cutReader{strings.NewReader("data"), func() bool { return tt.cut }}
			got, err := io.ReadAll(r)
			if string(got) != "data" {
				t.Errorf("read %q before the end, want all of %q", got, "data")
			}
			if tt.want == io.EOF {
				if err != nil {
					t.Errorf("ReadAll: %v, want a clean end", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadAll: %v, want %v", err, tt.want)
			}
		})
	}
}
