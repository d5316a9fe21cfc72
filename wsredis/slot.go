package wsredis

import "strings"

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// crcTable is the table of CRC-16/XMODEM (polynomial 0x1021), the checksum Redis
// Cluster hashes keys and shard channels with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// slot returns the Redis Cluster hash slot of a key or shard channel name: the CRC-16 of
// its hash tag (what lies between the first '{' and the first '}' after it, when that is
// not empty) or of the whole name, modulo 16384. The backend needs it to send one
// SSUBSCRIBE per slot, since Redis refuses one whose channels are in different slots, and
// to know which channels a MOVED reply names.
func slot(name string) int {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		if j := strings.IndexByte(name[i+1:], '}'); j > 0 {
			name = name[i+1 : i+1+j]
		}
	}
	var c uint16
	for i := 0; i < len(name); i++ {
		c = c<<8 ^ crcTable[byte(c>>8)^name[i]]
	}
	return int(c) % slotCount
}
