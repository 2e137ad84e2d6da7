package bbssh

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two DSA (ssh-dss) public keys made by OpenSSH's ssh-keygen -t dsa.
const (
	dsaKeyA = "AAAAB3NzaC1kc3MAAACBAIFtdrKdeKCM52wH1sNR1elFh5P62c0LKAlzqLYQJL7jhwdpxLO3k8yl44XgGwMtwVSecHD6Se9GWP+Ui+nFk93R6smTHeCQvxEhRIdbqsPMyQsaDnc4bGS///3snk385pt5BQA2OxnKddN2RPnIX04rBis6iCZzXWLK6d8qebvnAAAAFQCeEpzPZuBt/sCA3EJ/byottEKJsQAAAIA10Wykylnnh87D4wgxFjZ7SAn3rjLFLkrs9i/2Am3myBJ7SXQGDwikNcM6BrcobjvgzFuklv7mj8iAW7PSJnRZpTCihjuUsulOEFmuU+WNWo2gg1CEL4iEH3b1eF8trb1RAW6ao++TmtMMN2MFIcuTKBl3P2XNrnrSKAEAC6XgZgAAAIBEXvY0crElr7A72myjybg/DTtA62YVObZB1a8QJ2LCdWqvORPZkfFsM2air0H6PMnKXHHVlkWu4pupYoUxAWjie1wmntNg13XtVZ2p6iwqGR6Oy3Z9Oz0fBJoK708euoueVTkicE8xtZ9fgDJ9enzKMZRZYPldOGjfpfo81I3lqQ=="
	dsaKeyB = "AAAAB3NzaC1kc3MAAACBAKGrXxD2s7Y6tfmCFvxve1SWVJuwVVPod43njhW3krj3I60hMaJkMAiLLyMh+eSyToni6y/uRmjxEcwdXAH7cPDP8GG7TFqflUw1jtiU1c9IGkXvjnBAdch8QaQRMTc7wlt0WmpbeqXzkeH+XgqqgvQzKvzrnOVWMKlFA4h/8aklAAAAFQCJ3ZQc1pCEnLHpoHSsvjNdrm1foQAAAIAiJv1iiJRhrryYGdayHowamZZp16XgkON8C+6MFiWhEr2f6BbJJQIYlfSG375UzWSlgRU5GFKc4nC/McGKqW3HKOKxVIMkkafFSNuAOfAWBmX4J9ccpD34kr1xjK5LTOl1O0Hhe4heIr7rKyI5yIelrjE9rGGyOoXsxjCbPeyXzQAAAIBWc8wAZSN9iU8/7rOLVWCbBgOx/zdU3d42UnSRo3zYerrogkc0FOAi02Ok1xXxNQEhdhbmW1KrAHPU+WD0ZDy1qHBQ/JdUTtvJF0lJI6UgU8J3bQWsLPZzTICb+e4Xn25rmAwIYszp67N6zIzO/KrdNAiyE9HzIwVgr+QaythSEg=="
)

func dsaBlob(t *testing.T, b64 string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDSAPublicKeys(t *testing.T) {
	a, b := dsaBlob(t, dsaKeyA), dsaBlob(t, dsaKeyB)
	pub, err := ParsePublicKey(a)
	if err != nil {
		t.Fatalf("ParsePublicKey(ssh-dss): %v", err)
	}
	if pub.Type() != "ssh-dss" || !bytes.Equal(pub.Marshal(), a) {
		t.Fatalf("ssh-dss key read back as %s, same blob: %v", pub.Type(), bytes.Equal(pub.Marshal(), a))
	}
	if err := pub.Verify([]byte("data"), nil); err == nil || !strings.Contains(err.Error(), "not accepted") {
		t.Fatalf("a DSA signature must never verify, got %v", err)
	}
	if n, err := keySize(pub); err != nil || n != 1024 {
		t.Fatalf("key size %d, %v; want 1024", n, err)
	}
	line, comment, err := parseAuthorizedKey([]byte("ssh-dss " + dsaKeyA + " old key 🚀"))
	if err != nil || comment != "old key 🚀" || !bytes.Equal(line.Marshal(), a) {
		t.Fatalf("authorized_keys line: %v, comment %q", err, comment)
	}
	for _, tc := range []struct {
		name string
		blob []byte
	}{
		{"truncated", a[:len(a)-3]},
		{"trailing bytes", append(append([]byte(nil), a...), 0, 0, 0, 0)},
		{"other type", append([]byte("\x00\x00\x00\x07ssh-dsx"), a[11:]...)},
		{"empty", nil},
	} {
		if _, err := ParsePublicKey(tc.blob); err == nil {
			t.Errorf("%s: ParsePublicKey accepted it", tc.name)
		}
	}

	// As host keys: added, checked, written and read back, removed by type.
	hk, err := NewHostKey("", "host.domain", "ssh-dss", a, "")
	if err != nil {
		t.Fatalf("NewHostKey(ssh-dss): %v", err)
	}
	if _, err := NewHostKey("", "host.domain", "ssh-rsa", a, ""); err == nil {
		t.Fatal("a DSA key given as ssh-rsa was accepted")
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	ctx := context.Background()
	for _, kh := range []*KnownHosts{NewKnownHostsContent(nil), NewKnownHostsFile(file)} {
		if err := kh.AddHostKey(hk); err != nil {
			t.Fatal(err)
		}
		rsa := genPub(t, "rsa")
		for _, tc := range []struct {
			blob []byte
			want HostKeyStatus
		}{{a, HostKeyOK}, {b, HostKeyChanged}, {rsa.Marshal(), HostKeyNotIncluded}} {
			if got, err := kh.CheckBlob("host.domain", tc.blob); err != nil || got != tc.want {
				t.Errorf("file %q: check = %v, %v; want %v", kh.File(), got, err, tc.want)
			}
		}
		pubB, _ := ParsePublicKey(b)
		if st, err := kh.Check(ctx, "host.domain", pubB); err != nil || st != HostKeyChanged {
			t.Errorf("Check(other DSA key) = %v, %v", st, err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil || string(data) != "host.domain ssh-dss "+dsaKeyA+"\n" {
		t.Fatalf("known_hosts written as %q, %v", data, err)
	}
	kh := NewKnownHostsContent(data)
	if got, err := kh.CheckBlob("host.domain", a); err != nil || got != HostKeyOK {
		t.Fatalf("known_hosts line read back: %v, %v", got, err)
	}
}

func TestGenerateRefusesDSAAndEd448(t *testing.T) {
	for _, typ := range []string{"dsa", "ed448"} {
		_, err := GenerateKeyPair(typ, 0)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindUnsupported || !strings.Contains(err.Error(), "could log in nowhere") {
			t.Errorf("GenerateKeyPair(%s) = %v; want an unsupported error saying why", typ, err)
		}
	}
}
