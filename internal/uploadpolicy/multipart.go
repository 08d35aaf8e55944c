package uploadpolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

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

// UnsizedPartLimit is the most parts an upload without a declared size may
// have under a maximum of maxBytes: every part but the last is at least
// S3's 5 MiB, so an object within maxBytes never needs more.
func UnsizedPartLimit(maxBytes int64) int32 {
	n := (maxBytes + MinPartSize - 1) / MinPartSize
	if n > MaxParts {
		return MaxParts
	}
	return int32(max(n, 1))
}

// ErrOverLimit marks a CheckUnsizedParts failure that no further part can
// mend: the store already holds more than the upload may become.
var ErrOverLimit = errors.New("over the limit")

// CheckUnsizedParts checks the parts (sorted by number, as ListParts
// returns them) of an upload that declared no size
// before they are assembled: parts 1..n with no gap, n at most maxParts,
// every part but the last at least 5 MiB, and a total from minBytes to
// maxBytes. A failure wraps ErrOverLimit when the parts already exceed
// maxBytes or maxParts (the upload can only be aborted); otherwise more or
// other parts could still mend it.
func CheckUnsizedParts(parts []Part, minBytes, maxBytes int64, maxParts int32) error {
	for i := 1; i < len(parts); i++ {
		if parts[i].Number == parts[i-1].Number {
			// Before the total, which would count it twice.
			return fmt.Errorf("part %d is listed twice", parts[i].Number)
		}
	}
	total := TotalOf(parts)
	switch {
	case total > maxBytes:
		return fmt.Errorf("%w: the parts hold %d bytes, over the profile's maximum of %d", ErrOverLimit, total, maxBytes)
	case len(parts) == 0:
		return errors.New("no part has been uploaded")
	case parts[len(parts)-1].Number > maxParts:
		return fmt.Errorf("%w: part %d is over the %d parts an upload of at most %d bytes may have", ErrOverLimit, parts[len(parts)-1].Number, maxParts, maxBytes)
	}
	for i, p := range parts {
		switch {
		case p.Number != int32(i+1):
			return fmt.Errorf("part %d is missing", i+1)
		case i < len(parts)-1 && p.Size < MinPartSize:
			return fmt.Errorf("part %d is %d bytes; every part but the last must be at least %d bytes (5 MiB)", p.Number, p.Size, int64(MinPartSize))
		}
	}
	if total < minBytes {
		return fmt.Errorf("the parts hold %d bytes, under the profile's minimum of %d", total, minBytes)
	}
	return nil
}

// ResolveDuplicates reads a part number a store lists more than once
// (SeaweedFS keeps the entry of an upload aborted mid-way beside the
// part's upload again, and one entry per retry of the same bytes) as one
// part: entries that are the same (size and ETag) are one; otherwise the
// entry whose ETag the client gave for that number (given, may be nil),
// else the one entry of the planned size (length gives it, or a negative
// number when no size is planned). Other duplicates are left for the
// checks to refuse: gatepost does not guess which bytes the client meant.
func ResolveDuplicates(parts []Part, length func(n int32) int64, given map[int32]string) []Part {
	byNumber := make(map[int32][]Part, len(parts))
	var order []int32
	for _, p := range parts {
		if _, seen := byNumber[p.Number]; !seen {
			order = append(order, p.Number)
		}
		if !slices.ContainsFunc(byNumber[p.Number], func(q Part) bool { return q.Size == p.Size && trimETag(q.ETag) == trimETag(p.ETag) }) {
			byNumber[p.Number] = append(byNumber[p.Number], p)
		}
	}
	out := make([]Part, 0, len(parts))
	for _, n := range order {
		entries := byNumber[n]
		if len(entries) > 1 {
			if etag, ok := given[n]; ok {
				if one := onlyOne(entries, func(p Part) bool { return trimETag(p.ETag) == trimETag(etag) }); one != nil {
					entries = []Part{*one}
				}
			} else if want := length(n); want >= 0 {
				if one := onlyOne(entries, func(p Part) bool { return p.Size == want }); one != nil {
					entries = []Part{*one}
				}
			}
		}
		out = append(out, entries...)
	}
	return out
}

// onlyOne returns the one part that matches, or nil for none or several.
func onlyOne(parts []Part, match func(Part) bool) *Part {
	var found *Part
	for i := range parts {
		if match(parts[i]) {
			if found != nil {
				return nil
			}
			found = &parts[i]
		}
	}
	return found
}

// trimETag drops an ETag's quotes.
func trimETag(etag string) string { return strings.Trim(etag, `"`) }
