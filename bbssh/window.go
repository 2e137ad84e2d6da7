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
//
// Channels also take data packets of up to MaxDataPacket instead of
// 32 KiB. OpenSSH's sshd sends one packet per turn of its loop and reads
// at most 32 KiB per turn, so with 32 KiB packets whatever it read ahead
// into a channel's buffer (it reads ahead as far as the window allows
// whenever its connection's output backs up) stays there, and the buffer,
// growing by 32 KiB per copy of itself, is copied on every packet: a stall
// of seconds at a few MB/s with a large window (docs/performance.md).
// Larger packets let it empty that buffer in a few turns.
const (
	// MaxChannelWindow is the largest receive window of one channel: at
	// 100 ms round trip, up to about 670 MB/s for one channel.
	MaxChannelWindow = 64 << 20
	// WindowBudget bounds the pod's window growth over all sessions: the
	// data servers may have in flight to the pod beyond the initial
	// windows, if no script reads it.
	WindowBudget = 256 << 20
	// MaxDataPacket is the largest data packet a channel takes, as told
	// to the server when the channel opens.
	MaxDataPacket = 128 << 10
)

// NewReceiveWindow returns the window policy of one pod: the sessions
// given it (Options.ReceiveWindow) share its budget.
func NewReceiveWindow() *ssh.ReceiveWindow {
	return &ssh.ReceiveWindow{Max: MaxChannelWindow, Budget: ssh.NewWindowBudget(WindowBudget), MaxPacket: MaxDataPacket}
}
