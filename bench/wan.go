package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"bbssh/test/delayrelay"
	"bbssh/test/tcpserve"
	"bbssh/test/testbed"
)

// The WAN part puts a user-space delay relay (test/delayrelay: it reads as
// fast as data comes and releases each chunk after the delay, a path with
// latency and no bandwidth limit; this kernel has no netem) between the
// client and the sshd, and measures downloads, where the client's receive
// window is what limits a fixed-window client to one window per round
// trip. Pod and OpenSSH go through the same relay in the same run, taking
// turns; OpenSSH's commands share one ControlMaster so that neither side
// pays for connection set-up in the figures.

// wanRow is one line of the WAN table.
type wanRow struct {
	figure       string
	rtt          time.Duration
	pod, openssh float64 // MB/s, the medians
	podRuns      []float64
	opensshRuns  []float64
}

// source is a TCP server that answers an 8-byte big-endian size with that
// many bytes and closes: the far end of a download.
type source struct{ ln net.Listener }

func startSource() (*source, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tcpserve.Accept(ln, func(c net.Conn) {
		var req [8]byte
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		for left := int64(binary.BigEndian.Uint64(req[:])); left > 0; {
			chunk := payload[:min(left, int64(len(payload)))]
			if _, err := c.Write(chunk); err != nil {
				return
			}
			left -= int64(len(chunk))
		}
	})
	return &source{ln: ln}, nil
}

func (s *source) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// download asks the source behind addr for size bytes and returns the time
// until all arrived.
func download(addr string, size int64) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	var req [8]byte
	binary.BigEndian.PutUint64(req[:], uint64(size))
	if _, err := c.Write(req[:]); err != nil {
		return 0, err
	}
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("downloaded %d bytes of %d", n, size)
	}
	return time.Since(start), nil
}

// behindRelay describes the sshd as reached through relay: the same user,
// keys and home, the relay's port, and a known_hosts file that vouches
// for the sshd's host keys on that port.
func behindRelay(srv *testbed.Server, relay *delayrelay.Relay, dir string) (*testbed.Server, error) {
	kh, err := os.ReadFile(srv.KnownHosts)
	if err != nil {
		return nil, err
	}
	port := relay.Addr().Port
	known := filepath.Join(dir, fmt.Sprintf("known_hosts-%d", port))
	kh = []byte(strings.ReplaceAll(string(kh), fmt.Sprintf("]:%d ", srv.Port), fmt.Sprintf("]:%d ", port)))
	if err := os.WriteFile(known, kh, 0o600); err != nil {
		return nil, err
	}
	return &testbed.Server{Host: srv.Host, Port: port, User: srv.User, Home: srv.Home,
		ClientKey: srv.ClientKey, KnownHosts: known}, nil
}

// wanFile writes a size-byte file the test user can read, for scp and
// sftp downloads, and returns its path.
func wanFile(dir string, size int64) (string, error) {
	path := filepath.Join(dir, "wan-source.bin")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	for left := size; left > 0; left -= int64(len(payload)) {
		if _, err := f.Write(payload[:min(left, int64(len(payload)))]); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o644)
}

