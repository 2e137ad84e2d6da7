package bbssh

import (
	"bytes"
	"io"
	"testing"
)

func TestForwardListenAddr(t *testing.T) {
	tests := []struct {
		spec          ForwardSpec
		network, addr string
	}{
		{ForwardSpec{ListenPort: 8080}, "tcp", "127.0.0.1:8080"},
		{ForwardSpec{BindAddress: "*", ListenPort: 8080}, "tcp", ":8080"},
		{ForwardSpec{BindAddress: "0.0.0.0", ListenPort: 1}, "tcp", "0.0.0.0:1"},
		{ForwardSpec{BindAddress: "::1"}, "tcp", "[::1]:0"},
		{ForwardSpec{BindAddress: "localhost", ListenPort: 9}, "tcp", "localhost:9"},
		{ForwardSpec{Remote: true, BindAddress: "*", ListenPort: 80}, "tcp", "0.0.0.0:80"},
		{ForwardSpec{Remote: true}, "tcp", "127.0.0.1:0"},
		{ForwardSpec{ListenUnix: "/tmp/x.sock", BindAddress: "*"}, "unix", "/tmp/x.sock"},
	}
	for _, tt := range tests {
		network, addr := tt.spec.listenAddr()
		if network != tt.network || addr != tt.addr {
			t.Errorf("%+v.listenAddr() = %s %s, want %s %s", tt.spec, network, addr, tt.network, tt.addr)
		}
	}
}

func TestForwardTargetAddr(t *testing.T) {
	tests := []struct {
		spec          ForwardSpec
		network, addr string
	}{
		{ForwardSpec{TargetHost: "db", TargetPort: 5432}, "tcp", "db:5432"},
		{ForwardSpec{Remote: true, TargetPort: 3000}, "tcp", "127.0.0.1:3000"},
		{ForwardSpec{TargetHost: "::1", TargetPort: 22}, "tcp", "[::1]:22"},
		{ForwardSpec{TargetUnix: "/var/run/docker.sock", TargetHost: "ignored"}, "unix", "/var/run/docker.sock"},
	}
	for _, tt := range tests {
		network, addr := tt.spec.targetAddr()
		if network != tt.network || addr != tt.addr {
			t.Errorf("%+v.targetAddr() = %s %s, want %s %s", tt.spec, network, addr, tt.network, tt.addr)
		}
	}
}

func TestCopyAdaptive(t *testing.T) {
	// Sizes around the small and bulk buffers, read in chunks of every
	// size; the copy must be exact.
	for _, size := range []int{0, 1, idleBufSize - 1, idleBufSize, idleBufSize + 1, bulkReadMin, bulkBufSize + 7, 3 << 20} {
		for _, chunk := range []int{1, 1000, idleBufSize, 40 << 10, 1 << 20} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			var out bytes.Buffer
			n, err := copyAdaptive(&out, &chunkReader{data: data, chunk: chunk})
			if err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("size %d chunk %d: copied %d, err %v, equal %v", size, chunk, n, err, bytes.Equal(out.Bytes(), data))
			}
		}
	}
}

// chunkReader returns at most chunk bytes per Read.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}
