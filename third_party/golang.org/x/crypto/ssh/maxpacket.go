// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

// Larger data packets on receive. A channel tells its peer the largest
// data packet it takes when it opens; upstream says 32 KiB, as OpenSSH's
// client does. OpenSSH's sshd reads at most 32 KiB from a forwarded socket
// or a command's output per turn of its loop and sends at most one packet
// per turn, so with 32 KiB packets what it has read ahead into a channel's
// buffer never shrinks while the source keeps up. When its connection's
// output backs up for a moment with a window larger than the path carries,
// it reads ahead by megabytes, and from then on its buffer (an sshbuf that
// grows 32 KiB per copy of itself) is reallocated and copied on every
// packet: seconds at a few MB/s. A peer allowed larger packets sends what
// it read ahead in a few turns, its buffer empties, and it stops copying.

// maxReceivePacket bounds ReceiveWindow.MaxPacket: a packet of that much
// data and its headers stays well within the transport's maxPacket.
const maxReceivePacket = 128 << 10

// maxPacket returns the largest data packet the channels of a connection
// with rw accept: rw.MaxPacket within [channelMaxPacket, maxReceivePacket],
// or channelMaxPacket without rw.
func (rw *ReceiveWindow) maxPacket() uint32 {
	if rw == nil || rw.MaxPacket <= channelMaxPacket {
		return channelMaxPacket
	}
	return min(rw.MaxPacket, maxReceivePacket)
}
