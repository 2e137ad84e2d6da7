package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"bbssh/test/tcpserve"
	"bbssh/test/testbed"
)

// sink is a TCP server that reads each connection to its end and answers
// with the number of bytes it read, so the sender knows all arrived.
type sink struct {
	ln net.Listener
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tcpserve.Accept(ln, func(c net.Conn) {
		buf := make([]byte, 256<<10)
		n, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, buf)
		var reply [8]byte
		binary.BigEndian.PutUint64(reply[:], uint64(n))
		c.Write(reply[:])
	})
	return &sink{ln: ln}, nil
}

func (s *sink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// payload is the 1 MiB block every transfer repeats.
var payload = func() []byte {
	b := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}()

// transfer sends size bytes to the sink behind addr and returns the time
// until the sink confirmed it read them all.
func transfer(addr string, size int64) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	for left := size; left > 0; {
		chunk := payload[:min(left, int64(len(payload)))]
		if _, err := c.Write(chunk); err != nil {
			return 0, fmt.Errorf("writing: %w", err)
		}
		left -= int64(len(chunk))
	}
	c.(*net.TCPConn).CloseWrite()
	var reply [8]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		return 0, fmt.Errorf("reading the sink's count: %w", err)
	}
	if got := int64(binary.BigEndian.Uint64(reply[:])); got != size {
		return 0, fmt.Errorf("the sink read %d bytes of %d", got, size)
	}
	return time.Since(start), nil
}

// medianRate runs transfer runs times and returns the median in MB/s.
func medianRate(addr string, size int64, runs int) (float64, error) {
	var rates []float64
	for i := 0; i < runs; i++ {
		d, err := transfer(addr, size)
		if err != nil {
			return 0, err
		}
		rates = append(rates, float64(size)/d.Seconds()/1e6)
	}
	sort.Float64s(rates)
	return rates[len(rates)/2], nil
}

// waitConnectable polls addr until a TCP connect succeeds, for at most
// 15 s.
func waitConnectable(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never accepted: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// openSSHForward runs OpenSSH's client with one forward (-L or -R) to the
// sink and returns the address to send to and a stop function.
func openSSHForward(srv *testbed.Server, cipher string, remote bool, sinkPort int) (string, int, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", 0, nil, err
	}
	flag := "-L"
	if remote {
		flag = "-R"
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ssh", "-N", "-F", "/dev/null",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+srv.KnownHosts,
		"-o", "IdentitiesOnly=yes", "-o", "ExitOnForwardFailure=yes", "-i", srv.ClientKey,
		"-p", strconv.Itoa(srv.Port), "-c", cipher,
		flag, fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", port, sinkPort), srv.User+"@"+srv.Host)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return "", 0, nil, err
	}
	stop := func() { cancel(); cmd.Wait() }
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitConnectable(addr); err != nil {
		stop()
		return "", 0, nil, err
	}
	return addr, cmd.Process.Pid, stop, nil
}

