package bbssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func recordTo(t *testing.T, file, host string) error {
	t.Helper()
	c := &hostKeyChecker{files: []string{file}, mu: &knownHostsWriteMu, messages: func(string) {}}
	return c.record(host, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, newHostKey(t))
}

func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// TestRecordKnownHost checks how an accepted host key is written: a new
// file 0600 in a new 0700 directory; an existing file keeps its entries and
// mode and is replaced by a rename, leaving no temporary file; a symlink
// stays a symlink; concurrent records all land.
func TestRecordKnownHost(t *testing.T) {
	t.Run("new file", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "new", ".ssh", "known_hosts")
		if err := recordTo(t, kh, "h.example:2222"); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]os.FileMode{kh: 0o600, filepath.Dir(kh): 0o700} {
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
				t.Errorf("%s: mode %v (%v), want %v", path, st.Mode().Perm(), err, want)
			}
		}
		if b, _ := os.ReadFile(kh); !strings.HasPrefix(string(b), "[h.example]:2222,127.0.0.1 ssh-ed25519 ") {
			t.Errorf("known_hosts holds %q", b)
		}
	})
	t.Run("existing file", func(t *testing.T) {
		dir := t.TempDir()
		kh := filepath.Join(dir, "known_hosts")
		old := "# mine\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk3WJKbVyZZ0bJxMNh8ifHKmWBpy36GILAjrlaFdMtd"
		if err := os.WriteFile(kh, []byte(old), 0o640); err != nil {
			t.Fatal(err)
		}
		before := inodeOf(t, kh)
		if err := recordTo(t, kh, "h.example"); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(kh)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 3 || strings.Join(lines[:2], "\n") != old || !strings.HasPrefix(lines[2], "h.example,127.0.0.1 ssh-ed25519 ") {
			t.Errorf("known_hosts holds %q", b)
		}
		if inodeOf(t, kh) == before {
			t.Error("the file was written in place, not replaced by a rename")
		}
		if st, _ := os.Stat(kh); st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want the file's own 0640 kept", st.Mode().Perm())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the directory holds %d entries, want only known_hosts", len(entries))
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		target, link := filepath.Join(dir, "dotfiles_known_hosts"), filepath.Join(dir, "known_hosts")
		if err := os.WriteFile(target, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := recordTo(t, link, "h.example"); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("known_hosts is no longer a symlink: %v %v", st.Mode(), err)
		}
		if b, _ := os.ReadFile(target); !strings.HasPrefix(string(b), "h.example,127.0.0.1 ") {
			t.Errorf("the link's target holds %q", b)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := recordTo(t, kh, fmt.Sprintf("h%d.example", i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		b, _ := os.ReadFile(kh)
		if n := strings.Count(string(b), "\n"); n != 20 {
			t.Errorf("%d entries after 20 concurrent records:\n%s", n, b)
		}
	})
}
