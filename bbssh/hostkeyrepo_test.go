package bbssh

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func genPub(t *testing.T, typ string) ssh.PublicKey {
	t.Helper()
	kp, err := GenerateKeyPair(typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return kp.PublicKey()
}

func TestKnownHostsCheck(t *testing.T) {
	ed, ed2, ec := genPub(t, "ed25519"), genPub(t, "ed25519"), genPub(t, "ecdsa")
	revoked := genPub(t, "ed25519")
	line := func(host string, k ssh.PublicKey, rest string) string {
		return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + rest + "\n"
	}
	content := "# a comment line\n" +
		line(xknownhosts.HashHostname("10.0.0.1"), ed, " some comment 🚀 \r") +
		line("a.example,[b.example]:2222,!c.example,*.wild", ec, "") +
		line("@revoked *", revoked, "") +
		"not a valid line\n"
	ctx := context.Background()
	for _, kh := range []*KnownHosts{NewKnownHostsContent([]byte(content)), writeKH(t, content)} {
		for _, tc := range []struct {
			host string
			key  ssh.PublicKey
			want HostKeyStatus
		}{
			{"10.0.0.1", ed, HostKeyOK},
			{"10.0.0.1", ed2, HostKeyChanged},
			{"10.0.0.1", ec, HostKeyNotIncluded},
			{"10.0.0.2", ed, HostKeyNotIncluded},
			{"a.example", ec, HostKeyOK},
			{"A.EXAMPLE", ec, HostKeyOK},
			{"[b.example]:2222", ec, HostKeyOK},
			{"b.example", ec, HostKeyNotIncluded},
			{"x.wild", ec, HostKeyOK},
			{"c.example", ec, HostKeyNotIncluded},
			{"anything", revoked, HostKeyRevoked},
		} {
			got, err := kh.Check(ctx, tc.host, tc.key)
			if err != nil || got != tc.want {
				t.Errorf("%q Check(%s, %s) = %v, %v; want %v", kh.File(), tc.host, tc.key.Type(), got, err, tc.want)
			}
		}
		all, _ := kh.HostKeys("", "")
		if len(all) != 3 {
			t.Fatalf("%d entries, want 3", len(all))
		}
		if all[0].Comment != "some comment 🚀" || all[0].Marker != "" || all[2].Marker != "@revoked" {
			t.Errorf("entries %+v", all)
		}
		if got, _ := kh.HostKeys("10.0.0.1", "ssh-ed25519"); len(got) != 2 { // its own and the revocation
			t.Errorf("HostKeys(10.0.0.1) = %d", len(got))
		}
		// Remove one host of a multi-host entry: the others stay.
		if n, err := kh.Remove("a.example", "", nil); n != 1 || err != nil {
			t.Fatalf("Remove = %d, %v", n, err)
		}
		if got, _ := kh.Check(ctx, "a.example", ec); got != HostKeyNotIncluded {
			t.Errorf("a.example still known")
		}
		if got, _ := kh.Check(ctx, "[b.example]:2222", ec); got != HostKeyOK {
			t.Errorf("b.example lost")
		}
		if err := kh.Add(ctx, "new.example", ed2); err != nil {
			t.Fatal(err)
		}
		kh.Add(ctx, "new.example", ed2) // twice: no duplicate
		if got, _ := kh.HostKeys("new.example", ""); len(got) != 2 || got[1].Host != "new.example" {
			t.Errorf("after Add: %d entries", len(got))
		}
		if n, _ := kh.Remove("10.0.0.1", "ssh-ed25519", ed2.Marshal()); n != 0 {
			t.Errorf("removed an entry with another key")
		}
		if n, _ := kh.Remove("10.0.0.1", "ssh-ed25519", nil); n != 1 {
			t.Errorf("hashed entry not removed")
		}
		if kh.File() != "" {
			data, _ := os.ReadFile(kh.File())
			if !strings.HasPrefix(string(data), "# a comment line\n") || !strings.Contains(string(data), "not a valid line\n") ||
				!strings.Contains(string(data), "new.example ssh-ed25519 ") {
				t.Errorf("file after changes:\n%s", data)
			}
		}
	}
}

func writeKH(t *testing.T, content string) *KnownHosts {
	f := filepath.Join(t.TempDir(), "sub", "known_hosts")
	os.MkdirAll(filepath.Dir(f), 0o700)
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return NewKnownHostsFile(f)
}

func TestNewHostKey(t *testing.T) {
	ed := genPub(t, "ed25519")
	for _, tc := range []struct {
		marker, host, typ string
		key               []byte
		ok                bool
	}{
		{"", "h", "", ed.Marshal(), true},
		{"@revoked", "h", "ssh-ed25519", ed.Marshal(), true},
		{"", "h", "ssh-rsa", ed.Marshal(), false},
		{"@bogus", "h", "", ed.Marshal(), false},
		{"", "", "", ed.Marshal(), false},
		{"", "a b", "", ed.Marshal(), false},
		{"", "h", "", []byte("junk"), false},
	} {
		_, err := NewHostKey(tc.marker, tc.host, tc.typ, tc.key, "")
		if (err == nil) != tc.ok {
			t.Errorf("NewHostKey(%q, %q, %q) = %v", tc.marker, tc.host, tc.typ, err)
		}
	}
	hk, _ := NewHostKey("", "h", "", ed.Marshal(), "")
	if fp := hk.FingerprintHex(); len(fp) != 32*3-1 || strings.ToLower(fp) != fp {
		t.Errorf("fingerprint %q", fp)
	}
}
