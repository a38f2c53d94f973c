package docstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// decodeJSON decodes one JSON value, numbers as json.Number, and refuses trailing data; an error
// is an ErrInvalidDocument naming path.
func decodeJSON(raw []byte, path string) (any, error) {
	v, err := decodeJSONText(raw)
	if err != nil {
		return nil, valueError(path, "%v", err)
	}
	return v, nil
}

// decodeJSONText is decodeJSON with an error that says only what is wrong with the text.
func decodeJSONText(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed JSON: data after the value")
	}
	return v, nil
}

// extendedJSON reads the MongoDB Extended JSON forms of the types JSON lacks: {"$date": …},
// {"$binary": {"base64": …, "subType": …}}, {"$uuid": …}, {"$numberLong": …}, {"$numberInt": …}
// and {"$numberDouble": …}. ok is false when key is not one of them.
func extendedJSON(key string, v any, path string) (out any, ok bool, err error) {
	switch key {
	case "$date":
		t, err := extendedDate(v, path)
		return t, true, err
	case "$binary":
		m, isMap := v.(map[string]any)
		b64, _ := m["base64"].(string)
		st, _ := m["subType"].(string)
		if !isMap || len(m) != 2 || b64 == "" && m["base64"] == nil {
			return nil, true, valueError(path, `$binary wants {"base64": "…", "subType": "hex"}`)
		}
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, true, valueError(path, "$binary base64: %v", err)
		}
		sub, err := strconv.ParseUint(st, 16, 8)
		if err != nil {
			return nil, true, valueError(path, "$binary subType %q is not a hex byte", st)
		}
		switch {
		case sub == 0:
			return data, true, nil
		case sub == binarySubtypeUUID && len(data) == 16:
			return uuid.UUID(data), true, nil
		}
		return nil, true, valueError(path, "$binary subtype %02x is not supported (0, and 4 for 16-byte UUIDs)", sub)
	case "$uuid":
		s, _ := v.(string)
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, true, valueError(path, "$uuid %v: %v", v, err)
		}
		return u, true, nil
	case "$numberLong", "$numberInt":
		s, isString := v.(string)
		i, err := strconv.ParseInt(s, 10, 64)
		if !isString || err != nil || key == "$numberInt" && int64(int32(i)) != i {
			return nil, true, valueError(path, "%s %v is not an integer string", key, v)
		}
		return i, true, nil
	case "$numberDouble":
		s, isString := v.(string)
		f, err := strconv.ParseFloat(s, 64)
		if !isString || err != nil {
			return nil, true, valueError(path, "$numberDouble %v is not a finite number string", v)
		}
		out, err := floatValue(f, path)
		return out, true, err
	}
	return nil, false, nil
}

func extendedDate(v any, path string) (time.Time, error) {
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, valueError(path, "$date %q is not an RFC 3339 time", x)
		}
		return dateValue(t), nil
	case json.Number:
		ms, err := x.Int64()
		if err != nil {
			return time.Time{}, valueError(path, "$date %s is not whole milliseconds", x)
		}
		return time.UnixMilli(ms).UTC(), nil
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case map[string]any:
		if s, ok := x["$numberLong"].(string); ok && len(x) == 1 {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err == nil {
				return time.UnixMilli(ms).UTC(), nil
			}
		}
	}
	return time.Time{}, valueError(path, "$date wants an RFC 3339 string or milliseconds, got %v", v)
}

// extended returns v with the types JSON lacks in Extended JSON form (relaxed mode: dates as
// ISO-8601 strings), and floats that hold whole numbers written with a fraction, so that decoding
// the JSON gives back the same types.
func extended(v any) any {
	return transform(v, func(v any) any {
		switch x := v.(type) {
		case float64:
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0"
			}
			return json.Number(s)
		case time.Time:
			return map[string]any{"$date": x.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
		case []byte:
			return map[string]any{"$binary": map[string]any{"base64": base64.StdEncoding.EncodeToString(x), "subType": "00"}}
		case uuid.UUID:
			return map[string]any{"$binary": map[string]any{"base64": base64.StdEncoding.EncodeToString(x[:]), "subType": "04"}}
		}
		return v
	})
}

// marshalExtended writes a normalised value as Extended JSON (relaxed), map keys sorted.
func marshalExtended(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(extended(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Date is a time.Time that a struct stored through encoding/json keeps as a date. A plain
// time.Time field marshals as a string and is stored as one (so a TTL index or a date comparison
// does not see it); a Date field marshals as {"$date": "…"} and is stored as a date. Reading a
// document into a struct, both time.Time and Date fields accept stored dates.
type Date struct{ time.Time }

// MarshalJSON writes {"$date": "<RFC 3339 with milliseconds>"}.
func (d Date) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"$date": d.UTC().Format("2006-01-02T15:04:05.000Z07:00")})
}

// UnmarshalJSON reads an RFC 3339 string or {"$date": …}.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		d.Time = t
		return nil
	}
	v, err := decodeJSON(b, "")
	if err != nil {
		return err
	}
	m, _ := v.(map[string]any)
	if len(m) != 1 || m["$date"] == nil {
		return errors.New(`docstore: Date wants an RFC 3339 string or {"$date": …}`)
	}
	t, err := extendedDate(m["$date"], "")
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

// plainJSON writes a normalised value in the form encoding/json gives Go values (dates as RFC
// 3339 strings, binary as base64, UUIDs as strings), which is what decoding into a struct wants.
func plainJSON(v any) ([]byte, error) { return json.Marshal(v) }
