package bbssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bbssh/test/delayrelay"
	"bbssh/test/testbed"

	"golang.org/x/crypto/ssh"
)

// wanSession starts the test bed's sshd behind a relay with the given
// round trip and returns a session connected through it with rw.
func wanSession(t *testing.T, rtt time.Duration, rw *ssh.ReceiveWindow) (*Session, *testbed.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an sshd")
	}
	srv, err := testbed.Start(testbed.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	relay, err := delayrelay.Start(fmt.Sprintf("%s:%d", srv.Host, srv.Port), rtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	// The relay's port serves the sshd's host keys.
	kh, err := os.ReadFile(srv.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	kh = []byte(strings.ReplaceAll(string(kh), fmt.Sprintf("]:%d ", srv.Port), fmt.Sprintf("]:%d ", relay.Addr().Port)))
	if err := os.WriteFile(known, kh, 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewSession(Options{Host: "127.0.0.1", Port: relay.Addr().Port, User: srv.User,
		IdentityFiles: []string{srv.ClientKey}, NoDefaultIdentities: true, NoAgent: true,
		KnownHosts: []string{known}, NoConfig: true, ReceiveWindow: rw})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

// catFile runs cat on path over s and returns what arrived, while
// recording the most of budget in use.
func catFile(t *testing.T, s *Session, path string, budget *ssh.WindowBudget, peak *peakUse) []byte {
	t.Helper()
	client, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("cat " + path); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 256<<10)
	for {
		n, err := out.Read(buf)
		got.Write(buf[:n])
		peak.note(budget.Used())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := sess.Wait(); err != nil {
		t.Fatalf("cat %s: %v", path, err)
	}
	return got.Bytes()
}

type peakUse struct {
	mu  sync.Mutex
	max uint64
}

func (p *peakUse) note(v uint64) {
	p.mu.Lock()
	p.max = max(p.max, v)
	p.mu.Unlock()
}

// serverFile writes size bytes of a pattern to a file the test user can
// read and returns its path and contents.
func serverFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := 0; i < size; i += sha256.Size {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		copy(data[i:], sum[:])
	}
	dir, err := os.MkdirTemp("", "bbssh-window-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "data")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestReceiveWindowOverWAN downloads through a relay with a 150 ms round
// trip from the real sshd: the channel's window grows, within its cap,
// the data arrives whole, and the growth goes back to the budget when the
// channel closes. Several downloads at once share a small budget without
// exceeding it.
func TestReceiveWindowOverWAN(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name     string
		max      uint32
		budget   uint64
		parallel int
		size     int
	}{
		{"one channel, capped at 16 MiB", 16 * mib, 256 * mib, 1, 40 * mib},
		{"three channels, a budget of 6 MiB", 64 * mib, 6 * mib, 3, 24 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &ssh.ReceiveWindow{Max: tt.max, Budget: ssh.NewWindowBudget(tt.budget)}
			s, _ := wanSession(t, 150*time.Millisecond, rw)
			path, want := serverFile(t, tt.size)
			var peak peakUse
			var wg sync.WaitGroup
			for i := range tt.parallel {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if got := catFile(t, s, path, rw.Budget, &peak); !bytes.Equal(got, want) {
						t.Errorf("download %d: %d bytes arrived that differ from the %d of the file", i, len(got), len(want))
					}
				}()
			}
			wg.Wait()
			t.Logf("budget in use at most %d bytes", peak.max)
			if peak.max == 0 {
				t.Errorf("no window grew at 150 ms round trip")
			}
			if limit := min(tt.budget, uint64(tt.parallel)*uint64(tt.max-channelWindow)); peak.max > limit {
				t.Errorf("windows grew by %d bytes, above the cap and budget (%d)", peak.max, limit)
			}
			deadline := time.Now().Add(10 * time.Second)
			for rw.Budget.Used() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d bytes of the budget still held after the channels closed", rw.Budget.Used())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// channelWindow is x/crypto/ssh's initial receive window.
const channelWindow = 2 << 20
