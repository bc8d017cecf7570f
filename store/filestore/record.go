package filestore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A record file holds one entry:
//
//	offset  size  field
//	0       4     magic "BKS\x01" (format 1 of this store)
//	4       4     CRC-32C of every byte from offset 8 to the end
//	8       8     version (uint64, big endian)
//	16      8     expiry in Unix nanoseconds (int64; 0: never)
//	24      4     length of the key (uint32)
//	28      k     the key, in full (so that Scan can return it and Get can
//	              tell a hash collision from a hit)
//	28+k    ...   the value, up to the end of the file
//
// A file that is too short, has another magic, a wrong checksum or another
// key is not a record of this key: Get reports it missing (Beaker's
// invalidate_corrupt) and PurgeExpired removes it.

const (
	magic      = "BKS\x01"
	headerSize = 28
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is what decode returns for a file that is not a valid record.
var errCorrupt = errors.New("filestore: corrupt record")

type record struct {
	key     string
	value   []byte
	version uint64
	expires int64 // unix nanoseconds; 0: never
}

// encode returns the bytes of the record file.
func (r *record) encode() []byte {
	b := make([]byte, headerSize+len(r.key)+len(r.value))
	copy(b, magic)
	binary.BigEndian.PutUint64(b[8:], r.version)
	binary.BigEndian.PutUint64(b[16:], uint64(r.expires))
	binary.BigEndian.PutUint32(b[24:], uint32(len(r.key)))
	copy(b[headerSize:], r.key)
	copy(b[headerSize+len(r.key):], r.value)
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
	return b
}

// decode parses a record file. The value aliases b.
func decode(b []byte) (record, error) {
	if len(b) < headerSize || string(b[:4]) != magic {
		return record{}, errCorrupt
	}
	if crc32.Checksum(b[8:], crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return record{}, errCorrupt
	}
	k := binary.BigEndian.Uint32(b[24:])
	if uint64(k) > uint64(len(b)-headerSize) {
		return record{}, errCorrupt
	}
	return record{
		version: binary.BigEndian.Uint64(b[8:]),
		expires: int64(binary.BigEndian.Uint64(b[16:])),
		key:     string(b[headerSize : headerSize+int(k)]),
		value:   b[headerSize+int(k):],
	}, nil
}

// live reports whether the record has not expired at now (unix nanoseconds).
func (r *record) live(now int64) bool { return r.expires == 0 || r.expires > now }
