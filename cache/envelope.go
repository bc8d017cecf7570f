package cache

import (
	"encoding/binary"
	"encoding/json"
)

// The envelope of a value in a remote region: a 4-byte header (the magic
// "bkc" and the format version), the creation time as 8 bytes big-endian
// unix nanoseconds, then the JSON payload. 12 bytes of overhead. Anything
// else (another version, a foreign record, a payload that does not decode
// into the type asked for) is a miss, so a format change needs no flush.
const (
	envelopeMagic   = "bkc"
	envelopeVersion = 1
	envelopeHeader  = 12
)

func encodeEnvelope(created int64, v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b := make([]byte, envelopeHeader, envelopeHeader+len(payload))
	copy(b, envelopeMagic)
	b[3] = envelopeVersion
	binary.BigEndian.PutUint64(b[4:], uint64(created))
	return append(b, payload...), nil
}

func decodeEnvelope(b []byte) (created int64, payload []byte, ok bool) {
	if len(b) < envelopeHeader || string(b[:3]) != envelopeMagic || b[3] != envelopeVersion {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(b[4:])), b[envelopeHeader:], true
}
