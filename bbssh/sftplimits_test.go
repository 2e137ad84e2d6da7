package bbssh

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bbssh/test/envskip"
)

func TestSftpRequestSize(t *testing.T) {
	for _, tt := range []struct {
		name string
		lim  sftpLimits
		want int
	}{
		{"none stated", sftpLimits{}, 32 << 10},
		{"OpenSSH", sftpLimits{packet: 256 << 10, read: 255 << 10, write: 255 << 10, handles: 1024}, 255 << 10},
		{"more than we take", sftpLimits{packet: 1 << 30, read: 1 << 30, write: 1 << 30}, sftpMaxRequest},
		{"smaller reads", sftpLimits{read: 64 << 10}, 64 << 10},
		{"smaller writes", sftpLimits{read: 200 << 10, write: 100 << 10}, 100 << 10},
		{"packet bounds writes", sftpLimits{packet: 64 << 10, read: 255 << 10, write: 255 << 10}, 63 << 10},
		{"tiny", sftpLimits{packet: 100, read: 100, write: 100}, 100},
		{"small packet", sftpLimits{packet: 4096, read: 64 << 10}, 3072},
	} {
		if got := sftpRequestSize(tt.lim); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// scriptedSftpServer answers the handshake as told: a VERSION offering
// exts, then, to the first request after it, answer (raw bytes). It
// returns what the client sent.
func scriptedSftpServer(t *testing.T, exts []string, answer []byte) (r io.Reader, w io.WriteCloser, sent *bytes.Buffer) {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	sent = &bytes.Buffer{}
	go func() {
		defer sw.Close()
		raw, typ, _, err := readSftpPacket(sr)
		if err != nil || typ != sftpInit {
			t.Errorf("server: first packet %v, type %d", err, typ)
			return
		}
		sent.Write(raw)
		body := binary.BigEndian.AppendUint32(nil, sftpProtocol)
		for _, e := range exts {
			body = appendSftpString(appendSftpString(body, e), "1")
		}
		writeSftpPacket(sw, sftpVersion, body)
		if raw, _, _, err := readSftpPacket(sr); err == nil {
			sent.Write(raw)
			sw.Write(answer)
		}
		io.Copy(io.Discard, sr)
	}()
	return cr, cw, sent
}

func sftpRaw(typ byte, body []byte) []byte {
	var b bytes.Buffer
	writeSftpPacket(&b, typ, body)
	return b.Bytes()
}

func TestSftpHandshake(t *testing.T) {
	limits := binary.BigEndian.AppendUint32(nil, 1)
	for _, v := range []uint64{256 << 10, 255 << 10, 200 << 10, 1024} {
		limits = binary.BigEndian.AppendUint64(limits, v)
	}
	for _, tt := range []struct {
		name    string
		exts    []string
		answer  []byte
		want    sftpLimits
		wantErr string
	}{
		{"no extension", []string{"posix-rename@openssh.com"}, nil, sftpLimits{}, ""},
		{"limits", []string{"posix-rename@openssh.com", sftpLimitsName}, sftpRaw(sftpExtendedReply, limits), sftpLimits{256 << 10, 255 << 10, 200 << 10, 1024}, ""},
		{"refused", []string{sftpLimitsName}, sftpRaw(sftpStatus, append(binary.BigEndian.AppendUint32(nil, 1), 0, 0, 0, 8)), sftpLimits{}, ""},
		{"wrong answer", []string{sftpLimitsName}, sftpRaw(sftpVersion, []byte{0, 0, 0, 3}), sftpLimits{}, "unexpected answer"},
		{"short reply", []string{sftpLimitsName}, sftpRaw(sftpExtendedReply, limits[:20]), sftpLimits{}, "unexpected answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, w, sent := scriptedSftpServer(t, tt.exts, tt.answer)
			defer w.Close()
			version, lim, err := sftpHandshake(r, w)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lim != tt.want {
				t.Errorf("limits %+v, want %+v", lim, tt.want)
			}
			if len(version) < 9 || version[4] != sftpVersion {
				t.Errorf("version packet %x", version)
			}
			asked := bytes.Contains(sent.Bytes(), []byte(sftpLimitsName))
			if offered := len(tt.exts) > 0 && tt.exts[len(tt.exts)-1] == sftpLimitsName; asked != offered {
				t.Errorf("asked for limits: %v, offered: %v", asked, offered)
			}
		})
	}
}

// TestSftpReplay writes an INIT in pieces of every size through the
// replay: none of it reaches the server, what follows does, and the
// client reads the server's VERSION before the stream.
func TestSftpReplay(t *testing.T) {
	initPacket := sftpRaw(sftpInit, binary.BigEndian.AppendUint32(nil, sftpProtocol))
	after := []byte("the rest of the stream")
	for piece := 1; piece <= len(initPacket)+len(after); piece++ {
		var out bytes.Buffer
		rp := newSftpReplay(strings.NewReader("stream"), nopWriteCloser{&out}, []byte("VERSION"))
		all := append(append([]byte{}, initPacket...), after...)
		for len(all) > 0 {
			k := min(piece, len(all))
			if n, err := rp.Write(all[:k]); n != k || err != nil {
				t.Fatalf("piece %d: wrote %d of %d: %v", piece, n, k, err)
			}
			all = all[k:]
		}
		if !bytes.Equal(out.Bytes(), after) {
			t.Fatalf("piece %d: the server got %q", piece, out.Bytes())
		}
		got, _ := io.ReadAll(rp)
		if string(got) != "VERSIONstream" {
			t.Fatalf("piece %d: the client read %q", piece, got)
		}
	}
	rp := newSftpReplay(strings.NewReader(""), nopWriteCloser{io.Discard}, nil)
	if _, err := rp.Write(sftpRaw(sftpStatus, []byte{0, 0, 0, 1})); err == nil {
		t.Error("a first packet that is not INIT went through")
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// TestSftpLimitsOpenSSH runs OpenSSH's sftp-server: the pod learns its
// limits, uses requests of 255 KiB, and files of sizes around the request
// size go both ways whole.
func TestSftpLimitsOpenSSH(t *testing.T) {
	server := "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(server); err != nil {
		envskip.Skipf(t, "no OpenSSH sftp-server: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(server, "-d", dir)
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	sc, size, err := newSftpClient(r, w)
	if err != nil {
		t.Fatal(err)
	}
	if size <= 32<<10 {
		t.Fatalf("request size %d: the server's limits were not used", size)
	}
	c := &SftpClient{sc: sc}
	defer c.Close()
	for _, size := range []int{0, 1, 255<<10 - 1, 255 << 10, 255<<10 + 1, 3<<20 + 12345} {
		data := randomBytes(t, size)
		local := filepath.Join(t.TempDir(), "up")
		if err := os.WriteFile(local, data, 0o600); err != nil {
			t.Fatal(err)
		}
		remote := filepath.Join(dir, "f")
		if err := c.Put(context.Background(), local, remote, SftpOptions{}); err != nil {
			t.Fatalf("%d bytes up: %v", size, err)
		}
		back := filepath.Join(t.TempDir(), "down")
		if err := c.Get(context.Background(), remote, back, SftpOptions{}); err != nil {
			t.Fatalf("%d bytes down: %v", size, err)
		}
		if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: came back as %d bytes (%v)", size, len(got), err)
		}
	}
}
