package delayrelay

import (
	"math/bits"
	"sync"
)

// Chunk buffers come in size classes, powers of two from 4 KiB (reads of
// a few bytes, handshakes and acknowledgements, share it) to chunkSize,
// so that a chunk holds at most twice what it carries.
const (
	minChunkShift = 12
	maxChunkShift = 18 // chunkSize
)

// chunkPools recycle chunk buffers, one pool per size class.
type chunkPools [maxChunkShift - minChunkShift + 1]sync.Pool

// chunkClass returns the index of the smallest class that holds n bytes,
// 0 < n <= chunkSize.
func chunkClass(n int) int {
	return max(bits.Len(uint(n-1))-minChunkShift, 0)
}

// get returns a buffer of length n, 0 < n <= chunkSize, recycled when one
// of its class is free.
func (p *chunkPools) get(n int) []byte {
	class := chunkClass(n)
	if b, ok := p[class].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, 1<<(class+minChunkShift))
}

// put gives b, from get, back for reuse.
func (p *chunkPools) put(b []byte) {
	b = b[:cap(b)]
	p[chunkClass(len(b))].Put(&b)
}
