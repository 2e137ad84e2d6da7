package pod

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSocketTransportListensOnLoopbackOnly checks that the socket
// transport's port is reachable on 127.0.0.1 only (not on the rest of
// 127.0.0.0/8, not on IPv6), and that once babashka has connected nobody
// else can.
func TestSocketTransportListensOnLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	ch := make(chan *Transport, 1)
	go func() {
		tr, err := ListenSocket(context.Background(), dir)
		if err != nil {
			t.Error(err)
		}
		ch <- tr
	}()
	portFile := filepath.Join(dir, PortFileName(os.Getpid()))
	var port string
	for i := 0; i < 200 && port == ""; i++ {
		if b, err := os.ReadFile(portFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			port = strings.TrimSpace(string(b))
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if port == "" {
		t.Fatal("port file never appeared")
	}
	if st, err := os.Stat(portFile); err != nil || st.Mode().Perm()&0o022 != 0 {
		t.Errorf("port file mode %v (%v): only the owner may change it", st.Mode().Perm(), err)
	}
	for _, addr := range []string{"127.0.0.2", "127.1.2.3", "::1"} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, port), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the socket transport accepted a connection on %s", addr)
		}
	}
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tr := <-ch
	if tr == nil {
		t.Fatal("no transport")
	}
	defer tr.Close()
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 2*time.Second); err == nil {
		c.Close()
		t.Error("a second client could connect after babashka did")
	}
}
