package docstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaURL is the name the collection's schema is compiled under.
const schemaURL = "docstore://collection/schema.json"

// schemaJSON returns the JSON text of a schema given as text or as a Go value.
func schemaJSON(s any) ([]byte, error) {
	switch x := s.(type) {
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case json.RawMessage:
		return x, nil
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("docstore: encode schema: %v: %w", err, ErrInvalidSchema)
	}
	return raw, nil
}

// compileSchema compiles a JSON Schema. References may only point inside the schema: nothing
// is loaded from files or the network.
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("docstore: schema is not JSON: %v: %w", err, ErrInvalidSchema)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("docstore: schema: %v: %w", err, ErrInvalidSchema)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("docstore: schema: %v: %w", err, ErrInvalidSchema)
	}
	return s, nil
}

// validate checks a whole document against the collection's schema.
func (st *collState) validate(doc map[string]any) error {
	if st.schema == nil {
		return nil
	}
	if err := st.schema.Validate(schemaInstance(doc)); err != nil {
		return fmt.Errorf("docstore: collection %q, document %s: %v: %w", st.meta.Name, formatID(doc["_id"]), err, ErrValidation)
	}
	return nil
}

// schemaInstance converts a document to the JSON value a schema sees: numbers as json.Number,
// dates as RFC 3339 strings (format "date-time"), binary data as base64, UUIDs as strings.
func schemaInstance(v any) any {
	return transform(v, func(v any) any {
		switch x := v.(type) {
		case int64:
			return json.Number(strconv.FormatInt(x, 10))
		case float64:
			return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano)
		case []byte:
			return base64.StdEncoding.EncodeToString(x)
		case uuid.UUID:
			return x.String()
		}
		return v
	})
}
