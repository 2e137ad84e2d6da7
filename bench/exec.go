package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"bbssh/test/testbed"

	"olympos.io/encoding/edn"
)

// podSession opens a connected session in the pod and returns its handle
// and a function that releases it.
func podSession(p *podClient, srv *testbed.Server, cipher string) (string, func(), error) {
	opts := fmt.Sprintf(`{:port %d :username %q :identity %q :known-hosts %q :no-agent true :identities-only true :config-file false :connection-options {:cipher %q}}`,
		srv.Port, srv.User, srv.ClientKey, srv.KnownHosts, cipher)
	session, err := p.invoke("pod.epiccastle.bbssh.pod.session/new", fmt.Sprintf("[%q %s]", srv.Host, opts))
	if err != nil {
		return "", nil, err
	}
	release := func() { p.invoke("pod.epiccastle.bbssh.pod.registry/release", "["+session+"]") }
	if _, err := p.invoke("pod.epiccastle.bbssh.pod.session/connect", "["+session+"]"); err != nil {
		release()
		return "", nil, err
	}
	return session, release, nil
}

// controlMaster starts an OpenSSH ControlMaster to the test sshd and
// returns the ssh arguments that reuse it, and a stop function.
func controlMaster(srv *testbed.Server, cipher string) ([]string, func(), error) {
	dir, err := os.MkdirTemp("", "bbssh-bench-cm-")
	if err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(dir, "cm")
	base := append(sshBaseArgs(srv, cipher), "-S", sock)
	ctx, cancel := context.WithCancel(context.Background())
	master := exec.CommandContext(ctx, "ssh", append(append([]string{}, base...), "-M", "-N", srv.User+"@"+srv.Host)...)
	master.Stderr = os.Stderr
	if err := master.Start(); err != nil {
		cancel()
		return nil, nil, err
	}
	stop := func() { cancel(); master.Wait(); os.RemoveAll(dir) }
	deadline := time.Now().Add(15 * time.Second)
	for {
		if exec.Command("ssh", append(append([]string{}, base...), "-O", "check", srv.User+"@"+srv.Host)...).Run() == nil {
			return base, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("the ControlMaster never came up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sshBaseArgs(srv *testbed.Server, cipher string) []string {
	return []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + srv.KnownHosts, "-o", "IdentitiesOnly=yes", "-i", srv.ClientKey,
		"-p", strconv.Itoa(srv.Port), "-c", cipher}
}

// podExecStream runs command with stdout on a data channel and returns
// the bytes read and the time until the exit status arrived.
func podExecStream(p *podClient, session, command string) (int64, time.Duration, error) {
	start := time.Now()
	proc, err := p.invoke("pod.epiccastle.bbssh.pod.exec/start", fmt.Sprintf(`[%s %q {:out :stream :err :discard}]`, session, command))
	if err != nil {
		return 0, 0, err
	}
	offer, err := p.invoke("pod.epiccastle.bbssh.pod.exec/channel", fmt.Sprintf("[%s :out]", proc))
	if err != nil {
		return 0, 0, err
	}
	var ch struct {
		Port  int    `edn:"port"`
		Token string `edn:"token"`
	}
	if err := edn.UnmarshalString(offer, &ch); err != nil {
		return 0, 0, fmt.Errorf("channel offer %q: %w", offer, err)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ch.Port)))
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, ch.Token+"\n"); err != nil {
		return 0, 0, err
	}
	n, err := io.CopyBuffer(io.Discard, conn, make([]byte, 256<<10))
	if err != nil {
		return 0, 0, err
	}
	if _, err := p.invoke("pod.epiccastle.bbssh.pod.exec/wait", "["+proc+"]"); err != nil {
		return 0, 0, err
	}
	return n, time.Since(start), nil
}

// execRow is one line of the exec table.
type execRow struct {
	name           string
	pod, openssh   float64
	unit           string
	higherIsBetter bool
}

func (r execRow) ratio() float64 {
	if r.openssh == 0 || r.pod == 0 {
		return 0
	}
	if r.higherIsBetter {
		return r.pod / r.openssh
	}
	return r.openssh / r.pod
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// measureExec measures stdout streaming of size bytes and the round trip
// of `true`, for the pod and for OpenSSH with a ControlMaster (and, for
// the round trip, without one).
func measureExec(p *podClient, srv *testbed.Server, cipher string, size int64, runs int) ([]execRow, error) {
	session, release, err := podSession(p, srv, cipher)
	if err != nil {
		return nil, err
	}
	defer release()
	base, stopMaster, err := controlMaster(srv, cipher)
	if err != nil {
		return nil, err
	}
	defer stopMaster()
	target := srv.User + "@" + srv.Host
	command := fmt.Sprintf("head -c %d /dev/zero", size)

	var podRates, sshRates []float64
	for i := 0; i < runs; i++ {
		n, d, err := podExecStream(p, session, command)
		if err != nil {
			return nil, fmt.Errorf("pod exec stream: %w", err)
		}
		if n != size {
			return nil, fmt.Errorf("pod exec stream: read %d of %d bytes", n, size)
		}
		podRates = append(podRates, float64(n)/d.Seconds()/1e6)
		cmd := exec.Command("ssh", append(append([]string{}, base...), target, command)...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		m, _ := io.CopyBuffer(io.Discard, out, make([]byte, 256<<10))
		if err := cmd.Wait(); err != nil || m != size {
			return nil, fmt.Errorf("ssh exec stream: %v, %d bytes", err, m)
		}
		sshRates = append(sshRates, float64(m)/time.Since(start).Seconds()/1e6)
	}
	rows := []execRow{{name: fmt.Sprintf("exec stdout streaming, %d MiB (MB/s)", size>>20), pod: median(podRates),
		openssh: median(sshRates), unit: "MB/s", higherIsBetter: true}}

	const trips = 30
	var podTrip, cmTrip, plainTrip []float64
	for i := 0; i < trips; i++ {
		start := time.Now()
		proc, err := p.invoke("pod.epiccastle.bbssh.pod.exec/start", fmt.Sprintf(`[%s "true" {:out :discard :err :discard}]`, session))
		if err != nil {
			return nil, err
		}
		if _, err := p.invoke("pod.epiccastle.bbssh.pod.exec/wait", "["+proc+"]"); err != nil {
			return nil, err
		}
		podTrip = append(podTrip, float64(time.Since(start).Microseconds())/1000)
		start = time.Now()
		if err := exec.Command("ssh", append(append([]string{}, base...), target, "true")...).Run(); err != nil {
			return nil, fmt.Errorf("ssh -S true: %w", err)
		}
		cmTrip = append(cmTrip, float64(time.Since(start).Microseconds())/1000)
		if i < 10 {
			start = time.Now()
			if err := exec.Command("ssh", append(sshBaseArgs(srv, cipher), target, "true")...).Run(); err != nil {
				return nil, fmt.Errorf("ssh true: %w", err)
			}
			plainTrip = append(plainTrip, float64(time.Since(start).Microseconds())/1000)
		}
	}
	rows = append(rows,
		execRow{name: "exec round trip of `true` vs ssh with ControlMaster (ms, median of 30)", pod: median(podTrip), openssh: median(cmTrip), unit: "ms"},
		execRow{name: "exec round trip of `true` vs ssh without ControlMaster (ms)", pod: median(podTrip), openssh: median(plainTrip), unit: "ms"})
	for _, r := range rows {
		logf("%-70s pod %8.2f  openssh %8.2f %s  ratio %.2f", r.name, r.pod, r.openssh, r.unit, r.ratio())
	}
	return rows, nil
}