// measureWAN measures, at each round trip, -L download, -R upload from the
// server's side, exec stdout, scp and sftp downloads, pod against OpenSSH.
func measureWAN(p *podClient, srv *testbed.Server, sk *sink, cipher string, rtts []time.Duration, only string, size int64, runs int) ([]wanRow, error) {
	src, err := startSource()
	if err != nil {
		return nil, err
	}
	defer src.ln.Close()
	dir, err := os.MkdirTemp("", "bbssh-bench-wan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	file, err := wanFile(dir, size)
	if err != nil {
		return nil, err
	}
	var rows []wanRow
	for _, rtt := range rtts {
		got, err := measureWANAt(p, srv, sk, src, cipher, rtt, only, file, dir, size, runs)
		if err != nil {
			return nil, fmt.Errorf("at %v round trip: %w", rtt, err)
		}
		rows = append(rows, got...)
	}
	return rows, nil
}

// measureWANAt measures every figure through one relay of the given round
// trip.
func measureWANAt(p *podClient, srv *testbed.Server, sk *sink, src *source, cipher string, rtt time.Duration, only, file, dir string, size int64, runs int) ([]wanRow, error) {
	relay, err := delayrelay.Start(fmt.Sprintf("%s:%d", srv.Host, srv.Port), rtt)
	if err != nil {
		return nil, err
	}
	defer relay.Close()
	far, err := behindRelay(srv, relay, dir)
	if err != nil {
		return nil, err
	}

	// The pod: one session for the commands and copies, one forward each
	// way; OpenSSH: a ControlMaster, and ssh -N per forward.
	session, release, err := podSession(p, far, cipher)
	if err != nil {
		return nil, fmt.Errorf("pod session: %w", err)
	}
	defer release()
	podL, stopPodL, err := podForward(p, far, cipher, false, src.port())
	if err != nil {
		return nil, fmt.Errorf("pod -L: %w", err)
	}
	defer stopPodL()
	podR, stopPodR, err := podForward(p, far, cipher, true, sk.port())
	if err != nil {
		return nil, fmt.Errorf("pod -R: %w", err)
	}
	defer stopPodR()
	sshL, _, stopSSHL, err := openSSHForward(far, cipher, false, src.port())
	if err != nil {
		return nil, fmt.Errorf("ssh -L: %w", err)
	}
	defer stopSSHL()
	sshR, _, stopSSHR, err := openSSHForward(far, cipher, true, sk.port())
	if err != nil {
		return nil, fmt.Errorf("ssh -R: %w", err)
	}
	defer stopSSHR()
	base, stopMaster, err := controlMaster(far, cipher)
	if err != nil {
		return nil, err
	}
	defer stopMaster()
	target := far.User + "@" + far.Host
	// scp and sftp reuse the ControlMaster through ControlPath.
	copyArgs := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + far.KnownHosts, "-o", "IdentitiesOnly=yes", "-i", far.ClientKey,
		"-o", "ControlPath=" + base[len(base)-1], "-P", strconv.Itoa(far.Port), "-c", cipher}
	back := filepath.Join(dir, "wan-back.bin")
	command := fmt.Sprintf("head -c %d /dev/zero", size)

	timed := func(f func() error) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			start := time.Now()
			err := f()
			return time.Since(start), err
		}
	}
	sshRun := func(name string, args ...string) func() error {
		return func() error {
			out, err := exec.Command(name, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v: %s", name, err, out)
			}
			return nil
		}
	}
	figures := []struct {
		name     string
		pod, ssh func() (time.Duration, error)
	}{
		{"-L download",
			func() (time.Duration, error) { return download(podL, size) },
			func() (time.Duration, error) { return download(sshL, size) }},
		{"-R upload from the server's side",
			func() (time.Duration, error) { return transfer(podR, size) },
			func() (time.Duration, error) { return transfer(sshR, size) }},
		{"exec stdout",
			func() (time.Duration, error) {
				n, d, err := podExecStream(p, session, command)
				if err == nil && n != size {
					err = fmt.Errorf("read %d of %d bytes", n, size)
				}
				return d, err
			},
			timed(func() error {
				cmd := exec.Command("ssh", append(append([]string{}, base...), target, command)...)
				out, err := cmd.StdoutPipe()
				if err != nil {
					return err
				}
				if err := cmd.Start(); err != nil {
					return err
				}
				n, _ := io.CopyBuffer(io.Discard, out, make([]byte, 256<<10))
				if err := cmd.Wait(); err != nil || n != size {
					return fmt.Errorf("ssh: %v, %d of %d bytes", err, n, size)
				}
				return nil
			})},
		{"scp download",
			timed(func() error {
				command, err := p.invoke("pod.epiccastle.bbssh.pod.scp/command", fmt.Sprintf("[:from %q %s]", file, scpAsOpenSSH))
				if err == nil {
					_, err = p.invoke("pod.epiccastle.bbssh.pod.scp/receive", fmt.Sprintf("[%s %s %q %s]", session, command, back, scpAsOpenSSH))
				}
				return err
			}),
			timed(sshRun("scp", append(append([]string{"-O", "-q"}, copyArgs...), target+":"+file, back)...))},
		{"sftp download",
			timed(func() error {
				_, err := p.invoke("pod.epiccastle.bbssh.pod.sftp/download", fmt.Sprintf("[%s %q %q {}]", session, file, back))
				return err
			}),
			timed(func() error {
				cmd := exec.Command("sftp", append(append([]string{}, copyArgs...), "-b", "-", target)...)
				cmd.Stdin = strings.NewReader(fmt.Sprintf("get %s %s\n", file, back))
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("sftp: %v: %s", err, out)
				}
				return nil
			})},
	}
	var rows []wanRow
	for _, f := range figures {
		if !strings.Contains(f.name, only) {
			continue
		}
		var podRates, sshRates []float64
		for i := 0; i < runs; i++ {
			d, err := f.ssh()
			if err != nil {
				return nil, fmt.Errorf("openssh %s: %w", f.name, err)
			}
			sshRates = append(sshRates, float64(size)/d.Seconds()/1e6)
			if d, err = f.pod(); err != nil {
				return nil, fmt.Errorf("pod %s: %w", f.name, err)
			}
			podRates = append(podRates, float64(size)/d.Seconds()/1e6)
		}
		r := wanRow{figure: f.name, rtt: rtt, pod: median(podRates), openssh: median(sshRates), podRuns: podRates, opensshRuns: sshRates}
		logf("WAN %3d ms %-34s pod %7.1f MB/s  openssh %7.1f MB/s  ratio %.2f  (runs: pod %s, openssh %s)", rtt.Milliseconds(), r.figure, r.pod, r.openssh, r.pod/r.openssh, rateList(podRates), rateList(sshRates))
		rows = append(rows, r)
	}
	return rows, nil
}

// wanConcurrent is the figure of several downloads at once over a path
// with latency: the total rate of each client and the peak RSS of each
// client process while they run.
type wanConcurrent struct {
	streams          int
	rtt              time.Duration
	pod, openssh     float64 // MB/s, all streams together
	podRSS, sshRSS   float64 // MiB, peak
	podIdle, sshIdle float64 // MiB, before the downloads
}

