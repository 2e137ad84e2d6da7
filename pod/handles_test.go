package pod

import (
	"testing"

	"olympos.io/encoding/edn"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry("bbssh")
	a, b := new(int), new(int)
	ha := r.Put("session", a)
	if ha != "bbssh/session-1" {
		t.Fatalf("first handle = %s", ha)
	}
	if again := r.Put("session", a); again != ha {
		t.Fatalf("same object got a new handle: %s vs %s", again, ha)
	}
	hb := r.Put("process", b)
	if hb == ha {
		t.Fatal("different objects share a handle")
	}
	tests := []struct {
		name    string
		kind    string
		arg     any
		want    any
		wantErr string
	}{
		{"found", "session", edn.Keyword(ha), a, ""},
		{"wrong kind", "process", edn.Keyword(ha), nil, "is a session, expected a process"},
		{"not a keyword", "session", "bbssh/session-1", nil, "expected a session handle, got string"},
		{"other namespace", "session", edn.Keyword("foo/session-1"), nil, "not a handle"},
		{"unknown id", "session", edn.Keyword("bbssh/session-99"), nil, "unknown session handle"},
		{"garbage", "session", edn.Keyword("bbssh/session"), nil, "not a handle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Get(tc.kind, tc.arg)
			if tc.wantErr != "" {
				if err == nil || !contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Get = %v, %v", got, err)
			}
		})
	}
	if obj, err := r.Release(edn.Keyword(ha)); err != nil || obj != a {
		t.Fatalf("Release = %v, %v", obj, err)
	}
	if _, err := r.Get("session", edn.Keyword(ha)); err == nil {
		t.Fatal("released handle still resolves")
	}
	if _, err := r.Release(edn.Keyword(ha)); err == nil {
		t.Fatal("double release: want an error")
	}
	if h := r.Put("session", a); h == ha {
		t.Fatal("a released object re-registered must get a fresh handle")
	}
	if r.Len() != 2 {
		t.Fatalf("Len = %d", r.Len())
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0))
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
