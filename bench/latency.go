package main

import (
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"

	"bbssh/test/testbed"
)

// echoListener is a TCP echo server for the latency and memory figures.
func echoListener() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln, nil
}

// echoOnce connects to addr, sends 1 KiB, reads it back and closes; it
// returns the time taken.
func echoOnce(addr string, msg []byte) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// percentiles returns p50 and p99 in milliseconds.
func percentiles(ds []time.Duration) (float64, float64) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100])
}

// latencies runs n sequential echoes, then clients x each concurrent ones.
func latencies(addr string, n, clients, each int) (seq, conc []time.Duration, err error) {
	msg := payload[:1024]
	for i := 0; i < n; i++ {
		d, err := echoOnce(addr, msg)
		if err != nil {
			return nil, nil, fmt.Errorf("sequential echo %d: %w", i, err)
		}
		seq = append(seq, d)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d, err := echoOnce(addr, msg)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				conc = append(conc, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return seq, conc, firstErr
}

// measureLatency compares forward latency through the pod's -L and ssh -L.
func measureLatency(p *podClient, srv *testbed.Server, cipher string) ([]execRow, error) {
	echo, err := echoListener()
	if err != nil {
		return nil, err
	}
	defer echo.Close()
	echoPort := echo.Addr().(*net.TCPAddr).Port
	var rows []execRow
	results := map[string][2][2]float64{}
	for _, side := range []string{"openssh", "pod"} {
		var addr string
		var stop func()
		if side == "pod" {
			addr, stop, err = podForward(p, srv, cipher, false, echoPort)
		} else {
			addr, _, stop, err = openSSHForward(srv, cipher, false, echoPort)
		}
		if err != nil {
			return nil, err
		}
		seq, conc, err := latencies(addr, 2000, 200, 10)
		stop()
		if err != nil {
			return nil, fmt.Errorf("%s latency: %w", side, err)
		}
		s50, s99 := percentiles(seq)
		c50, c99 := percentiles(conc)
		results[side] = [2][2]float64{{s50, s99}, {c50, c99}}
	}
	names := [2]string{"2000 sequential connect + 1 KiB echo + close", "200 concurrent clients x 10"}
	for i, name := range names {
		for j, q := range []string{"p50", "p99"} {
			rows = append(rows, execRow{name: fmt.Sprintf("forward latency, %s, %s (ms)", name, q),
				pod: results["pod"][i][j], openssh: results["openssh"][i][j], unit: "ms"})
		}
	}
	for _, r := range rows {
		logf("%-70s pod %8.2f  openssh %8.2f %s  ratio %.2f", r.name, r.pod, r.openssh, r.unit, r.ratio())
	}
	return rows, nil
}
