package bbssh

import (
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// keepalive asks the server for a sign of life every interval, as
// OpenSSH's ServerAliveInterval does, and closes the connection when
// countMax requests in a row go unanswered, so that a dead server is
// noticed instead of hanging every command and forward. It returns when
// the connection ends. lost records why it closed the connection.
func keepalive(client *ssh.Client, interval time.Duration, countMax int, lost func(reason string)) {
	if countMax <= 0 {
		countMax = 3
	}
	done := make(chan struct{})
	go func() { client.Wait(); close(done) }()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	missed := 0
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
		}
		answered := make(chan struct{})
		go func() {
			// OpenSSH answers keepalive@openssh.com with a failure,
			// which still proves it is alive.
			if _, _, err := client.SendRequest("keepalive@openssh.com", true, nil); err == nil {
				close(answered)
			}
		}()
		select {
		case <-answered:
			missed = 0
		case <-done:
			return
		case <-time.After(interval):
			missed++
			if missed >= countMax {
				lost(fmt.Sprintf("the server did not answer %d keepalives %v apart", missed, interval))
				client.Close()
				return
			}
		}
	}
}
