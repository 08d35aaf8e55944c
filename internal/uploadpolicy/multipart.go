package uploadpolicy

import "fmt"

// S3's multipart limits.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	MaxParts    = 10000
)

// PartSize chooses the part size for an object of total bytes: 8 MiB, or
// more when needed to stay within 10,000 parts, rounded up to a whole MiB.
func PartSize(total int64) (int64, error) {
	const preferred = 8 << 20
	size := int64(preferred)
	if need := (total + MaxParts - 1) / MaxParts; need > size {
		size = (need + (1 << 20) - 1) / (1 << 20) * (1 << 20)
	}
	if size > MaxPartSize {
		return 0, fmt.Errorf("%d bytes need parts over S3's 5 GiB limit", total)
	}
	return size, nil
}

// PartCount is the number of parts of an object of total bytes.
func PartCount(total, partSize int64) int32 {
	if total <= 0 {
		return 1
	}
	return int32((total + partSize - 1) / partSize)
}

// PartLength is the exact size of part n (1-based).
func PartLength(total, partSize int64, n int32) int64 {
	count := PartCount(total, partSize)
	if n < count {
		return partSize
	}
	return total - int64(count-1)*partSize
}

// CheckParts compares the store's list of parts with what the upload
// declared: exactly parts 1..count, each of its exact size. It returns a
// description of the first difference, or nil.
func CheckParts(parts []Part, total, partSize int64) error {
	count := PartCount(total, partSize)
	seen := make(map[int32]bool, len(parts))
	for _, p := range parts {
		switch {
		case p.Number < 1 || p.Number > count:
			return fmt.Errorf("part %d is not part of this upload (it has parts 1 to %d)", p.Number, count)
		case seen[p.Number]:
			return fmt.Errorf("part %d is listed twice", p.Number)
		case p.Size != PartLength(total, partSize, p.Number):
			return fmt.Errorf("part %d is %d bytes, want %d", p.Number, p.Size, PartLength(total, partSize, p.Number))
		}
		seen[p.Number] = true
	}
	for n := int32(1); n <= count; n++ {
		if !seen[n] {
			return fmt.Errorf("part %d is missing", n)
		}
	}
	return nil
}

// TotalOf is the size of the object the parts make.
func TotalOf(parts []Part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	return n
}
