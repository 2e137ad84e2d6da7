package bbssh

import "golang.org/x/crypto/ssh"

// Receive windows. OpenSSH, and x/crypto/ssh unpatched, give every
// channel a fixed 2 MiB receive window: a server can send a channel at
// most 2 MiB per round trip, about 42 MB/s at 50 ms, however fast the
// link. The pod's patched x/crypto/ssh (third_party/PATCHES.md) lets a
// channel's window double while a whole window is read within two round
// trips (quadruple within 1.25, eightfold within half a round trip), as
// HPN-SSH sizes windows to the path, up to MaxChannelWindow per
// channel and WindowBudget beyond the initial windows for the whole pod.
// Idle channels, and channels whose reader is slower than the path, keep
// 2 MiB. Uploads are the server's window and are not affected.
const (
	// MaxChannelWindow is the largest receive window of one channel: at
	// 100 ms round trip, up to about 670 MB/s for one channel.
	MaxChannelWindow = 64 << 20
	// WindowBudget bounds the pod's window growth over all sessions: the
	// data servers may have in flight to the pod beyond the initial
	// windows, if no script reads it.
	WindowBudget = 256 << 20
)

// NewReceiveWindow returns the window policy of one pod: the sessions
// given it (Options.ReceiveWindow) share its budget.
func NewReceiveWindow() *ssh.ReceiveWindow {
	return &ssh.ReceiveWindow{Max: MaxChannelWindow, Budget: ssh.NewWindowBudget(WindowBudget)}
}