// podForward starts a pod session with the cipher and one forward to the
// sink, through the pod protocol, and returns the address to send to.
func podForward(p *podClient, srv *testbed.Server, cipher string, remote bool, sinkPort int) (string, func(), error) {
	opts := fmt.Sprintf(`{:port %d :username %q :identity %q :known-hosts %q :no-agent true :identities-only true :connection-options {:cipher %q}}`,
		srv.Port, srv.User, srv.ClientKey, srv.KnownHosts, cipher)
	session, err := p.invoke("pod.epiccastle.bbssh.pod.session/new", fmt.Sprintf("[%q %s]", srv.Host, opts))
	if err != nil {
		return "", nil, err
	}
	stop := func() { p.invoke("pod.epiccastle.bbssh.pod.registry/release", "["+session+"]") }
	if _, err := p.invoke("pod.epiccastle.bbssh.pod.session/connect", "["+session+"]"); err != nil {
		stop()
		return "", nil, err
	}
	var port int
	if remote {
		port, err = p.invokeInt("pod.epiccastle.bbssh.pod.forward/forward-remote",
			fmt.Sprintf("[%s {:remote-port 0 :local-host \"127.0.0.1\" :local-port %d}]", session, sinkPort))
	} else {
		port, err = p.invokeInt("pod.epiccastle.bbssh.pod.forward/forward-local",
			fmt.Sprintf("[%s {:local-port 0 :remote-host \"127.0.0.1\" :remote-port %d}]", session, sinkPort))
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return addr, stop, waitConnectable(addr)
}

// throughputRow is one line of the throughput table.
type throughputRow struct {
	name         string
	pod, openssh float64 // MB/s
	// podCPU and sshCPU are CPU milliseconds per MiB moved, of the pod
	// and of the ssh client process.
	podCPU, sshCPU float64
}

func (r throughputRow) ratio() float64 {
	if r.openssh == 0 {
		return 0
	}
	return r.pod / r.openssh
}

// measureThroughput measures local and remote forward throughput for each
// cipher. OpenSSH and the pod take turns, run by run, so that both see the
// same machine even when its speed drifts, and which goes first
// alternates, so that neither always runs right after the other.
func measureThroughput(ps *pods, srv *testbed.Server, sk *sink, ciphers []string, directions string, size int64, runs int) ([]throughputRow, error) {
	var rows []throughputRow
	for _, cipher := range ciphers {
		for _, remote := range []bool{false, true} {
			name := "local forward (-L)"
			if remote {
				name = "remote forward (-R)"
			}
			if !strings.Contains(directions, map[bool]string{false: "L", true: "R"}[remote]) {
				continue
			}
			row := throughputRow{name: fmt.Sprintf("%s, %s", name, cipher)}
			if err := throughputRowRuns(ps, srv, sk, cipher, remote, size, runs, &row); err != nil {
				return nil, fmt.Errorf("%s: %w", row.name, err)
			}
			logf("%-50s pod %7.0f MB/s  openssh %7.0f MB/s  ratio %.2f; CPU ms/MiB pod %.2f openssh %.2f", row.name, row.pod, row.openssh, row.ratio(), row.podCPU, row.sshCPU)
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// throughputRowRuns fills one row: both forwards are set up, then runs
// transfers alternate between them.
func throughputRowRuns(ps *pods, srv *testbed.Server, sk *sink, cipher string, remote bool, size int64, runs int, row *throughputRow) error {
	p, done, err := ps.get(row.name)
	if err != nil {
		return err
	}
	defer done()
	podAddr, podStop, err := podForward(p, srv, cipher, remote, sk.port())
	if err != nil {
		return fmt.Errorf("pod: %w", err)
	}
	defer podStop()
	sshAddr, sshPid, sshStop, err := openSSHForward(srv, cipher, remote, sk.port())
	if err != nil {
		return fmt.Errorf("openssh: %w", err)
	}
	defer sshStop()
	var podRates, sshRates, podCPU, sshCPU []float64
	type client struct {
		addr       string
		pid        int
		rates, cpu *[]float64
	}
	ssh := client{sshAddr, sshPid, &sshRates, &sshCPU}
	pod := client{podAddr, p.cmd.Process.Pid, &podRates, &podCPU}
	for i := 0; i < runs; i++ {
		// The clients take turns, and which goes first alternates, so
		// that neither always runs after the other's transfer.
		order := []client{ssh, pod}
		if i%2 == 1 {
			order = []client{pod, ssh}
		}
		for _, side := range order {
			before, err := cpuSeconds(side.pid)
			if err != nil {
				return err
			}
			d, err := transfer(side.addr, size)
			if err != nil {
				return err
			}
			after, err := cpuSeconds(side.pid)
			if err != nil {
				return err
			}
			*side.rates = append(*side.rates, float64(size)/d.Seconds()/1e6)
			*side.cpu = append(*side.cpu, (after-before)*1000/float64(size>>20))
		}
	}
	row.pod, row.openssh = median(podRates), median(sshRates)
	row.podCPU, row.sshCPU = median(podCPU), median(sshCPU)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// cpuModel names the machine's CPU from /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
