package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file turns grpc-gateway's own request parsing errors (a query
// parameter or a JSON body that does not fit the request message) into
// messages that start with the caller's field name and say what is wanted,
// like the service's own InvalidArgument messages. grpc-gateway's are
// written for a proto programmer ("parsing field \"content_length\":
// strconv.ParseInt: ...", "invalid value for int64 field totalSize").
// Neither grpc-gateway nor protojson exposes these errors as values, so
// this is done here, at their two extension points: the query parameter
// parser and the marshaler's decoder.

// queryParser is grpc-gateway's default query parser, with errors that
// name the query parameter as the caller wrote it.
type queryParser struct{ runtime.DefaultQueryParser }

var _ runtime.QueryParameterParser = (*queryParser)(nil)

// Parse fills msg from values with the default parser. Only when that
// fails does it parse again one parameter at a time, into a scratch
// message, to find the parameter the failure belongs to: a good request
// costs what it did without this parser.
func (p *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	err := p.DefaultQueryParser.Parse(msg, values, filter)
	if err == nil {
		return nil
	}
	for name, vs := range values {
		scratch := msg.ProtoReflect().New().Interface()
		if one := p.DefaultQueryParser.Parse(scratch, url.Values{name: vs}, filter); one != nil {
			return queryError(msg.ProtoReflect().Descriptor(), name, vs, one)
		}
	}
	return err
}

// queryError explains why the query parameter name=vs does not fit.
func queryError(md protoreflect.MessageDescriptor, name string, vs []string, err error) error {
	if len(vs) > 1 && strings.Contains(err.Error(), "too many values") {
		return fmt.Errorf("%s: given %d times; give it once", name, len(vs))
	}
	// The top-level field: "metadata[k]" and "a.b" name field "metadata"
	// and "a".
	top, _, _ := strings.Cut(name, "[")
	top, _, _ = strings.Cut(top, ".")
	fd := md.Fields().ByName(protoreflect.Name(top))
	if fd == nil {
		fd = md.Fields().ByJSONName(top)
	}
	if fd != nil && fd.IsMap() {
		fd = fd.MapValue()
	}
	if fd == nil || len(vs) == 0 {
		return fmt.Errorf("%s: not accepted here", name)
	}
	return fmt.Errorf("%s: %s, not %q", name, wanted(fd), vs[len(vs)-1])
}

// wanted says in a caller's words what values a field takes.
func wanted(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "must be true or false"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "must be a whole number (at most 2147483647)"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "must be a whole number, in digits (no units)"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "must be a whole number of 0 or more"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "must be a number"
	case protoreflect.StringKind:
		return "must be a string"
	case protoreflect.BytesKind:
		return "must be base64"
	case protoreflect.EnumKind:
		return "must be one of the documented values"
	}
	return "has the wrong form"
}

// jsonMarshaler is grpc-gateway's JSONPb whose decoder explains a body
// that does not fit the request in the caller's field names.
type jsonMarshaler struct{ *runtime.JSONPb }

var _ runtime.Marshaler = (*jsonMarshaler)(nil)

// NewDecoder returns a decoder whose errors name the field.
func (m *jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := m.JSONPb.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		err := d.Decode(v)
		if err == nil || errors.Is(err, io.EOF) {
			return err
		}
		msg, ok := v.(proto.Message)
		if !ok {
			return err
		}
		return bodyError(msg.ProtoReflect().Descriptor(), err)
	})
}

var (
	// protojson's messages, for example `proto: (line 1:15): invalid
	// value for int64 field totalSize: "12kb"`.
	invalidValue   = regexp.MustCompile(`invalid value for \w+ field (\w+): (.*)$`)
	duplicateField = regexp.MustCompile(`duplicate field "(\w+)"`)
	// protojson puts a space or, at random, a no-break space after
	// "proto:" to keep callers from matching its messages exactly.
	jsonPosition = regexp.MustCompile(`^proto:[\s\x{00a0}]+(?:syntax error\s*)?\(line \d+:\d+\):\s*`)
)

// bodyError explains why a JSON body does not fit the message md.
func bodyError(md protoreflect.MessageDescriptor, err error) error {
	text := err.Error()
	if m := invalidValue.FindStringSubmatch(text); m != nil {
		if path, fd := fieldByJSONName(md, m[1]); fd != nil {
			return fmt.Errorf("%s: %s, not %s", path, wanted(fd), m[2])
		}
	}
	if m := duplicateField.FindStringSubmatch(text); m != nil {
		if path, fd := fieldByJSONName(md, m[1]); fd != nil {
			return fmt.Errorf("%s: given more than once; give it once", path)
		}
	}
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return fmt.Errorf("request body: larger than %d bytes", tooLarge.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("request body: the JSON ends too early; send one JSON object")
	}
	return fmt.Errorf("request body: not a JSON object of this call's fields (%s)", jsonPosition.ReplaceAllString(text, ""))
}

// fieldByJSONName finds the field protojson calls name (its JSON name or
// proto name) in md or the messages it contains, and returns its path in
// proto names (for example "parts.part_number").
func fieldByJSONName(md protoreflect.MessageDescriptor, name string) (string, protoreflect.FieldDescriptor) {
	return findField(md, name, "", map[protoreflect.FullName]bool{})
}

func findField(md protoreflect.MessageDescriptor, name, prefix string, seen map[protoreflect.FullName]bool) (string, protoreflect.FieldDescriptor) {
	if seen[md.FullName()] {
		return "", nil
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.JSONName() == name || string(fd.Name()) == name {
			return prefix + string(fd.Name()), fd
		}
	}
	for i := range fields.Len() {
		fd := fields.Get(i)
		sub := fd.Message()
		if fd.IsMap() {
			sub = fd.MapValue().Message()
			// A map's values are named "value" by protojson.
			if name == "value" {
				return prefix + string(fd.Name()) + " values", fd.MapValue()
			}
		}
		if sub == nil {
			continue
		}
		if path, found := findField(sub, name, prefix+string(fd.Name())+".", seen); found != nil {
			return path, found
		}
	}
	return "", nil
}