// measureWANConcurrent runs streams -L downloads of size bytes each at
// once through a fresh pod's forward and through ssh -L, over a relay of
// the given round trip, sampling each client's RSS.
func measureWANConcurrent(podPath string, srv *testbed.Server, cipher string, rtt time.Duration, streams int, size int64) (wanConcurrent, error) {
	res := wanConcurrent{streams: streams, rtt: rtt}
	src, err := startSource()
	if err != nil {
		return res, err
	}
	defer src.ln.Close()
	dir, err := os.MkdirTemp("", "bbssh-bench-wan-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	relay, err := delayrelay.Start(fmt.Sprintf("%s:%d", srv.Host, srv.Port), rtt)
	if err != nil {
		return res, err
	}
	defer relay.Close()
	far, err := behindRelay(srv, relay, dir)
	if err != nil {
		return res, err
	}
	// Memory is measured on a fresh pod.
	p, err := startPod(podPath)
	if err != nil {
		return res, err
	}
	defer p.close()
	podAddr, stopPod, err := podForward(p, far, cipher, false, src.port())
	if err != nil {
		return res, fmt.Errorf("pod -L: %w", err)
	}
	defer stopPod()
	sshAddr, sshPid, stopSSH, err := openSSHForward(far, cipher, false, src.port())
	if err != nil {
		return res, fmt.Errorf("ssh -L: %w", err)
	}
	defer stopSSH()

	for _, side := range []struct {
		addr       string
		pid        int
		rate       *float64
		idle, peak *float64
	}{{sshAddr, sshPid, &res.openssh, &res.sshIdle, &res.sshRSS}, {podAddr, p.cmd.Process.Pid, &res.pod, &res.podIdle, &res.podRSS}} {
		if *side.idle, err = rssMiB(side.pid); err != nil {
			return res, err
		}
		stop := make(chan struct{})
		sampled := make(chan float64)
		go func() {
			peak := 0.0
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if v, err := rssMiB(side.pid); err == nil {
					peak = max(peak, v)
				}
				select {
				case <-stop:
					sampled <- peak
					return
				case <-tick.C:
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, streams)
		for range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := download(side.addr, size); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		*side.rate = float64(size) * float64(streams) / time.Since(start).Seconds() / 1e6
		close(stop)
		*side.peak = <-sampled
		close(errs)
		if err := <-errs; err != nil {
			return res, err
		}
	}
	logf("WAN %d downloads at once, %d ms: pod %.1f MB/s, peak RSS %.1f MiB; openssh %.1f MB/s, peak RSS %.1f MiB",
		streams, rtt.Milliseconds(), res.pod, res.podRSS, res.openssh, res.sshRSS)
	return res, nil
}

// parseRTTs reads a comma-separated list of round trips in milliseconds.
func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		ms, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("-wan-rtts: %q is not a number of milliseconds", f)
		}
		out = append(out, time.Duration(ms)*time.Millisecond)
	}
	return out, nil
}

// writeWAN adds the WAN part to the report.
func writeWAN(b *strings.Builder, cipher string, rows []wanRow, size int64, conc wanConcurrent, concSize int64) {
	fmt.Fprintf(b, "\n## Wide-area paths (%s)\n\n", cipher)
	fmt.Fprintf(b, "A user-space delay relay (test/delayrelay; no netem here) sits between the client and the sshd and adds the round trip: it reads as fast as data comes and releases each chunk after half the round trip, each way, so the path has latency and no bandwidth limit. %d MiB per transfer; the pod on one open session, OpenSSH's commands on one ControlMaster, forwards by `ssh -N`; scp on both sides without -p (the pod told not to keep times and modes, which it does by default); the -R row's data is sent by a client on the server's side through the remote forward to the pod. Ratio: pod / OpenSSH, of the medians; the runs are listed in the order they ran (a run far below the others is a stalled sshd: docs/performance.md).\n\n", size>>20)
	fmt.Fprintf(b, "| figure | round trip | pod MB/s | OpenSSH MB/s | pod / OpenSSH | pod runs | OpenSSH runs |\n|---|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %d ms | %.1f | %.1f | %.2f | %s | %s |\n", r.figure, r.rtt.Milliseconds(), r.pod, r.openssh, r.pod/r.openssh, rateList(r.podRuns), rateList(r.opensshRuns))
	}
	if conc.streams > 0 {
		fmt.Fprintf(b, "\n%d -L downloads of %d MiB at once at %d ms (a fresh pod; one ssh -N -L): pod %.1f MB/s in all, peak RSS %.1f MiB (%.1f before); OpenSSH %.1f MB/s, peak RSS %.1f MiB (%.1f before).\n",
			conc.streams, concSize>>20, conc.rtt.Milliseconds(), conc.pod, conc.podRSS, conc.podIdle, conc.openssh, conc.sshRSS, conc.sshIdle)
	}
}

// rateList formats the rates of each run, for the log.
func rateList(rates []float64) string {
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = fmt.Sprintf("%.0f", r)
	}
	return strings.Join(parts, " ")
}
